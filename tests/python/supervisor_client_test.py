"""The server's process from Python: fixture_client's restart(), kill(),
pause() and resume(), through the supervisor of the fixture_test (its
`fixturectl run`) that started a real kv_server, with real KeyValue calls at
the address the test was given.
"""

import os
import select
import signal
import unittest

import grpc

import fixture_client
from fixture.proto import control_pb2
from fixture.example import kv_pb2
from fixture.example import kv_pb2_grpc


def state(pid):
    """The process's state letter in /proc/PID/stat (after its name)."""
    with open("/proc/%d/stat" % pid) as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def wait_gone(pid, seconds=10):
    """True once `pid` has exited (its pidfd readable), within `seconds`."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], seconds)[0])
    finally:
        os.close(pidfd)


class SupervisorClientTest(unittest.TestCase):

    def setUp(self):
        self.kv = fixture_client.server("kv")
        self.kv.wait_ready()
        self.stub = kv_pb2_grpc.KeyValueStub(self.kv.channel())

    def tearDown(self):
        self.kv.close()

    def get(self, key):
        return self.stub.Get(kv_pb2.GetRequest(key=key), timeout=5).value

    def test_restart_kill_pause_resume(self):
        old_pid = self.kv.status().pid
        self.stub.Put(kv_pb2.PutRequest(key="k", value=b"1"), timeout=5)

        reply = self.kv.restart()
        self.assertEqual(reply.old_pid, old_pid)
        self.assertIn("exited with status 0; stopped by control", reply.old_end)
        self.assertNotEqual(reply.pid, old_pid)
        self.assertTrue(wait_gone(old_pid))
        self.assertEqual(self.kv.status().pid, reply.pid)
        # The same address, a fresh process.
        with self.assertRaises(grpc.RpcError) as missing:
            self.get("k")
        self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)

        killed = self.kv.kill(signal.SIGKILL)
        self.assertEqual(killed, reply.pid)
        self.assertTrue(wait_gone(killed))
        with self.assertRaises(grpc.RpcError) as dead:
            self.kv.pause()
        self.assertEqual(dead.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("killed by signal 9", dead.exception.details())
        again = self.kv.restart()
        self.assertIn("killed by signal 9 (SIGKILL)", again.old_end)
        self.stub.Put(kv_pb2.PutRequest(key="k", value=b"2"), timeout=5)

        self.assertEqual(self.kv.pause(), again.pid)
        self.assertEqual(state(again.pid), "T")
        with self.assertRaises(grpc.RpcError) as late:
            self.stub.Get(kv_pb2.GetRequest(key="k"), timeout=0.2)
        self.assertEqual(late.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertEqual(self.kv.resume(), again.pid)
        self.assertEqual(self.get("k"), b"2")
        self.assertEqual(self.kv.status().state, control_pb2.SERVING)

    def test_a_name_the_run_does_not_have(self):
        nope = fixture_client.Server("nope", environ=dict(os.environ, FIXTURE_NOPE_CONTROL="unix:/nope"))
        with self.assertRaises(grpc.RpcError) as unknown:
            nope.restart()
        nope.close()
        self.assertEqual(unknown.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn('no server "nope" in this run; it has: kv', unknown.exception.details())


if __name__ == "__main__":
    unittest.main()
