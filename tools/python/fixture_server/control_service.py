"""ControlService: fixture.v1.FixtureControl (proto/control.proto) for a Python server.

The Python twin of server/control_service.cc, with the same answers and
errors: WaitReady (DEADLINE_EXCEEDED, FAILED_PRECONDITION once stopping),
GetStatus (pid, state, name, start time, uptime, endpoints, labels,
per-method calls of the service under test), Shutdown (grace and drain
each between 0 and 1 h, INVALID_ARGUMENT naming the field otherwise; a second
call is no error) and Watch (the
current state first, then each change, OK after STOPPING).

    control = ControlService(lifecycle, counter, name="kv", on_stop=stopper.wake)
    control.set_endpoints([control_pb2.Endpoint(name="grpc", address=..., port=...)])
    control_pb2_grpc.add_FixtureControlServicer_to_server(control, control_server)
"""

import os
import threading
import time

import grpc

from fixture.proto import control_pb2
from fixture.proto import control_pb2_grpc

from fixture_server.lifecycle import cancellation

# The longest grace period or wait a request may ask for (server/control_service.cc).
MAX_REQUEST_SECONDS = 3600.0


def _number(value):
    return ("%.9f" % value).rstrip("0").rstrip(".")


def format_seconds(seconds):
    """Seconds as abseil's FormatDuration writes them: 0, 1ns, 1.5ms, 200ms,
    -1s, 1m30s, 2h, 1h1s."""
    if seconds < 0:
        return "-" + format_seconds(-seconds)
    if seconds == 0:
        return "0"
    for unit, size in (("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3)):
        if seconds < size * 1000:
            return _number(seconds / size) + unit
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    text = "%dh" % hours if hours else ""
    text += "%dm" % minutes if minutes else ""
    rest = round(rest, 9)
    return text + (_number(rest) + "s" if rest else "")


def duration_seconds(duration, field):
    """A google.protobuf.Duration request field in seconds, or raises
    ValueError with the message for INVALID_ARGUMENT (malformed, negative or
    over 1 h)."""
    seconds, nanos = duration.seconds, duration.nanos
    if not -1e9 < nanos < 1e9 or (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
        raise ValueError("%s: malformed Duration {seconds: %d, nanos: %d}" % (field, seconds, nanos))
    value = seconds + nanos / 1e9
    if value < 0:
        raise ValueError("%s: must not be negative, got %s" % (field, format_seconds(value)))
    if value > MAX_REQUEST_SECONDS:
        raise ValueError("%s: at most %s, got %s" % (field, format_seconds(MAX_REQUEST_SECONDS), format_seconds(value)))
    return value


def _timestamp(seconds):
    from google.protobuf import timestamp_pb2

    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


class ControlService(control_pb2_grpc.FixtureControlServicer):
    """See the module docstring. `on_stop` is called after each Shutdown's
    request_stop (it wakes the stopper's wait for calls in flight)."""

    def __init__(self, lifecycle, counter, name="", on_stop=None):
        self._lifecycle = lifecycle
        self._counter = counter
        self._name = name
        self._on_stop = on_stop
        self._lock = threading.Lock()
        self._endpoints = []
        self._labels = {}

    def set_endpoints(self, endpoints):
        with self._lock:
            self._endpoints = list(endpoints)

    def set_labels(self, labels):
        with self._lock:
            self._labels = dict(labels)

    def current_status(self):
        status = control_pb2.Status(pid=os.getpid(), state=self._lifecycle.state, name=self._name)
        status.start_time.CopyFrom(_timestamp(self._lifecycle.start_time))
        status.uptime.FromNanoseconds(int(self._lifecycle.uptime() * 1e9))
        with self._lock:
            status.endpoints.extend(self._endpoints)
            status.labels.update(self._labels)
        for method, calls in self._counter.snapshot():
            status.method_calls.add(method=method, calls=calls)
        return status

    def WaitReady(self, request, context):
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        if request.HasField("timeout"):
            try:
                timeout = duration_seconds(request.timeout, "timeout")
            except ValueError as bad:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(bad))
            until = time.monotonic() + timeout
            deadline = until if deadline is None else min(deadline, until)
        state = self._lifecycle.await_at_least(control_pb2.SERVING, deadline, cancellation(context, self._lifecycle))
        if state == control_pb2.SERVING:
            return control_pb2.WaitReadyResponse(status=self.current_status())
        if state > control_pb2.SERVING:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          "the server is %s and will not become ready" % control_pb2.State.Name(state))
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                      "the server is still %s at the deadline" % control_pb2.State.Name(state))

    def GetStatus(self, request, context):
        return self.current_status()

    def Shutdown(self, request, context):
        try:
            grace = duration_seconds(request.grace, "grace")
            drain = duration_seconds(request.drain, "drain")
        except ValueError as bad:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(bad))
        initiated = self._lifecycle.request_stop(grace, drain)
        if self._on_stop is not None:
            self._on_stop()
        return control_pb2.ShutdownResponse(initiated=initiated, state=self._lifecycle.state)

    def Watch(self, request, context):
        cancelled = cancellation(context, self._lifecycle)
        # The first message is the current state (the latest transition).
        seen = len(self._lifecycle.history()) - 1
        while True:
            changes = self._lifecycle.await_history(seen, cancelled=cancelled)
            if cancelled():
                return
            for state, when in changes:
                yield control_pb2.StateChange(state=state, time=_timestamp(when))
                if state == control_pb2.STOPPING:
                    return
            seen += len(changes)
