#!/usr/bin/env bash
# CMD in a process group of its own still works at a terminal: fixturectl,
# in the terminal's foreground, hands it to CMD's group. Under a pseudo-
# terminal (python3's pty), CMD reads a line typed at the terminal (outside
# the foreground group it would be stopped by SIGTTIN) and is the foreground
# group; Ctrl-C reaches CMD, which dies of SIGINT: fixturectl exits 130.
set -uo pipefail
fixturectl="$1"
kv_server="$2"
exec python3 - "$fixturectl" "$kv_server" <<'EOF'
import os, pty, select, sys, time

fixturectl, kv_server = sys.argv[1:3]
failures = 0


def run(script, send, timeout=20):
    """Runs `fixturectl run -- bash -c script` on a new pty; once it prints
    READY, types `send`. Returns (output, exit status or None on timeout)."""
    pid, master = pty.fork()
    if pid == 0:
        os.execv(fixturectl, [fixturectl, "run", "--server=" + kv_server, "--", "bash", "-c", script])
    out, sent = b"", False
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return out.decode(errors="replace"), None
        if not select.select([master], [], [], left)[0]:
            continue
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: every process on the terminal is gone.
            break
        if not data:
            break
        out += data
        if not sent and b"READY" in out:
            os.write(master, send)
            sent = True
    _, status = os.waitpid(pid, 0)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def check(what, ok, out, status):
    global failures
    if ok:
        print("ok: %s (status %s)" % (what, status))
    else:
        failures += 1
        print("FAIL: %s: status %s, output:\n%s" % (what, status, out))


# /proc/PID/stat: pid (comm) state ppid pgrp session tty_nr tpgid ...
out, status = run('echo READY; read -r line; read -r _ _ _ _ pgid _ _ tpgid _ </proc/$$/stat; '
                  'echo "got:$line fg:$([ "$pgid" = "$tpgid" ] && echo yes || echo no)"', b"hello\n")
check("CMD reads the terminal as its foreground group", status == 0 and "got:hello fg:yes" in out, out, status)

out, status = run("echo READY; sleep 300; echo not-interrupted", b"\x03")
check("Ctrl-C reaches CMD", status == 130 and "not-interrupted" not in out, out, status)

print("PASS" if failures == 0 else "%d failure(s)" % failures)
sys.exit(1 if failures else 0)
EOF
