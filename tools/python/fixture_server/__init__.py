"""fixture_server: the launch protocol (proto/launch.proto) for a Python grpcio server.

Three lines make a `grpc.server(...)` a fixture server, started by
fixture::Fixture, `fixturectl run` or the fixture_test macro like any server
built on the C++ server/ library:

    import fixture_server

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    kv_pb2_grpc.add_KeyValueServicer_to_server(KeyValue(), server)
    attached = fixture_server.attach(server)             # 1: before or after add_insecure_port
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    attached.serving({"grpc": port})                      # 2: the endpoints really bound
    attached.wait()                                       # 3: or server.wait_for_termination()

(or `attached = fixture_server.serving(server, {"grpc": port})`, one call
after server.start()). Under a fixture (FIXTURE_CONTROL_ADDRESS and
FIXTURE_READY_FD in the environment), attach():
  - serves fixture.v1.FixtureControl (GetStatus with pid, state, name, start
    time, uptime, endpoints, labels and the per-method calls of `server`,
    counted by an interceptor; WaitReady; Shutdown; Watch),
    grpc.health.v1.Health and server reflection on the control socket (0600);
  - asks for SIGTERM when the process that started it dies
    (PR_SET_PDEATHSIG), and makes the readiness pipe close-on-exec;
  - takes control Shutdown, SIGTERM and SIGINT (unless SIGINT was ignored at
    start) to mean one bounded stop: the state is DRAINING and the control
    socket's health NOT_SERVING at once, `server` still takes new calls for
    the Shutdown's drain (none for a signal, which ends a drain under way),
    then refuses them, calls in
    flight get the grace (the Shutdown's, or `signal_grace`), then what is
    left is cancelled, the control socket goes away, and the program's
    wait() / server.wait_for_termination() returns, so main() ends and the
    process exits 0. Still running 2 s after the stop deadline: exit status 3.
serving() writes the ReadyNotice frame (pid, endpoints) on FIXTURE_READY_FD
in one write and keeps the descriptor open until the process exits; the
server is SERVING from then on. A program that raises or returns before
serving() exits as Python does (the parent reports it at once, with the
traceback from stderr); the control socket is removed on the way out.

Outside a fixture attach() does nothing: serving() returns, wait() is
server.wait_for_termination(), signals keep Python's defaults.

Runs on /usr/bin/python3 with Debian's python3-grpcio (1.51): health and
reflection are served from the generated code of third_party/, as Debian has
neither grpcio-health-checking nor grpcio-reflection.
"""

import atexit
import os
import re
import signal
import sys
import threading
import time

import grpc

from fixture.proto import control_pb2
from fixture.proto import control_pb2_grpc
from fixture.third_party.grpc_health import health_pb2_grpc
from fixture.third_party.grpc_reflection import reflection_pb2_grpc

from fixture_server import launch
from fixture_server.call_counter import CallCounter
from fixture_server.control_service import ControlService
from fixture_server.control_service import format_seconds
from fixture_server.daemon_pool import DaemonPool
from fixture_server.health_service import HealthService
from fixture_server.lifecycle import Lifecycle
from fixture_server.reflection_service import ReflectionService

# launch/defaults.h: kDefaultGrace.
DEFAULT_GRACE = 0.2
# server/server.h: RunOptions.stuck_timeout, and the exit statuses.
STUCK_TIMEOUT = 2.0
EXIT_BAD_LAUNCH = 2
EXIT_STUCK = 3

# server/server_process.cc: the control socket takes small requests only, and
# gets this long to finish after the service under test stopped (Watch
# streams end then and their clients read the end).
_CONTROL_MAX_MESSAGE_BYTES = 64 * 1024
_CONTROL_SHUTDOWN_GRACE = 0.1
_CONTROL_WORKERS = 16
# How long `server` may take to terminate once its calls were cancelled.
_TERMINATION_BOUND = 1.0
# launch/socket_path.h: kPrivateDirPrefix.
_PRIVATE_DIR_PREFIX = "fixture-"

_ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def attach(server, labels=None, signal_grace=DEFAULT_GRACE, handle_signals=True):
    """Puts `server` (a grpc.server(...), started or not) under the fixture
    that launched this process; an Attached. See the module docstring.

    `labels` ({str: str}) appear in Status.labels; `signal_grace` is the
    grace in seconds of a stop by SIGINT/SIGTERM; `handle_signals=False`
    leaves signals alone (the program handles them and calls stop()). Call it
    from the main thread (signal handlers can only be set there). Under a
    malformed launch environment it says why on stderr and exits with status
    2; if the control socket cannot be served, likewise.
    """
    try:
        environment = launch.LaunchEnvironment.from_environ()
    except launch.BadLaunch as bad:
        _log("", "bad launch environment: %s" % bad)
        sys.exit(EXIT_BAD_LAUNCH)
    if environment is None:
        return Attached(server, None)
    attached = Attached(server, environment, labels or {}, signal_grace)
    attached._start(handle_signals)
    return attached


def serving(server, endpoints, **kwargs):
    """attach(server, **kwargs) then serving(endpoints), in one call after
    server.start(); the Attached."""
    attached = attach(server, **kwargs)
    attached.serving(endpoints)
    return attached


def _log(name, message):
    # server/log.h's format: `fixture server "kv" [4242]: message`.
    prefix = 'fixture server %s[%d]: ' % ('"%s" ' % name if name else "", os.getpid())
    sys.stderr.write(prefix + message + "\n")
    sys.stderr.flush()


def _endpoint(name, value):
    """control_pb2.Endpoint for serving()'s `name: value`; ValueError if bad."""
    if not _ENDPOINT_NAME.match(name):
        raise ValueError('endpoint name "%s": use letters, digits and _' % name)
    if name.lower() in ("control", "pid"):
        raise ValueError('endpoint name "%s": reserved (FIXTURE_<NAME>_CONTROL and FIXTURE_<NAME>_PID are the '
                         "server's control address and pid); choose another name" % name)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 65536:
            raise ValueError('endpoint "%s": port %d: give the port add_insecure_port() returned' % (name, value))
        return control_pb2.Endpoint(name=name, address="127.0.0.1:%d" % value, port=value)
    if isinstance(value, str):
        if value.startswith("unix:"):
            return control_pb2.Endpoint(name=name, address=value, port=0)
        host, _, port = value.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return control_pb2.Endpoint(name=name, address=value, port=int(port))
    raise ValueError('endpoint "%s": %r is neither a bound port, "host:port" nor "unix:path"' % (name, value))


