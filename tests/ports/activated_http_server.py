#!/usr/bin/python3
"""A socket-activated HTTP server, for socket_activation_test.

Takes its listening sockets as sd_listen_fds(3) describes (no systemd
library): LISTEN_PID must be its own pid, LISTEN_FDS sockets from fd 3 on,
named by LISTEN_FDNAMES (as systemd-socket-activate would hand them). Every GET is answered with a JSON report of what it
was handed and which socket served the request. SIGTERM: exit 0.
"""

import http.server
import json
import os
import signal
import socket
import sys
import threading

LISTEN_FDS_START = 3


def main():
    listen_pid = os.environ.get("LISTEN_PID", "")
    if listen_pid != str(os.getpid()):
        sys.exit(f"activated_http_server: LISTEN_PID={listen_pid!r}, but my pid is {os.getpid()}")
    count = int(os.environ["LISTEN_FDS"])
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    try:
        os.fstat(LISTEN_FDS_START + count)
        next_fd_open = True
    except OSError:
        next_fd_open = False
    report = {
        "pid": os.getpid(),
        "listen_pid": listen_pid,
        "listen_fds": count,
        "names": names,
        "next_fd_open": next_fd_open,
        "listening": [],
    }
    servers = []
    for i in range(count):
        sock = socket.socket(fileno=LISTEN_FDS_START + i)
        report["listening"].append(bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)))
        name = names[i]

        class Handler(http.server.BaseHTTPRequestHandler):
            served_by = name

            def do_GET(self):
                body = json.dumps(dict(report, served_by=self.served_by)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = sock
        servers.append(server)

    def stop(*unused):
        # A second SIGTERM (sent to the process and to its group) must not
        # kill the interpreter while it exits.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("activated_http_server: serving", flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
