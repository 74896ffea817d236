"""ReflectionService: gRPC server reflection (grpc.reflection.v1alpha) for the control socket.

Debian ships python3-grpcio without grpcio-reflection, so this serves the
protocol from the generated code of third_party/grpc_reflection, answering
from the descriptors of the process's default pool (every imported _pb2
module): list_services names the services given, file_by_filename and
file_containing_symbol return the file and, after it, every file it depends
on, each once (as the C++ server does), the
extension requests answer from the pool too; anything unknown gets an
error_response with NOT_FOUND.

    services = ["fixture.v1.FixtureControl", "grpc.health.v1.Health", ReflectionService.NAME]
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(ReflectionService(services), server)
"""

import grpc
from google.protobuf import descriptor_pool

from fixture.third_party.grpc_reflection import reflection_pb2
from fixture.third_party.grpc_reflection import reflection_pb2_grpc


class ReflectionService(reflection_pb2_grpc.ServerReflectionServicer):
    """See the module docstring."""

    NAME = "grpc.reflection.v1alpha.ServerReflection"

    def __init__(self, service_names, pool=None):
        self._service_names = sorted(service_names)
        self._pool = pool or descriptor_pool.Default()

    def ServerReflectionInfo(self, request_iterator, context):
        for request in request_iterator:
            response = reflection_pb2.ServerReflectionResponse(valid_host=request.host, original_request=request)
            try:
                self._answer(request, response)
            except KeyError as missing:
                response.ClearField("message_response")
                response.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
                response.error_response.error_message = str(missing.args[0] if missing.args else missing)
            yield response

    def _answer(self, request, response):
        kind = request.WhichOneof("message_request")
        if kind == "list_services":
            for name in self._service_names:
                response.list_services_response.service.add(name=name)
        elif kind == "file_by_filename":
            self._files(self._find(self._pool.FindFileByName, request.file_by_filename), response)
        elif kind == "file_containing_symbol":
            symbol = request.file_containing_symbol
            self._files(self._find(self._pool.FindFileContainingSymbol, symbol), response)
        elif kind == "file_containing_extension":
            extension = request.file_containing_extension
            message = self._find(self._pool.FindMessageTypeByName, extension.containing_type)
            field = self._find(lambda _: self._pool.FindExtensionByNumber(message, extension.extension_number),
                               "extension %d of %s" % (extension.extension_number, extension.containing_type))
            self._files(field.file, response)
        elif kind == "all_extension_numbers_of_type":
            message = self._find(self._pool.FindMessageTypeByName, request.all_extension_numbers_of_type)
            numbers = response.all_extension_numbers_response
            numbers.base_type_name = message.full_name
            numbers.extension_number.extend(sorted(f.number for f in self._pool.FindAllExtensions(message)))
        else:
            raise KeyError("no request in the ServerReflectionRequest")

    @staticmethod
    def _find(lookup, name):
        try:
            return lookup(name)
        except KeyError:
            raise KeyError("%s not found" % name) from None

    @staticmethod
    def _files(file_descriptor, response):
        sent = set()
        pending = [file_descriptor]
        while pending:
            current = pending.pop(0)
            if current.name in sent:
                continue
            sent.add(current.name)
            response.file_descriptor_response.file_descriptor_proto.append(current.serialized_pb)
            pending.extend(current.dependencies)
