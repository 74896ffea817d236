"""Lifecycle: the state of a fixture server, STARTING -> SERVING -> DRAINING -> STOPPING.

Shared by the user's main thread (serving()), the control service, the health
service, the signal thread and the stopper; the Python twin of
server/lifecycle.h. States only move forward; every transition is kept with
its wall-clock time, so a watcher that falls behind still sees each one in
order. A stop request is separate from the state: it records the earliest
end of the drain and the earliest deadline any requester asked for and wakes
whoever waits for them.

    lifecycle = Lifecycle()
    lifecycle.advance(control_pb2.SERVING)
    # control thread:
    lifecycle.request_stop(0.2, drain=2)
    # stopper thread:
    lifecycle.await_stop_request()                 # health NOT_SERVING now
    deadline = lifecycle.await_drain_end()         # time.monotonic() value; refuse new calls now

Every wait takes a `deadline` on the time.monotonic() clock (None: no
deadline) and an optional `cancelled` callable, evaluated under the lock,
that ends the wait early; whoever makes `cancelled` true calls wake().
cancellation(context, lifecycle) makes one for a gRPC call: true once the
call is over.
"""

import math
import threading
import time

from fixture.proto import control_pb2


def _remaining(deadline):
    """Seconds until `deadline` (monotonic), None for no deadline."""
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class Lifecycle:
    """See the module docstring. Thread-safe."""

    def __init__(self):
        self.start_time = time.time()  # Wall clock: Status.start_time.
        self._start_monotonic = time.monotonic()
        self._cond = threading.Condition()
        self._history = [(control_pb2.STARTING, self.start_time)]
        self._stop_requested = False
        self._drain_end = math.inf
        self._stop_deadline = math.inf

    def uptime(self):
        """Seconds since the lifecycle began, on the monotonic clock."""
        return time.monotonic() - self._start_monotonic

    @property
    def state(self):
        with self._cond:
            return self._history[-1][0]

    def history(self):
        """Every transition so far as (state, wall time), STARTING first."""
        with self._cond:
            return list(self._history)

    def advance(self, state):
        """Moves to `state` if it is later than the current one; whether it did."""
        with self._cond:
            if state <= self._history[-1][0]:
                return False
            self._history.append((state, time.time()))
            self._cond.notify_all()
            return True

    def request_stop(self, grace, drain=0.0):
        """Asks for a stop: new calls are still taken for `drain` seconds, then
        refused, and calls in flight get `grace` seconds more.

        A SERVING server moves to DRAINING at once, a STARTING one to STOPPING
        (it will never serve, so its drain ends at once). True for the first
        request; each later one can only bring forward the end of the drain
        (to now + drain) and the deadline (to now + drain + grace).
        """
        with self._cond:
            first = not self._stop_requested
            self._stop_requested = True
            current = self._history[-1][0]
            if current == control_pb2.STARTING:
                drain = 0.0  # Nobody to move away.
            now = time.monotonic()
            self._drain_end = min(self._drain_end, now + drain)
            self._stop_deadline = min(self._stop_deadline, now + drain + grace)
            if current == control_pb2.SERVING:
                self._history.append((control_pb2.DRAINING, time.time()))
            elif current == control_pb2.STARTING:
                self._history.append((control_pb2.STOPPING, time.time()))
            self._cond.notify_all()
            return first

    @property
    def stop_requested(self):
        with self._cond:
            return self._stop_requested

    def stop_deadline(self):
        """The earliest stop deadline asked for (monotonic); math.inf before any."""
        with self._cond:
            return self._stop_deadline

    def await_stop_request(self):
        """Blocks until a stop is requested; returns its deadline (monotonic)."""
        with self._cond:
            self._cond.wait_for(lambda: self._stop_requested)
            return self._stop_deadline

    def await_drain_end(self):
        """Blocks until a stop is requested and its drain is over (its end,
        however later requests moved it, has passed); returns the deadline
        (monotonic)."""
        with self._cond:
            self._cond.wait_for(lambda: self._stop_requested)
            while True:
                remaining = self._drain_end - time.monotonic()
                if remaining <= 0:
                    return self._stop_deadline
                self._cond.wait(remaining)  # request_stop() wakes it when the end moves.

    def await_at_least(self, state, deadline=None, cancelled=None):
        """Blocks until the state is at least `state`, the deadline passes or
        `cancelled()` holds; returns the state then."""
        with self._cond:
            self._wait(lambda: self._history[-1][0] >= state, deadline, cancelled)
            return self._history[-1][0]

    def await_history(self, seen, deadline=None, cancelled=None):
        """The transitions after the first `seen`, blocking until there is one
        (empty if the deadline passed or `cancelled()` held first)."""
        with self._cond:
            self._wait(lambda: len(self._history) > seen, deadline, cancelled)
            return self._history[seen:]

    def wake(self):
        """Wakes every waiter, to look at its `cancelled` again."""
        with self._cond:
            self._cond.notify_all()

    def _wait(self, ready, deadline, cancelled):
        def done():
            return ready() or (cancelled is not None and cancelled())

        while not done():
            remaining = _remaining(deadline)
            if remaining == 0.0:
                return
            self._cond.wait(remaining)


def cancellation(context, lifecycle):
    """A callable that turns true once the call is over (the client went away,
    or its deadline passed); waiters on `lifecycle` are woken then."""
    over = threading.Event()

    def end():
        over.set()
        lifecycle.wake()

    if not context.add_callback(end):
        over.set()
    return over.is_set
