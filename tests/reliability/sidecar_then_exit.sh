#!/bin/sh
# A wrapper script that starts a sidecar (`sleep 30 &`, which inherits the
# readiness pipe, fd 3, and keeps it open), says the sidecar's pid on stderr
# and exits with status 1 at once: it dies before it is ready, and no EOF
# comes on the pipe while the sidecar lives.
sleep 30 &
echo "sidecar_pid=$!" >&2
exit 1
