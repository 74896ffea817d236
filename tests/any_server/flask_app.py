"""The scene this toolkit grew from: a small Flask web server, run in a child
while the tests run in the parent, stopped with SIGINT at the end.

Usage: flask_app.py PORT    (Debian's python3-flask, under /usr/bin/python3)
"""
import sys

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "hello from flask\n"


@app.route("/healthz")
def healthz():
    return "ok\n"


if __name__ == "__main__":
    # Werkzeug's development server logs " * Running on http://127.0.0.1:PORT"
    # once it listens; SIGINT (KeyboardInterrupt) ends it.
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
