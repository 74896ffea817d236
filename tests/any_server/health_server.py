"""A grpcio server with the standard health service and nothing of this
toolkit: it reports NOT_SERVING while it "loads", then SERVING.

Usage: health_server.py PORT [LOAD_SECONDS]   (Debian's python3-grpcio)
"""
import signal
import sys
import threading
from concurrent import futures

import grpc

from fixture.third_party.grpc_health import health_pb2
from fixture.third_party.grpc_health import health_pb2_grpc


class Health(health_pb2_grpc.HealthServicer):
    def __init__(self):
        self._status = health_pb2.HealthCheckResponse.NOT_SERVING
        self._changed = threading.Condition()

    def set(self, status):
        with self._changed:
            self._status = status
            self._changed.notify_all()

    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=self._status)

    def Watch(self, request, context):
        last = None
        while context.is_active():
            with self._changed:
                if self._status == last:
                    self._changed.wait(0.5)
                    continue
                last = self._status
            yield health_pb2.HealthCheckResponse(status=last)


def main():
    port = int(sys.argv[1])
    load = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    health = Health()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if load >= 0:
        threading.Timer(load, health.set, [health_pb2.HealthCheckResponse.SERVING]).start()
    done.wait()
    server.stop(0.2).wait()


if __name__ == "__main__":
    main()
