"""Python access to fixture servers started by `fixturectl run` or fixture_test.

    import fixture_client
    kv = fixture_client.server("kv")            # from FIXTURE_KV_* variables
    status = kv.status()                          # fixture.v1.Status
    channel = kv.channel("grpc")                  # to the service under test
    kv.shutdown(grace_seconds=0.2)

    # Faults (FixtureControl.InjectFault): the next 2 Puts fail UNAVAILABLE.
    fault_id = kv.inject_fault("/fixture.example.v1.KeyValue/Put",
                               code=grpc.StatusCode.UNAVAILABLE, count=2)
    [f.hits for f in kv.list_faults()]
    kv.clear_faults(fault_id)                     # or kv.clear_faults() for all

    # Between tests: the server's reset hook, then call counts and faults cleared.
    kv.reset()

    # Its process, through `fixturectl run`'s supervisor (FIXTURE_SUPERVISOR):
    reply = kv.restart()     # a new process on the same addresses; reply.pid
    kv.kill(signal.SIGKILL)  # a crash (not a failure of the run)
    kv.pause(); kv.resume()  # SIGSTOP (a server that hangs), SIGCONT

The control stubs are generated in Bazel from proto/control.proto with Debian's
grpc_python_plugin; they run on /usr/bin/python3 with Debian's python3-grpcio.
"""

import os
import re

import grpc
from google.protobuf import duration_pb2

from fixture.proto import control_pb2
from fixture.proto import control_pb2_grpc
from fixture.proto import supervisor_pb2
from fixture.proto import supervisor_pb2_grpc


def _env_name(name):
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def _duration(seconds):
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


