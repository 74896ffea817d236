#!/usr/bin/python3
"""A child that breaks the launch protocol (proto/launch.proto) in one way.

For the tests of how Fixture::Start() copes (launch_protocol_test.cc).
The frame on FIXTURE_READY_FD is 'R', the length of the serialized
fixture.v1.ReadyNotice as 4 little-endian bytes, then the message; an empty
message (length 0) is a valid ReadyNotice.

Usage: launch_protocol_child.py MODE
  truncated            writes 'R', a length of 10 and 3 bytes, then exits 0
  truncated_sidecar    the same, after forking a sidecar that holds the
                       readiness pipe for 30 s (its pid on stderr)
  ready_no_control     writes a valid, empty ReadyNotice frame and sleeps,
                       never serving FIXTURE_CONTROL_ADDRESS
  ready_not_listening  the same, with a socket bound at the control address
                       that never listens
"""
import os
import socket
import struct
import sys
import time


def main():
    mode = sys.argv[1]
    ready = int(os.environ["FIXTURE_READY_FD"])
    control = os.environ["FIXTURE_CONTROL_ADDRESS"]
    if mode in ("truncated", "truncated_sidecar"):
        if mode == "truncated_sidecar":
            sidecar = os.fork()
            if sidecar == 0:  # Holds `ready` (inherited) until it is killed.
                time.sleep(30)
                os._exit(0)
            print("sidecar_pid=%d" % sidecar, file=sys.stderr, flush=True)
        os.write(ready, b"R" + struct.pack("<I", 10) + b"abc")
        print("launch_protocol_child: wrote 8 of a 15-byte frame", file=sys.stderr, flush=True)
        return 0
    if mode in ("ready_no_control", "ready_not_listening"):
        bound = None
        if mode == "ready_not_listening":
            bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            bound.bind(control[len("unix:"):])  # No listen(): connect() is refused.
        # Said first: the parent kills this process as soon as it has read the frame.
        print("launch_protocol_child: reported ready without serving %s" % control, file=sys.stderr, flush=True)
        os.write(ready, b"R" + struct.pack("<I", 0))
        time.sleep(300)
        return 0
    print("launch_protocol_child: unknown mode %s" % mode, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
