"""A Python test of a fixture server, run through the fixture_test macro.

The server (kv_server) is started by `fixturectl run`; this test finds it in
its environment, checks its status, moves real data through the example
service, and shuts it down over the control channel.
"""

import unittest

import grpc

import fixture_client
from fixture.proto import control_pb2
from fixture.example import kv_pb2
from fixture.example import kv_pb2_grpc


class KvClientTest(unittest.TestCase):

    def setUp(self):
        self.kv = fixture_client.server("kv")

    def test_status_names_the_server_and_a_real_port(self):
        status = self.kv.wait_ready()
        self.assertEqual(status.state, control_pb2.SERVING)
        self.assertEqual(status.name, "kv")
        self.assertEqual(status.labels["suite"], "python")
        self.assertEqual([e.name for e in status.endpoints], ["grpc"])
        self.assertGreater(status.endpoints[0].port, 0)
        self.assertEqual(status.endpoints[0].address, self.kv.endpoint("grpc"))

    def test_data_round_trip_and_call_counts(self):
        stub = kv_pb2_grpc.KeyValueStub(self.kv.channel())
        self.assertTrue(stub.Put(kv_pb2.PutRequest(key="py/a", value=b"1"), timeout=5).created)
        stub.Put(kv_pb2.PutRequest(key="py/b", value=b"2"), timeout=5)
        self.assertEqual(stub.Get(kv_pb2.GetRequest(key="py/a"), timeout=5).value, b"1")
        listed = stub.List(kv_pb2.ListRequest(prefix="py/"), timeout=5)
        self.assertEqual([(e.key, e.value) for e in listed.entries], [("py/a", b"1"), ("py/b", b"2")])
        with self.assertRaises(grpc.RpcError) as missing:
            stub.Get(kv_pb2.GetRequest(key="py/none"), timeout=5)
        self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)
        calls = {c.method: c.calls for c in self.kv.status().method_calls}
        self.assertGreaterEqual(calls["/fixture.example.v1.KeyValue/Put"], 2)
        self.assertGreaterEqual(calls["/fixture.example.v1.KeyValue/Get"], 2)

    def test_a_bad_drain_is_refused_and_the_server_serves_on(self):
        with self.assertRaises(grpc.RpcError) as bad:
            self.kv.shutdown(drain_seconds=-1)
        self.assertEqual(bad.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("drain", bad.exception.details())
        self.assertEqual(self.kv.status().state, control_pb2.SERVING)

    def test_zz_shutdown_over_the_control_channel(self):
        # Runs last (unittest orders by name): the server is gone afterwards.
        reply = self.kv.shutdown(grace_seconds=0.1)
        self.assertTrue(reply.initiated)
        self.assertIn(reply.state, (control_pb2.DRAINING, control_pb2.STOPPING))
        # A second Shutdown is no error: it changes nothing, or finds the server
        # gone (UNAVAILABLE, or CANCELLED when it arrives as the server closes
        # its connections: proto/control.proto).
        try:
            again = self.kv.shutdown()
            self.assertFalse(again.initiated)
        except grpc.RpcError as gone:
            self.assertIn(gone.code(), (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED))

    def tearDown(self):
        self.kv.close()


if __name__ == "__main__":
    unittest.main()
