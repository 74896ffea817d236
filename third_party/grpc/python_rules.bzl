"""py_proto_library and py_grpc_library for the offline workspace, with the
interface of upstream gRPC's `@com_github_grpc_grpc//bazel:python_rules.bzl`:

    py_proto_library(name = "control_py_pb2", deps = [":control_proto"])
    py_grpc_library(
        name = "control_py_pb2_grpc",
        srcs = [":control_proto"],
        deps = [":control_py_pb2"],
    )

Code comes from Debian's protoc and grpc_python_plugin; the runtime
(google.protobuf, grpc) is Debian's python3-protobuf and python3-grpcio, used by
the /usr/bin/python3 toolchain in //third_party/python.
"""

load(":protoc.bzl", "protoc_generate")

# Modules of protos with an import_prefix (or from another package) are
# generated here, at their import path, for every target of the package alike:
# one root, so that their top-level package (e.g. `fixture`) is one package and
# not split over several directories on sys.path.
_PY_ROOT = "_py_protos"

def _py_generate_impl(ctx):
    if ctx.attr.grpc:
        outputs = protoc_generate(ctx, ctx.attr.srcs, ["_pb2_grpc.py"], "--grpc_out=", plugin = ctx.executable.plugin, virtual_root = _PY_ROOT)
    else:
        outputs = protoc_generate(ctx, ctx.attr.srcs, ["_pb2.py"], "--python_out=", virtual_root = _PY_ROOT)
    return [DefaultInfo(files = depset(outputs))]

_py_generate = rule(
    implementation = _py_generate_impl,
    attrs = {
        "srcs": attr.label_list(providers = [ProtoInfo], mandatory = True),
        "grpc": attr.bool(default = False),
        "plugin": attr.label(
            default = "@com_github_grpc_grpc//src/compiler:grpc_python_plugin",
            executable = True,
            cfg = "exec",
        ),
        "protoc": attr.label(
            default = "@com_google_protobuf//:protoc",
            executable = True,
            cfg = "exec",
        ),
    },
)

def py_proto_library(name, deps, plugin = None, **kwargs):
    """Python message code (<file>_pb2.py) for proto_library targets `deps`."""
    _ignore = plugin
    _py_generate(name = name + "_gen", srcs = deps, testonly = kwargs.get("testonly", False))
    native.py_library(name = name, srcs = [":%s_gen" % name], imports = [_PY_ROOT], **kwargs)

def py_grpc_library(name, srcs, deps, strip_prefixes = [], **kwargs):
    """Python service stubs (<file>_pb2_grpc.py) for proto_library targets `srcs`."""
    _ignore = strip_prefixes
    _py_generate(name = name + "_gen", srcs = srcs, grpc = True, testonly = kwargs.get("testonly", False))
    native.py_library(name = name, srcs = [":%s_gen" % name], deps = deps, imports = [_PY_ROOT], **kwargs)
