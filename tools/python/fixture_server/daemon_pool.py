"""DaemonPool: the executor of the control server, on daemon threads.

grpc.server() takes any object with concurrent.futures' submit(). The
standard ThreadPoolExecutor's workers are joined when the interpreter exits,
so one control call still open then (a Watch stream, a WaitReady) would keep
a Python server that raised or returned from ever exiting; daemon workers
never hold the process. Workers start on demand, up to `max_workers`; work
beyond that waits in order.

    pool = DaemonPool(max_workers=16, name="fixture-control")
    server = grpc.server(pool)
"""

import collections
import concurrent.futures
import threading


class DaemonPool:
    """See the module docstring. Thread-safe."""

    def __init__(self, max_workers, name="daemon-pool"):
        self._max_workers = max_workers
        self._name = name
        self._cond = threading.Condition()
        self._work = collections.deque()
        self._workers = 0
        self._idle = 0

    def submit(self, fn, *args, **kwargs):
        """Runs fn(*args, **kwargs) on a worker; its concurrent.futures.Future."""
        future = concurrent.futures.Future()
        with self._cond:
            self._work.append((future, fn, args, kwargs))
            # More work waiting than idle workers to take it: one more worker.
            if len(self._work) > self._idle and self._workers < self._max_workers:
                self._workers += 1
                threading.Thread(target=self._run, name="%s-%d" % (self._name, self._workers), daemon=True).start()
            self._cond.notify()
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        """Nothing to join: the workers are daemons and idle ones cost nothing."""

    def _run(self):
        while True:
            with self._cond:
                self._idle += 1
                while not self._work:
                    self._cond.wait()
                self._idle -= 1
                future, fn, args, kwargs = self._work.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # pylint: disable=broad-except
                future.set_exception(error)
            else:
                future.set_result(result)
