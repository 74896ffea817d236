#!/bin/sh
# A wrapper script that runs the server "$@" as its child, not by exec (as a
# script that prepares something first and then runs the server would): the
# fixture's child is this shell, the server is the shell's child, and both
# are in the process group the shell leads. The server reports its own pid in
# its ReadyNotice. SIGINT is ignored here (and so, inherited, in the server),
# so that a server whose control channel stalls is ended only by SIGKILL.
trap '' INT
"$@"
exit $?
