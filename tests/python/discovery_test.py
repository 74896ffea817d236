"""A generic client finds and drives FixtureControl with no project proto files.

Through server reflection it lists the control socket's services, fetches the
descriptor of fixture.v1.FixtureControl, builds the request and reply types
from it at run time and calls GetStatus. Through grpc.health.v1 it sees the
server SERVING, then NOT_SERVING once a stop begins.
"""

import os
import unittest

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

from fixture.third_party.grpc_health import health_pb2
from fixture.third_party.grpc_health import health_pb2_grpc
from fixture.third_party.grpc_reflection import reflection_pb2
from fixture.third_party.grpc_reflection import reflection_pb2_grpc


def reflect(channel, **request):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(**request)]), timeout=5)
    return next(iter(replies))


class DiscoveryTest(unittest.TestCase):

    def setUp(self):
        self.channel = grpc.insecure_channel(os.environ["FIXTURE_CONTROL"])

    def tearDown(self):
        self.channel.close()

    def test_reflection_lists_control_health_and_reflection(self):
        reply = reflect(self.channel, list_services="")
        names = sorted(s.name for s in reply.list_services_response.service)
        self.assertIn("fixture.v1.FixtureControl", names)
        self.assertIn("grpc.health.v1.Health", names)

    def test_status_through_descriptors_fetched_by_reflection(self):
        reply = reflect(self.channel, file_containing_symbol="fixture.v1.FixtureControl")
        pool = descriptor_pool.DescriptorPool()
        files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                 for raw in reply.file_descriptor_response.file_descriptor_proto]
        # Dependencies first: add until every file went in.
        pending = list(files)
        while pending:
            progress = False
            for f in list(pending):
                try:
                    pool.Add(f)
                except TypeError:
                    continue
                pending.remove(f)
                progress = True
            if not progress:
                for f in pending:
                    pool.Add(f)
                break
        service = pool.FindServiceByName("fixture.v1.FixtureControl")
        method = service.methods_by_name["GetStatus"]
        request_class = message_factory.MessageFactory(pool).GetPrototype(method.input_type)
        reply_class = message_factory.MessageFactory(pool).GetPrototype(method.output_type)
        call = self.channel.unary_unary(
            "/fixture.v1.FixtureControl/GetStatus",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=reply_class.FromString)
        status = call(request_class(), timeout=5)
        self.assertEqual(status.pid, int(os.environ["FIXTURE_KV_PID"]))
        self.assertEqual(pool.FindEnumTypeByName("fixture.v1.State").values_by_number[status.state].name, "SERVING")

    def test_zz_health_follows_the_lifecycle(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        self.assertEqual(health.Check(health_pb2.HealthCheckRequest(), timeout=5).status,
                         health_pb2.HealthCheckResponse.SERVING)
        watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        self.assertEqual(next(watch).status, health_pb2.HealthCheckResponse.SERVING)
        shutdown = self.channel.unary_unary("/fixture.v1.FixtureControl/Shutdown")
        shutdown(b"", timeout=5)  # An empty ShutdownRequest: grace 0.
        self.assertEqual(next(watch).status, health_pb2.HealthCheckResponse.NOT_SERVING)


if __name__ == "__main__":
    unittest.main()
