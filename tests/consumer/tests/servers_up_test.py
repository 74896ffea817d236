"""Runs inside fixture_test (fixture's fixturectl, not the consumer's //tools):
both servers are up and answer on their control sockets, and the greeter
answers a call made with the consumer's own `proto` package (proto.greeter_pb2)
while fixture_client uses fixture's (fixture.proto.control_pb2)."""

import unittest

import fixture_client
from proto import greeter_pb2
from proto import greeter_pb2_grpc


class ServersUpTest(unittest.TestCase):
    def test_both_servers_serve(self):
        for name, server in (("greeter", "greeter"), ("kv", "kv_server")):
            status = fixture_client.server(name).status()
            self.assertEqual(status.labels["server"], server, name)

    def test_the_greeter_answers_through_the_consumers_own_proto_package(self):
        greeter = fixture_client.server("greeter")
        try:
            with greeter.channel() as channel:
                stub = greeter_pb2_grpc.GreeterStub(channel)
                reply = stub.SayHello(greeter_pb2.HelloRequest(name="monorepo"), timeout=10)
            self.assertEqual(reply.message, "hello, monorepo")
        finally:
            greeter.close()


if __name__ == "__main__":
    unittest.main()
