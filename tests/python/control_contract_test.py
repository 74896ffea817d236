"""The control socket's contract, checked the same way on every kind of server.

Run through fixture_test against the C++ example server (server/ library) and
against the Python one (//tools/python:fixture_server): both must give the
same answers, down to the error messages, on FixtureControl, health and
reflection. The test that stops the server runs last (unittest orders by name).
"""

import os
import stat
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf import duration_pb2

import fixture_client
from fixture.example import kv_pb2
from fixture.example import kv_pb2_grpc
from fixture.proto import control_pb2
from fixture.third_party.grpc_health import health_pb2
from fixture.third_party.grpc_health import health_pb2_grpc
from fixture.third_party.grpc_reflection import reflection_pb2
from fixture.third_party.grpc_reflection import reflection_pb2_grpc

HEALTH = health_pb2.HealthCheckResponse


def duration(seconds=0, nanos=0):
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


class ControlContractTest(unittest.TestCase):

    def setUp(self):
        self.kv = fixture_client.server("kv")
        self.health = health_pb2_grpc.HealthStub(self.kv._control)

    def tearDown(self):
        self.kv.close()

    def assertInvalid(self, call, message):
        with self.assertRaises(grpc.RpcError) as error:
            call()
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(error.exception.details(), message)

    def test_control_socket_is_private(self):
        path = self.kv.control_address[len("unix:"):]
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)

    def test_wait_ready_answers_at_once_when_serving(self):
        reply = self.kv.control.WaitReady(control_pb2.WaitReadyRequest(timeout=duration()), timeout=5)
        self.assertEqual(reply.status.state, control_pb2.SERVING)
        self.assertEqual(reply.status.pid, int(os.environ["FIXTURE_KV_PID"]))

    def test_bad_durations_are_refused_naming_the_field(self):
        control = self.kv.control
        self.assertInvalid(lambda: control.WaitReady(control_pb2.WaitReadyRequest(timeout=duration(-1)), timeout=5),
                           "timeout: must not be negative, got -1s")
        self.assertInvalid(lambda: control.Shutdown(control_pb2.ShutdownRequest(grace=duration(7200)), timeout=5),
                           "grace: at most 1h, got 2h")
        self.assertInvalid(
            lambda: control.Shutdown(control_pb2.ShutdownRequest(grace=duration(1, -1)), timeout=5),
            "grace: malformed Duration {seconds: 1, nanos: -1}")
        self.assertInvalid(lambda: control.Shutdown(control_pb2.ShutdownRequest(drain=duration(-1)), timeout=5),
                           "drain: must not be negative, got -1s")
        self.assertInvalid(lambda: control.Shutdown(control_pb2.ShutdownRequest(drain=duration(7200)), timeout=5),
                           "drain: at most 1h, got 2h")
        self.assertEqual(self.kv.status().state, control_pb2.SERVING)

    def test_status_times_and_counts_of_the_service_under_test_only(self):
        stub = kv_pb2_grpc.KeyValueStub(self.kv.channel())
        stub.Put(kv_pb2.PutRequest(key="contract", value=b"1"), timeout=5)
        self.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        first = self.kv.status()
        second = self.kv.status()
        self.assertLessEqual(first.start_time.ToNanoseconds(), time.time_ns())
        self.assertGreater(second.uptime.ToNanoseconds(), first.uptime.ToNanoseconds())
        methods = [c.method for c in second.method_calls]
        self.assertEqual(methods, sorted(methods))
        self.assertIn("/fixture.example.v1.KeyValue/Put", methods)
        self.assertFalse([m for m in methods if "health" in m or "FixtureControl" in m], methods)

    def test_health_of_unknown_services(self):
        with self.assertRaises(grpc.RpcError) as error:
            self.health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)
        watch = self.health.Watch(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        self.assertEqual(next(watch).status, HEALTH.SERVICE_UNKNOWN)
        watch.cancel()

    def test_reflection_serves_files_with_their_dependencies(self):
        stub = reflection_pb2_grpc.ServerReflectionStub(self.kv._control)
        requests = [
            reflection_pb2.ServerReflectionRequest(file_by_filename="fixture/proto/control.proto"),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="fixture.v1.Status"),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Symbol"),
        ]
        replies = list(stub.ServerReflectionInfo(iter(requests), timeout=5))
        self.assertEqual(len(replies), 3)
        for reply in replies[:2]:
            names = [descriptor_pb2.FileDescriptorProto.FromString(raw).name
                     for raw in reply.file_descriptor_response.file_descriptor_proto]
            self.assertEqual(names[0], "fixture/proto/control.proto")
            self.assertIn("google/protobuf/duration.proto", names)
        self.assertEqual(replies[2].error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])

    def test_zz_watch_follows_a_shutdown_to_the_end(self):
        watch = self.kv.control.Watch(control_pb2.WatchRequest(), timeout=10)
        self.assertEqual(next(watch).state, control_pb2.SERVING)
        health = self.health.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        self.assertEqual(next(health).status, HEALTH.SERVING)
        reply = self.kv.shutdown(grace_seconds=0.1)
        self.assertTrue(reply.initiated)
        self.assertEqual([change.state for change in watch], [control_pb2.DRAINING, control_pb2.STOPPING])
        self.assertEqual(next(health).status, HEALTH.NOT_SERVING)


if __name__ == "__main__":
    unittest.main()