class Server:
    """A fixture server, known by its environment variables."""

    def __init__(self, name=None, environ=None):
        environ = os.environ if environ is None else environ
        if name is None:
            self.name = (environ.get("FIXTURE_SERVERS", "").split() or [""])[0]
            key = "FIXTURE_CONTROL"
        else:
            self.name = name
            key = "FIXTURE_%s_CONTROL" % _env_name(name)
        if key not in environ:
            raise LookupError(
                "%s is not set: run this under `fixturectl run` or a fixture_test "
                "with a server named %r (servers here: %r)"
                % (key, name, environ.get("FIXTURE_SERVERS", "none")))
        self.control_address = environ[key]
        self._environ = environ
        self._control = grpc.insecure_channel(self.control_address)
        self.control = control_pb2_grpc.FixtureControlStub(self._control)
        self._supervisor_channel = None
        self._supervisor_stub = None

    def endpoint(self, endpoint="grpc"):
        """The address of one of the server's endpoints, e.g. '127.0.0.1:41234'."""
        key = "FIXTURE_%s_%s" % (_env_name(self.name), _env_name(endpoint))
        if key not in self._environ:
            raise LookupError("%s is not set: server %r has no endpoint %r" % (key, self.name, endpoint))
        return self._environ[key]

    def channel(self, endpoint="grpc"):
        """A new insecure channel to an endpoint."""
        return grpc.insecure_channel(self.endpoint(endpoint))

    def status(self, timeout=5.0):
        return self.control.GetStatus(control_pb2.GetStatusRequest(), timeout=timeout)

    def wait_ready(self, timeout=10.0):
        request = control_pb2.WaitReadyRequest(timeout=_duration(timeout))
        return self.control.WaitReady(request, timeout=timeout + 1, wait_for_ready=True).status

    # The default grace is the toolkit's (launch/defaults.h: kDefaultGrace).
    def shutdown(self, grace_seconds=0.2, timeout=5.0, drain_seconds=0.0):
        """Stops the server gracefully: for `drain_seconds` it says DRAINING and
        NOT_SERVING (health) but still takes new calls, then in-flight calls get
        `grace_seconds`. Returns the ShutdownResponse without waiting."""
        request = control_pb2.ShutdownRequest(grace=_duration(grace_seconds), drain=_duration(drain_seconds))
        return self.control.Shutdown(request, timeout=timeout)

    def inject_fault(self, method, code=None, message="", delay_seconds=0.0, rate=None,
                     seed=None, count=None, metadata=None, timeout=5.0):
        """Adds a fault to the server under test; returns its id.

        `method`: a full method name ("/package.Service/Method") or a prefix
        ending in "*". `code`: a grpc.StatusCode (or its number) to fail the
        calls with; `delay_seconds`: how long to delay them first. Which of the
        matching calls: `rate` (0 to 1, drawn from `seed`), the next `count`,
        or (neither) every one. `metadata`: a (key, value) pair the calls must
        carry. Bad input raises grpc.RpcError with INVALID_ARGUMENT naming the
        field (proto/control.proto, FaultSpec).
        """
        if isinstance(code, grpc.StatusCode):
            code = code.value[0]
        spec = control_pb2.FaultSpec(method=method, code=code or 0, message=message,
                                     delay=_duration(delay_seconds))
        if rate is not None:
            spec.rate = rate
        if count is not None:
            spec.count = count
        if seed is not None:
            spec.seed = seed
        if metadata is not None:
            spec.metadata_key, spec.metadata_value = metadata
        request = control_pb2.InjectFaultRequest(fault=spec)
        return self.control.InjectFault(request, timeout=timeout).id

    def list_faults(self, timeout=5.0):
        """The faults in place (fixture.v1.Fault: id, spec, hits), oldest first."""
        return list(self.control.ListFaults(control_pb2.ListFaultsRequest(), timeout=timeout).faults)

    def clear_faults(self, fault_id=None, timeout=5.0):
        """Removes fault `fault_id` (NOT_FOUND if there is none), or every fault;
        returns how many were removed."""
        if fault_id is None:
            request = control_pb2.ClearFaultsRequest(all=True)
        else:
            request = control_pb2.ClearFaultsRequest(id=fault_id)
        return self.control.ClearFaults(request, timeout=timeout).cleared

    def drop_connections(self, refuse_for_seconds=0.0, timeout=5.0):
        """Closes every connection clients opened to the server under test
        (their calls in flight fail UNAVAILABLE, their channels reconnect);
        with `refuse_for_seconds`, for that long, closes the connection of
        every call that arrives, so none gets through (clear_faults() ends it
        early). Returns how many connections were closed. INVALID_ARGUMENT
        for a negative time or one over an hour; UNIMPLEMENTED from servers
        not on fixture's C++ server library (proto/control.proto,
        DropConnections)."""
        request = control_pb2.DropConnectionsRequest(refuse_for=_duration(refuse_for_seconds))
        return self.control.DropConnections(request, timeout=timeout).closed

    def reset(self, timeout=5.0):
        """Makes the server fresh for the next test: runs its reset hook
        (ServerSetup::OnReset), then clears its call counts and faults; returns
        how many faults were removed. Raises grpc.RpcError: FAILED_PRECONDITION
        when the server has no hook or is not SERVING, the hook's own code when
        it failed (nothing is cleared then), UNIMPLEMENTED from servers not on
        fixture's C++ server library (proto/control.proto, Reset)."""
        return self.control.Reset(control_pb2.ResetRequest(), timeout=timeout).faults_cleared

    # The server's process, through the supervisor of the `fixturectl run`
    # (or fixture_test) this runs under. Each raises grpc.RpcError with the
    # codes of proto/supervisor.proto: NOT_FOUND for a name the run does not
    # have, FAILED_PRECONDITION for a server that has exited (Restart brings
    # it back) or a pause twice, ABORTED for a restart whose new process did
    # not start, UNAVAILABLE once the run's command has ended.

    def restart(self, timeout=60.0):
        """Ends the server and starts a new process on the same addresses;
        returns once it is ready: fixture.v1.RestartResponse (old_pid, old_end,
        pid, endpoints). FIXTURE_<NAME>_PID is stale afterwards."""
        return self._supervisor().Restart(supervisor_pb2.ServerRequest(name=self.name), timeout=timeout)

    def kill(self, signal_number=9, timeout=10.0):
        """Sends a signal (default SIGKILL) to the server, as a crash would;
        returns its pid without waiting for the exit."""
        request = supervisor_pb2.KillRequest(name=self.name, signal=int(signal_number))
        return self._supervisor().Kill(request, timeout=timeout).pid

    def pause(self, timeout=10.0):
        """SIGSTOP; returns (its pid) once the server has stopped."""
        return self._supervisor().Pause(supervisor_pb2.ServerRequest(name=self.name), timeout=timeout).pid

    def resume(self, timeout=10.0):
        """SIGCONT to a paused server; returns its pid."""
        return self._supervisor().Resume(supervisor_pb2.ServerRequest(name=self.name), timeout=timeout).pid

    def _supervisor(self):
        if self._supervisor_stub is None:
            address = self._environ.get("FIXTURE_SUPERVISOR")
            if not address:
                raise LookupError("FIXTURE_SUPERVISOR is not set: restart, kill, pause and resume work "
                                  "under `fixturectl run` or a fixture_test")
            self._supervisor_channel = grpc.insecure_channel(address)
            self._supervisor_stub = supervisor_pb2_grpc.SupervisorStub(self._supervisor_channel)
        return self._supervisor_stub

    def close(self):
        self._control.close()
        if self._supervisor_channel is not None:
            self._supervisor_channel.close()


def server(name=None):
    """The server `name` (default: the first one) of this test's environment."""
    return Server(name)
