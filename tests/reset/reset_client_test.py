"""Reset from Python: fixture_client's reset() against a real kv_server
started by the fixture_test macro, whose reset hook empties its store; the
call counts and the faults go with it.
"""

import unittest

import grpc

import fixture_client
from fixture.proto import control_pb2
from fixture.example import kv_pb2
from fixture.example import kv_pb2_grpc

PUT = "/fixture.example.v1.KeyValue/Put"


class ResetClientTest(unittest.TestCase):

    def setUp(self):
        self.kv = fixture_client.server("kv")
        self.kv.wait_ready()

    def tearDown(self):
        self.kv.close()

    def test_reset_forgets_data_calls_and_faults(self):
        stub = kv_pb2_grpc.KeyValueStub(self.kv.channel())
        stub.Put(kv_pb2.PutRequest(key="py-reset", value=b"1"), timeout=5)
        self.assertEqual(stub.Get(kv_pb2.GetRequest(key="py-reset"), timeout=5).value, b"1")
        self.kv.inject_fault(PUT, code=grpc.StatusCode.UNAVAILABLE, count=1)

        self.assertEqual(self.kv.reset(), 1)

        status = self.kv.status()
        self.assertEqual(status.state, control_pb2.SERVING)
        self.assertEqual(list(status.method_calls), [])
        self.assertEqual(self.kv.list_faults(), [])
        with self.assertRaises(grpc.RpcError) as missing:
            stub.Get(kv_pb2.GetRequest(key="py-reset"), timeout=5)
        self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)
        # The Put the fault would have failed goes through.
        stub.Put(kv_pb2.PutRequest(key="py-reset", value=b"2"), timeout=5)


if __name__ == "__main__":
    unittest.main()
