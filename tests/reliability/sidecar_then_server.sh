#!/bin/sh
# A wrapper script that starts a sidecar (`sleep 300 &`, which inherits the
# readiness pipe, fd 3) and then runs the server "$@" as its child, giving it
# the sidecar's pid as label sidecar_pid. Nothing here ever stops the sidecar:
# only the kill of what is left of the process group does.
sleep 300 &
"$@" "--label=sidecar_pid=$!"
exit $?
