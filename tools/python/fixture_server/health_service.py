"""HealthService: grpc.health.v1.Health for the control socket, following the lifecycle.

Debian ships python3-grpcio without grpcio-health-checking, so this serves
the protocol from the generated code of third_party/grpc_health. The overall
service "" is SERVING while the lifecycle is SERVING and NOT_SERVING before
(STARTING) and from the start of a stop (DRAINING, STOPPING), as the C++
servers' control sockets say; any other service name is unknown (Check:
NOT_FOUND, Watch: SERVICE_UNKNOWN). Watch sends the current status, then each
change, and ends when the server reaches STOPPING.

    health_pb2_grpc.add_HealthServicer_to_server(HealthService(lifecycle), control_server)
"""

import grpc

from fixture.proto import control_pb2
from fixture.third_party.grpc_health import health_pb2
from fixture.third_party.grpc_health import health_pb2_grpc

from fixture_server.lifecycle import cancellation

_Status = health_pb2.HealthCheckResponse


def _status_of(state):
    return _Status.SERVING if state == control_pb2.SERVING else _Status.NOT_SERVING


class HealthService(health_pb2_grpc.HealthServicer):
    """See the module docstring."""

    def __init__(self, lifecycle):
        self._lifecycle = lifecycle

    def Check(self, request, context):
        if request.service:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)
        return _Status(status=_status_of(self._lifecycle.state))

    def Watch(self, request, context):
        if request.service:
            yield _Status(status=_Status.SERVICE_UNKNOWN)
            return
        cancelled = cancellation(context, self._lifecycle)
        history = self._lifecycle.history()
        seen = len(history)
        sent = _status_of(history[-1][0])
        yield _Status(status=sent)
        while True:
            changes = self._lifecycle.await_history(seen, cancelled=cancelled)
            if cancelled():
                return
            seen += len(changes)
            state = changes[-1][0]
            if _status_of(state) != sent:
                sent = _status_of(state)
                yield _Status(status=sent)
            if state == control_pb2.STOPPING:
                return
