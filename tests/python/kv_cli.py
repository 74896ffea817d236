"""A KeyValue client for the shell: `kv_cli [--server=NAME] put KEY VALUE | get KEY`.

Finds the server in the environment `fixturectl run` gives its command
(FIXTURE_<NAME>_GRPC, through fixture_client). Prints `created` or `replaced`
for put and the value for get; a failed call prints its status code and
details on stderr and exits 1.
"""

import argparse
import sys

import grpc

import fixture_client
from fixture.example import kv_pb2
from fixture.example import kv_pb2_grpc


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default=None, help="the server's name (default: the first one)")
    parser.add_argument("command", choices=("put", "get"))
    parser.add_argument("key")
    parser.add_argument("value", nargs="?", default="")
    args = parser.parse_args(argv)
    server = fixture_client.server(args.server)
    stub = kv_pb2_grpc.KeyValueStub(server.channel("grpc"))
    try:
        if args.command == "put":
            reply = stub.Put(kv_pb2.PutRequest(key=args.key, value=args.value.encode()), timeout=10)
            print("created" if reply.created else "replaced")
        else:
            print(stub.Get(kv_pb2.GetRequest(key=args.key), timeout=10).value.decode())
    except grpc.RpcError as error:
        print("kv_cli: %s: %s %s" % (args.command, error.code().name, error.details()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
