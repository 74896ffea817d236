"""CallCounter: per-method call counts and the calls in flight of the user's server.

A grpc.ServerInterceptor. Each call to a method the server implements is
counted when it arrives (Status.method_calls), and is "in flight" from then
until the RPC terminates: what a stop's grace waits for. Health and reflection calls are neither counted nor in flight: a
client watching health does not hold up a stop (the C++ server's rule).

    counter = CallCounter()
    counter.install(server)           # any time: before or after start()
    counter.snapshot()                # [("/pkg.Svc/Method", 3), ...] sorted
    counter.await_idle(deadline)      # True once nothing is in flight

install() reaches into grpcio's server object (its interceptor pipeline,
read afresh for every call), because grpc.server() takes interceptors only at
construction and attach() comes later; it is checked against Debian's grpcio
1.51 and raises TypeError on a server object it does not know.
"""

import threading
import time

import grpc

# Methods of services that are not the service under test.
UNCOUNTED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_HANDLER_FACTORIES = {
    (False, False): (grpc.unary_unary_rpc_method_handler, "unary_unary"),
    (False, True): (grpc.unary_stream_rpc_method_handler, "unary_stream"),
    (True, False): (grpc.stream_unary_rpc_method_handler, "stream_unary"),
    (True, True): (grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


class CallCounter(grpc.ServerInterceptor):
    """See the module docstring. Thread-safe."""

    def __init__(self, uncounted_prefixes=UNCOUNTED_PREFIXES):
        """`uncounted_prefixes`: full method names starting with one of these
        are passed through untouched (the default: health and reflection)."""
        self._uncounted = tuple(uncounted_prefixes)
        self._cond = threading.Condition()
        self._calls = {}
        self._in_flight = 0

    def install(self, server):
        """Puts this interceptor first in `server`'s pipeline (it then sees every
        call, also those the server's own interceptors refuse). Raises
        TypeError for a server object this grpcio version does not have."""
        from grpc import _interceptor  # grpcio's own pipeline type.

        state = getattr(server, "_state", None)
        if state is None or not hasattr(state, "interceptor_pipeline"):
            raise TypeError("%r is not a server object of grpcio %s as this module knows it (no "
                            "_state.interceptor_pipeline)" % (server, grpc.__version__))
        with state.lock:
            current = state.interceptor_pipeline
            others = tuple(current.interceptors) if current is not None else ()
            if self not in others:
                state.interceptor_pipeline = _interceptor.service_pipeline((self,) + others)

    def snapshot(self):
        """(method, calls) for every method called so far, sorted by method."""
        with self._cond:
            return sorted(self._calls.items())

    @property
    def in_flight(self):
        with self._cond:
            return self._in_flight

    def await_idle(self, deadline):
        """Blocks until no call is in flight or time.monotonic() passes
        `deadline()` (a callable: a stop deadline can move forward; wake() makes
        it looked at again). True if idle."""
        with self._cond:
            while self._in_flight > 0:
                remaining = deadline() - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def wake(self):
        """Wakes await_idle() to look at its deadline again."""
        with self._cond:
            self._cond.notify_all()

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or (self._uncounted and method.startswith(self._uncounted)):
            return handler
        with self._cond:
            self._calls[method] = self._calls.get(method, 0) + 1
            self._in_flight += 1
        factory, kind = _HANDLER_FACTORIES[(handler.request_streaming, handler.response_streaming)]
        return factory(self._until_terminated(getattr(handler, kind)),
                       request_deserializer=handler.request_deserializer,
                       response_serializer=handler.response_serializer)

    def _until_terminated(self, behavior):
        # In flight from its arrival until the RPC terminates (for a streaming
        # reply, after its last message), however it ends. A call cancelled
        # before its handler started (grpcio then never runs it) stays counted:
        # a stop then waits for its grace.
        def counted(request, context):
            if not context.add_callback(self._end):
                self._end()
            return behavior(request, context)

        return counted

    def _end(self):
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()