class Attached:
    """A server under (or, outside a fixture, not under) a fixture's control.

    Made by attach(); its methods may be called from any thread.
    """

    def __init__(self, server, environment, labels=None, signal_grace=DEFAULT_GRACE):
        self._server = server
        self._environment = environment
        self._stopped = threading.Event()  # The stop sequence is done.
        self._ready_or_gave_up = threading.Event()  # serving() ran, or the program is exiting.
        if environment is None:
            return
        self._signal_grace = signal_grace
        self._lifecycle = Lifecycle()
        self._counter = CallCounter()
        self._control_calls = CallCounter(uncounted_prefixes=())
        self._control = ControlService(self._lifecycle, self._counter, environment.name, on_stop=self._counter.wake)
        self._control.set_labels(labels or {})
        self._control_server = None
        self._parent = None
        self._handled_signals = []

    @property
    def active(self):
        """Whether this process runs under a fixture."""
        return self._environment is not None

    @property
    def name(self):
        """The name the parent gave this server (FIXTURE_NAME); "" outside a fixture."""
        return self._environment.name if self.active else ""

    @property
    def state(self):
        """The lifecycle state (control_pb2.State); None outside a fixture."""
        return self._lifecycle.state if self.active else None

    def serving(self, endpoints):
        """Reports `server` ready with `endpoints`: {name: port} for 127.0.0.1
        (the int add_insecure_port() returned), or {name: "host:port"} /
        {name: "unix:/path"}, in the order given. Names are letters, digits and
        _ ("control" and "pid" are reserved); ValueError otherwise. Writes the
        ReadyNotice; SERVING from then on. If a stop came first, stops `server`
        instead (it never reports ready). Outside a fixture: nothing."""
        bound = [_endpoint(name, value) for name, value in dict(endpoints).items()]
        if not self.active:
            return
        self._control.set_endpoints(bound)
        if self._lifecycle.advance(control_pb2.SERVING):
            self._announce(bound)
        self._ready_or_gave_up.set()

    def stop(self, grace=DEFAULT_GRACE, drain=0):
        """Starts the bounded stop from the program itself (as control Shutdown
        does, with `drain` seconds of new calls still taken, then `grace`
        seconds for the calls in flight); returns at once. Outside a fixture:
        server.stop(grace), no drain."""
        if not self.active:
            self._server.stop(grace)
            return
        self._lifecycle.request_stop(grace, drain)
        self._counter.wake()

    def wait(self, timeout=None):
        """Blocks until the stop is done (`server` terminated, the control socket
        gone), or `timeout` seconds; whether it is done. Also ends the stop when
        the program stopped `server` itself. Outside a fixture:
        server.wait_for_termination(timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # grpcio's wait_for_termination() returns whether it timed out.
        if self._server.wait_for_termination(timeout):
            return False
        if not self.active:
            return True
        # Terminated by the program itself, not by a stop: then stop the rest.
        if not self._lifecycle.stop_requested:
            self.stop(0)
        return self._stopped.wait(None if deadline is None else max(deadline - time.monotonic(), 0))

    # The rest runs under a fixture only.

    def _start(self, handle_signals):
        environment = self._environment
        try:
            self._parent = launch.ask_for_parent_death_signal()
        except OSError as error:
            _log(self.name, str(error))
        # Nothing this process starts may hold the readiness pipe: its EOF must
        # mean that this process is gone.
        if environment.ready_fd >= 0:
            os.set_inheritable(environment.ready_fd, False)
        try:
            self._counter.install(self._server)
        except TypeError as error:
            _log(self.name, "calls are not counted: %s" % error)
        self._serve_control()
        if handle_signals:
            self._handle_signals()
        threading.Thread(target=self._stop_sequence, name="fixture-stop", daemon=True).start()
        threading.Thread(target=self._watchdog, name="fixture-watchdog", daemon=True).start()
        atexit.register(self._at_exit)

    def _serve_control(self):
        address = self._environment.control_address
        server = grpc.server(DaemonPool(_CONTROL_WORKERS, name="fixture-control"),
                             interceptors=[self._control_calls],
                             options=[("grpc.max_receive_message_length", _CONTROL_MAX_MESSAGE_BYTES)])
        control_pb2_grpc.add_FixtureControlServicer_to_server(self._control, server)
        health_pb2_grpc.add_HealthServicer_to_server(HealthService(self._lifecycle), server)
        services = [
            control_pb2.DESCRIPTOR.services_by_name["FixtureControl"].full_name,
            "grpc.health.v1.Health",
            ReflectionService.NAME,
        ]
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(ReflectionService(services), server)
        try:
            server.add_insecure_port(address)
            server.start()
        except RuntimeError as error:
            _log(self.name, "cannot serve control on %s (the directory must exist and the path fit in 107 bytes): %s"
                 % (address, error))
            sys.exit(EXIT_BAD_LAUNCH)
        self._control_server = server
        # The directory is 0700 already; the socket itself is the owner's alone too.
        try:
            os.chmod(self._environment.socket_path, 0o600)
        except OSError as error:
            _log(self.name, "chmod(%s, 0600): %s" % (self._environment.socket_path, error.strerror))

    def _handle_signals(self):
        if threading.current_thread() is not threading.main_thread():
            _log(self.name, "SIGINT and SIGTERM are not handled: attach() was called off the main thread")
            return
        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.set_blocking(read_end, True)
        wanted = [signal.SIGTERM]
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            wanted.append(signal.SIGINT)

        # Python runs this in the main thread when that next runs Python code
        # (at once when it waits in wait() or server.wait_for_termination());
        # it only writes to the pipe: no lock is taken in a signal handler.
        def on_signal(signum, frame):
            del frame
            try:
                os.write(write_end, bytes([signum]))
            except OSError:
                pass  # Full: a stop is requested already.

        for signum in wanted:
            signal.signal(signum, on_signal)
        self._handled_signals = wanted
        threading.Thread(target=self._take_signals, args=(read_end,), name="fixture-signals",
                         daemon=True).start()

    def _take_signals(self, read_end):
        while True:
            for signum in os.read(read_end, 64):
                first = self._lifecycle.request_stop(self._signal_grace)
                self._counter.wake()
                _log(self.name, "%s received: %s (grace %s)" % (signal.Signals(signum).name,
                                                                "stopping" if first else "already stopping",
                                                                format_seconds(self._signal_grace)))

    def _announce(self, bound):
        ready_fd = self._environment.ready_fd
        if ready_fd < 0:
            _log(self.name, "serving:%s" % "".join(" %s=%s" % (e.name, e.address) for e in bound))
            return
        try:
            launch.write_ready_notice(ready_fd, os.getpid(), bound)
        except (OSError, ValueError) as error:
            _log(self.name, "cannot report readiness: %s" % error)
        # Kept open (close-on-exec) until exit, so that its EOF tells the
        # parent this process is gone.

    def _stop_sequence(self):
        self._lifecycle.await_stop_request()
        # A stop while the program still sets up (before serving()): the
        # program goes on until it reports ready or exits; then `server` stops.
        self._ready_or_gave_up.wait()
        # The drain: `server` goes on taking calls while clients move away.
        self._lifecycle.await_drain_end()
        try:
            self._stop_server()
        except Exception as error:  # pylint: disable=broad-except
            _log(self.name, "stopping the server: %r" % error)
        # Control calls open now are streams (Watch) that end with STOPPING:
        # their clients get a moment to read the end before the connections
        # are dropped. The streams' last frames go out before the GOAWAY (its
        # ping is acked by a client that read them); then the connections get
        # the rest of the grace to close. Shutting down at once instead lets a
        # client that is still reading (and writing flow-control updates) fail
        # with UNAVAILABLE "Broken pipe" and lose the end of its stream.
        streams_ending = self._control_calls.in_flight > 0
        self._lifecycle.advance(control_pb2.STOPPING)
        grace = 0
        if streams_ending:
            until = time.monotonic() + _CONTROL_SHUTDOWN_GRACE
            self._control_calls.await_idle(lambda: until)
            grace = max(until - time.monotonic(), 0)
        try:
            self._shutdown_control(grace)
        except Exception as error:  # pylint: disable=broad-except
            _log(self.name, "stopping the control server: %r" % error)
        self._stopped.set()

    def _stop_server(self):
        """Refuses new calls, gives those in flight until the stop deadline
        (as later requests move it), then cancels the rest; returns once
        `server` terminated, or _TERMINATION_BOUND after the cancel."""
        deadline = self._lifecycle.stop_deadline
        # New calls are refused from now on (GOAWAY); calls in flight get until
        # the deadline (grpcio cancels them at the grace given here at the latest).
        self._server.stop(max(deadline() - time.monotonic(), 0))
        self._counter.await_idle(deadline)
        # Cancel what is left and drop the connections now, rather than wait for
        # clients that keep their channels open.
        terminated = self._server.stop(0)
        if not terminated.wait(_TERMINATION_BOUND):
            _log(self.name, "the server did not terminate within %s of cancelling its calls"
                 % format_seconds(_TERMINATION_BOUND))

    def _shutdown_control(self, grace):
        self._control_server.stop(grace).wait(grace + _TERMINATION_BOUND)
        path = self._environment.socket_path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        # The parent made a private directory for this socket alone and removes
        # it too; removing it here as well means nothing is left behind even
        # when the parent was killed. rmdir(2) only removes an empty directory.
        directory = os.path.dirname(path)
        if os.path.basename(directory).startswith(_PRIVATE_DIR_PREFIX):
            try:
                os.rmdir(directory)
            except OSError:
                pass

    def _watchdog(self):
        deadline = self._lifecycle.await_stop_request()
        if self._stopped.wait(max(deadline - time.monotonic(), 0) + STUCK_TIMEOUT):
            return
        _log(self.name, "still running %s after the stop deadline (state %s): exiting with status %d"
             % (format_seconds(STUCK_TIMEOUT), control_pb2.State.Name(self._lifecycle.state), EXIT_STUCK))
        os._exit(EXIT_STUCK)

    def _at_exit(self):
        # The program returned or raised: whatever it did not stop is stopped now.
        if not self._lifecycle.stop_requested:
            self._lifecycle.request_stop(0)
        self._ready_or_gave_up.set()
        self._stopped.wait(STUCK_TIMEOUT + _TERMINATION_BOUND)
        # The interpreter's finalization sets Python-level handlers back to
        # SIG_DFL: a stop signal arriving then (the parent signals the process
        # and then its group; a SIGINT step after a slow exit) would kill a
        # process that has stopped cleanly. The stop is done: ignore them.
        for signum in self._handled_signals:
            signal.signal(signum, signal.SIG_IGN)
        if self._parent is not None and os.getppid() != self._parent:
            launch.end_orphaned_group(lambda message: _log(self.name, message))
