"""cc_grpc_library for the offline workspace, with upstream gRPC's interface.

Loaded as `@com_github_grpc_grpc//bazel:cc_grpc_library.bzl`, like the real one:

    cc_grpc_library(
        name = "control_cc_grpc",
        srcs = [":control_proto"],      # proto_library targets
        grpc_only = True,
        deps = [":control_cc_proto"],   # their cc_proto_library
    )

It runs Debian's `grpc_cpp_plugin` through `protoc` on the proto_library's
descriptor sets and compiles the result. The generated headers are `hdrs` (not
`srcs`), so dependents may include "<package>/<file>.grpc.pb.h", or
"<import_prefix>/<package>/<file>.grpc.pb.h" for a proto_library with an
import_prefix (this repository's own protos use "fixture").
"""

load(":protoc.bzl", "protoc_generate")

def _generate_impl(ctx):
    suffixes = [".grpc.pb.h", ".grpc.pb.cc"] + (["_mock.grpc.pb.h"] if ctx.attr.generate_mocks else [])
    outputs = protoc_generate(
        ctx,
        ctx.attr.srcs,
        suffixes,
        "--grpc_out=" + ("generate_mock_code=true:" if ctx.attr.generate_mocks else ""),
        plugin = ctx.executable.plugin,
        virtual_root = "_virtual_imports/" + ctx.label.name,
    )
    return [DefaultInfo(files = depset(outputs))]

_generate_grpc_cc = rule(
    implementation = _generate_impl,
    attrs = {
        "srcs": attr.label_list(providers = [ProtoInfo], mandatory = True),
        "generate_mocks": attr.bool(default = False),
        "plugin": attr.label(
            default = "@com_github_grpc_grpc//src/compiler:grpc_cpp_plugin",
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

def cc_grpc_library(
        name,
        srcs,
        deps,
        proto_only = False,
        well_known_protos = False,
        generate_mocks = False,
        use_external = False,
        grpc_only = False,
        **kwargs):
    """Generates C++ gRPC service code for `srcs` (proto_library targets).

    Args:
      name: the cc_library to create.
      srcs: proto_library targets whose services to generate.
      deps: the cc_proto_library of `srcs` (required with grpc_only = True).
      proto_only: generate only the messages (a cc_proto_library).
      well_known_protos: ignored; the well-known types come with libprotobuf.
      generate_mocks: also generate <file>_mock.grpc.pb.h.
      use_external: ignored; kept for the upstream signature.
      grpc_only: when False, also creates `<name>_cc_proto` for the messages.
      **kwargs: passed to the cc_library (visibility, testonly, ...).
    """
    _ignore = (well_known_protos, use_external)
    proto_deps = [] if grpc_only else [":%s_cc_proto" % name]
    if not grpc_only:
        native.cc_proto_library(name = name + "_cc_proto", deps = srcs, **kwargs)
    if proto_only:
        native.cc_library(name = name, deps = proto_deps, **kwargs)
        return
    _generate_grpc_cc(
        name = name + "_codegen",
        srcs = srcs,
        generate_mocks = generate_mocks,
        visibility = ["//visibility:private"],
        testonly = kwargs.get("testonly", False),
    )
    generated_h = name + "_h"
    generated_cc = name + "_cc"
    _split(name = generated_h, src = ":%s_codegen" % name, suffix = ".h", testonly = kwargs.get("testonly", False))
    _split(name = generated_cc, src = ":%s_codegen" % name, suffix = ".cc", testonly = kwargs.get("testonly", False))
    native.cc_library(
        name = name,
        srcs = [":" + generated_cc],
        hdrs = [":" + generated_h],
        # A proto_library with import_prefix: its headers live at their import
        # path under _virtual_imports/<codegen rule> (empty otherwise: harmless).
        includes = ["_virtual_imports/%s_codegen" % name],
        deps = deps + proto_deps + [
            "@com_github_grpc_grpc//:grpc++",
            "@com_google_protobuf//:protobuf",
        ],
        **kwargs
    )

def _split_impl(ctx):
    files = [f for f in ctx.files.src if f.path.endswith(ctx.attr.suffix)]
    return [DefaultInfo(files = depset(files))]

_split = rule(
    implementation = _split_impl,
    attrs = {
        "src": attr.label(mandatory = True),
        "suffix": attr.string(mandatory = True),
    },
)
