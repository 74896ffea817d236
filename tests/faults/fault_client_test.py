"""Fault injection from Python: fixture_client's inject_fault, list_faults,
clear_faults and drop_connections against a real kv_server started by the fixture_test macro,
with a real grpcio client whose retry policy rides out injected failures.
"""

import json
import threading
import unittest

import grpc

import fixture_client
from fixture.proto import control_pb2
from fixture.example import kv_pb2
from fixture.example import kv_pb2_grpc

PUT = "/fixture.example.v1.KeyValue/Put"

RETRY_CONFIG = json.dumps({"methodConfig": [{
    "name": [{"service": "fixture.example.v1.KeyValue"}],
    "retryPolicy": {
        "maxAttempts": 5, "initialBackoff": "0.01s", "maxBackoff": "0.1s",
        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"],
    },
}]})


def leaves_ready(channel, timeout=10.0):
    """Waits until `channel` is not READY (subscribing has gRPC watch, and so
    read, its connection), or for `timeout`: whether it left READY."""
    left = threading.Event()

    def seen(state):
        if state != grpc.ChannelConnectivity.READY:
            left.set()

    channel.subscribe(seen)
    try:
        return left.wait(timeout)
    finally:
        channel.unsubscribe(seen)


class FaultClientTest(unittest.TestCase):

    def setUp(self):
        self.kv = fixture_client.server("kv")
        self.kv.wait_ready()
        self.kv.clear_faults()

    def tearDown(self):
        self.kv.clear_faults()
        self.kv.close()

    def assert_serving(self):
        self.assertEqual(self.kv.status().state, control_pb2.SERVING)

    def test_retry_policy_recovers_from_two_injected_failures(self):
        fault_id = self.kv.inject_fault(PUT, code=grpc.StatusCode.UNAVAILABLE, count=2)
        channel = grpc.insecure_channel(self.kv.endpoint(), options=[
            ("grpc.service_config", RETRY_CONFIG), ("grpc.enable_retries", 1)])
        stub = kv_pb2_grpc.KeyValueStub(channel)
        stub.Put(kv_pb2.PutRequest(key="py-fault/a", value=b"1"), timeout=5)
        [fault] = self.kv.list_faults()
        self.assertEqual((fault.id, fault.hits), (fault_id, 2))
        # Without retries the same fault fails the call with its code.
        self.kv.clear_faults(fault_id)
        self.kv.inject_fault(PUT, code=grpc.StatusCode.UNAVAILABLE, message="injected", count=1)
        plain = kv_pb2_grpc.KeyValueStub(self.kv.channel())
        with self.assertRaises(grpc.RpcError) as failed:
            plain.Put(kv_pb2.PutRequest(key="py-fault/b", value=b"2"), timeout=5)
        self.assertEqual(failed.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(failed.exception.details(), "injected")
        channel.close()

    def test_dropped_connections_reconnect_and_a_refusal_fails_every_call(self):
        channel = self.kv.channel()
        stub = kv_pb2_grpc.KeyValueStub(channel)
        stub.Put(kv_pb2.PutRequest(key="py-drop/a", value=b"1"), timeout=5)
        self.assertGreaterEqual(self.kv.drop_connections(), 1)
        # Once the channel has read the end of its connection (an idle one
        # learns of it only when it next sends, and that call fails), it
        # reconnects for the next call.
        self.assertTrue(leaves_ready(channel))
        stub.Put(kv_pb2.PutRequest(key="py-drop/a", value=b"2"), timeout=5)
        self.kv.drop_connections(refuse_for_seconds=3600)
        self.assertTrue(self.kv.status().HasField("refusing_connections_until"))
        with self.assertRaises(grpc.RpcError) as refused:
            stub.Put(kv_pb2.PutRequest(key="py-drop/a", value=b"3"), timeout=5)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # The refused call's connection was closed: the channel may not have
        # read that yet, and would send the next call on it.
        self.assertTrue(leaves_ready(channel))
        self.kv.clear_faults()
        self.assertFalse(self.kv.status().HasField("refusing_connections_until"))
        stub.Put(kv_pb2.PutRequest(key="py-drop/a", value=b"4"), timeout=5)
        with self.assertRaises(grpc.RpcError) as bad:
            self.kv.drop_connections(refuse_for_seconds=-1)
        self.assertEqual(bad.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("refuse_for", bad.exception.details())
        channel.close()

    def test_bad_input_names_the_field_and_leaves_the_server_up(self):
        cases = [
            (dict(method="/no.Such/Method", code=14), "fault.method"),
            (dict(method=PUT, code=14, rate=1.5), "fault.rate"),
            (dict(method=PUT, delay_seconds=-1), "fault.delay"),
        ]
        for kwargs, field in cases:
            with self.assertRaises(grpc.RpcError) as refused:
                self.kv.inject_fault(**kwargs)
            self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, kwargs)
            self.assertIn(field, refused.exception.details())
            self.assert_serving()
        with self.assertRaises(grpc.RpcError) as missing:
            self.kv.clear_faults(12345)
        self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("12345", missing.exception.details())
        self.assert_serving()
        self.assertEqual(self.kv.list_faults(), [])


if __name__ == "__main__":
    unittest.main()
