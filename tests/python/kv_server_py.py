"""The example KeyValue service (example/kv.proto) as a Python grpcio server.

Written the way Python gRPC servers are written, plus the three lines of
fixture_server (marked). Started by fixture::Fixture (python_server_test.cc),
`fixturectl run` (tests/shell/fixturectl_python_server_test.sh) and the
fixture_test macro (kv_server_py_client_test); run alone it serves on
--address until Ctrl-C.

Flags for the tests of the launch protocol:
  --label=KEY=VALUE        a Status label (repeatable)
  --wait=attached|server   end main() in attached.wait() (default) or in
                           server.wait_for_termination()
  --one_call               attach and report ready in one call after start()
  --test_delay_get=SECONDS Get sleeps this long first (a call in flight for
                           the tests of the stop's grace)
  --test_raise_before_ready raise before the server reports ready
"""

import argparse
import sys
import threading
from concurrent import futures

import grpc

import fixture_server
from fixture.example import kv_pb2
from fixture.example import kv_pb2_grpc


class KeyValue(kv_pb2_grpc.KeyValueServicer):
    """An in-memory KeyValue store, as example/kv_service.cc."""

    def __init__(self, get_delay=0.0):
        self._lock = threading.Lock()
        self._values = {}
        self._get_delay = get_delay

    def Put(self, request, context):
        if not request.key:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "key: must not be empty")
        with self._lock:
            created = request.key not in self._values
            self._values[request.key] = request.value
        return kv_pb2.PutResponse(created=created)

    def Get(self, request, context):
        if self._get_delay:
            threading.Event().wait(self._get_delay)
        with self._lock:
            if request.key not in self._values:
                context.abort(grpc.StatusCode.NOT_FOUND, 'key "%s" has no value' % request.key)
            return kv_pb2.GetResponse(value=self._values[request.key])

    def Delete(self, request, context):
        with self._lock:
            if self._values.pop(request.key, None) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, 'key "%s" has no value' % request.key)
        return kv_pb2.DeleteResponse()

    def List(self, request, context):
        with self._lock:
            entries = sorted((k, v) for k, v in self._values.items() if k.startswith(request.prefix))
        return kv_pb2.ListResponse(entries=[kv_pb2.ListResponse.Entry(key=k, value=v) for k, v in entries])


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--label", action="append", default=[])
    parser.add_argument("--wait", choices=("attached", "server"), default="attached")
    parser.add_argument("--one_call", action="store_true")
    parser.add_argument("--test_delay_get", type=float, default=0.0)
    parser.add_argument("--test_raise_before_ready", action="store_true")
    args = parser.parse_args(argv)
    labels = dict(label.split("=", 1) for label in args.label)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    kv_pb2_grpc.add_KeyValueServicer_to_server(KeyValue(args.test_delay_get), server)
    if not args.one_call:
        attached = fixture_server.attach(server, labels=labels)  # fixture_server 1/3
    port = server.add_insecure_port(args.address)
    if args.test_raise_before_ready:
        raise RuntimeError("kv_server_py: raising before ready as --test_raise_before_ready asks")
    server.start()
    if args.one_call:
        attached = fixture_server.serving(server, {"grpc": port}, labels=labels)  # fixture_server 1/1
    else:
        attached.serving({"grpc": port})  # fixture_server 2/3
    if not attached.active:
        print("kv_server_py: serving on %s" % args.address.replace(":0", ":%d" % port), file=sys.stderr)
    try:
        if args.wait == "server":
            server.wait_for_termination()
        else:
            attached.wait()  # fixture_server 3/3
    except KeyboardInterrupt:  # Ctrl-C when run alone (under a fixture, SIGINT is a stop).
        server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
