"""The child's side of the launch protocol (proto/launch.proto), for a Python server.

The Python twin of what server/server.cc and server/server_process.cc do
around the service: read the launch environment, ask for SIGTERM when the
starter dies, write the ReadyNotice frame, and end the rest of the process
group when this server outlives whoever started it.

    env = LaunchEnvironment.from_environ()      # None outside a fixture
    parent = ask_for_parent_death_signal()
    write_ready_notice(env.ready_fd, pid, endpoints)
    if os.getppid() != parent: end_orphaned_group(log)
"""

import ctypes
import os
import signal
import struct

from fixture.proto import launch_pb2

CONTROL_ADDRESS_ENV = "FIXTURE_CONTROL_ADDRESS"
READY_FD_ENV = "FIXTURE_READY_FD"
NAME_ENV = "FIXTURE_NAME"

# launch/protocol.h: the frame tag, its 4-byte little-endian length, and the
# size a frame must fit in (one atomic pipe write).
READY_TAG = b"R"
MAX_FRAME_SIZE = 4096

# <sys/prctl.h>
_PR_SET_PDEATHSIG = 1


class BadLaunch(Exception):
    """The launch environment is malformed; the message names the variable."""


class LaunchEnvironment:
    """What the parent passed: control_address ("unix:..."), ready_fd (-1 for
    none) and name ("" for none)."""

    def __init__(self, control_address, ready_fd, name):
        self.control_address = control_address
        self.ready_fd = ready_fd
        self.name = name

    @property
    def socket_path(self):
        return self.control_address[len("unix:"):]

    @classmethod
    def from_environ(cls, environ=None):
        """The launch environment, or None outside a fixture (neither
        FIXTURE_CONTROL_ADDRESS nor FIXTURE_READY_FD set). The variables are
        removed from `environ` (os.environ by default), so that processes the
        server starts do not inherit them. Raises BadLaunch for a control
        address that is not "unix:", a missing one, or a FIXTURE_READY_FD that
        is not an open descriptor."""
        environ = os.environ if environ is None else environ
        address = environ.pop(CONTROL_ADDRESS_ENV, None)
        fd_text = environ.pop(READY_FD_ENV, None)
        name = environ.pop(NAME_ENV, "")
        if address is None and fd_text is None:
            return None
        if address is None:
            raise BadLaunch("%s=%s is set but %s is not" % (READY_FD_ENV, fd_text, CONTROL_ADDRESS_ENV))
        if not address.startswith("unix:"):
            raise BadLaunch('%s=%s: the control socket must be a "unix:" address' % (CONTROL_ADDRESS_ENV, address))
        ready_fd = -1
        if fd_text is not None:
            try:
                ready_fd = int(fd_text)
                os.fstat(ready_fd)
                if ready_fd < 0:
                    raise ValueError(fd_text)
            except (ValueError, OSError):
                raise BadLaunch("%s=%s: not an open descriptor of this process" % (READY_FD_ENV, fd_text)) from None
        return cls(address, ready_fd, name)


def ask_for_parent_death_signal():
    """Asks for SIGTERM when the process that started this one dies
    (PR_SET_PDEATHSIG, kept across exec: the py_binary launcher's exec of
    python included) and returns that parent's pid, for a later
    os.getppid() check. Raises OSError (the errno of prctl) on failure."""
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)  # This process: libc is in it.
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, "prctl(PR_SET_PDEATHSIG, SIGTERM): %s" % os.strerror(error))
    return parent


def encode_ready_notice(pid, endpoints):
    """The ReadyNotice frame: 'R', the length (4 bytes, little-endian), the
    serialized fixture.v1.ReadyNotice. ValueError if over MAX_FRAME_SIZE."""
    body = launch_pb2.ReadyNotice(pid=pid, endpoints=endpoints).SerializeToString()
    frame = READY_TAG + struct.pack("<I", len(body)) + body
    if len(frame) > MAX_FRAME_SIZE:
        raise ValueError("ReadyNotice frame of %d bytes: over the %d a pipe writes at once" %
                         (len(frame), MAX_FRAME_SIZE))
    return frame


def write_ready_notice(fd, pid, endpoints):
    """Writes the frame to `fd` in one write(2) (os.write retries EINTR).
    Raises OSError, or ValueError for a frame too big or a short write."""
    frame = encode_ready_notice(pid, endpoints)
    written = os.write(fd, frame)
    if written != len(frame):
        raise ValueError("write(%d): wrote %d of the %d bytes of the ReadyNotice frame" % (fd, written, len(frame)))


def end_orphaned_group(log):
    """Ends the rest of this process's group: SIGTERM to the group (ignored
    here), then SIGKILL to every member still there (one started by this
    process may have SIGTERM blocked). For a server whose starter is gone:
    nobody else will end its sidecars and workers."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    group = os.getpgrp()
    log("the process that started this server is gone: ending process group %d" % group)
    os.killpg(group, signal.SIGTERM)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.getpgid(int(entry)) == group:
                os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass  # Gone meanwhile.
