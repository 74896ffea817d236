#!/usr/bin/python3
"""A daemon that speaks sd_notify(3) in one way, for sd_notify_watch_test.cc.

Every datagram goes to $NOTIFY_SOCKET, as libsystemd's sd_notify() sends it.
After its part, the sender writes "notified" on stdout and waits until it is
killed.

Usage: notify_sender.py MODE [setsid]
  status     STATUS=Loading the data set, never READY=1
  errno      STATUS=Cannot open /etc/sender.conf, then ERRNO=2
  stopping   STOPPING=1 before READY=1
  mainpid    forks a daemon that says MAINPID=<its pid>; this process exits
             once that is sent, and the daemon sends READY=1 only after it
             has exited (a wrapper handing over to its daemon); with a
             second argument "setsid", the daemon leads a session (and a
             process group) of its own, as a daemon(3) does
  chatty     READY=1, then 50 datagrams STATUS=Step N, then exits 0 (with
             nobody reading, the 11th send would block: the kernel queues
             net.unix.max_dgram_qlen, 10)
  barrier    sends BARRIER=1 with a pipe's write end (sd_notify_barrier()),
             waits until the receiver has closed it, then READY=1
"""
import os
import select
import signal
import socket
import sys


def notify(text, fds=()):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(os.environ["NOTIFY_SOCKET"])
        if fds:
            socket.send_fds(s, [text.encode()], list(fds))
        else:
            s.send(text.encode())


def wait_forever():
    while True:
        signal.pause()


def main():
    mode = sys.argv[1]
    if mode == "status":
        notify("STATUS=Loading the data set\n")
    elif mode == "errno":
        notify("STATUS=Cannot open /etc/sender.conf\n")
        notify("ERRNO=2\n")
    elif mode == "stopping":
        notify("STOPPING=1\n")
    elif mode == "mainpid":
        handed_over_r, handed_over_w = os.pipe()
        if os.fork() == 0:  # The daemon.
            os.close(handed_over_r)
            if sys.argv[2:] == ["setsid"]:
                os.setsid()
            wrapper = os.pidfd_open(os.getppid())
            notify("MAINPID=%d\nSTATUS=Daemon started\n" % os.getpid())
            os.close(handed_over_w)
            poller = select.poll()
            poller.register(wrapper, select.POLLIN)
            poller.poll()  # The wrapper has exited (its pidfd, as the watch sees it).
            notify("READY=1\n")
            wait_forever()
        os.close(handed_over_w)
        os.read(handed_over_r, 1)  # EOF: MAINPID= is sent.
        print("wrapper %d: handed over, exiting" % os.getpid(), file=sys.stderr, flush=True)
        os._exit(0)
    elif mode == "chatty":
        notify("READY=1\n")
        for step in range(1, 51):
            notify("STATUS=Step %d\n" % step)
        print("notified", flush=True)
        return 0
    elif mode == "barrier":
        r, w = os.pipe()
        notify("BARRIER=1\n", [w])
        os.close(w)
        poller = select.poll()
        poller.register(r, select.POLLHUP)
        poller.poll()  # The receiver's copy of `w` is closed.
        notify("READY=1\n")
    else:
        print("notify_sender: unknown mode %s" % mode, file=sys.stderr)
        return 2
    print("notified", flush=True)
    wait_forever()


if __name__ == "__main__":
    sys.exit(main())
