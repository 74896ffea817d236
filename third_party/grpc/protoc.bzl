"""Runs protoc with one generator over proto_library targets (shared by the
offline cc_grpc_library and python_rules)."""

def _import_path(src, proto_info):
    root = proto_info.proto_source_root
    if root in ("", "."):
        return src.short_path
    if src.path.startswith(root + "/"):
        return src.path[len(root) + 1:]
    return src.short_path

def protoc_generate(ctx, targets, suffixes, out_flag, plugin = None, virtual_root = None):
    """Declares and generates `<stem><suffix>` for each direct source of `targets`.

    A source whose import path lies under the rule's package (no import_prefix
    or strip_import_prefix) is generated beside it, as protoc would. Any other
    (a proto_library with `import_prefix = "fixture"`, or one of another
    package) is generated under `virtual_root` in the rule's package,
    at its import path: the directory the caller puts on the include or import
    path.

    Args:
      ctx: the rule context; needs an executable `protoc` attribute.
      targets: proto_library targets.
      suffixes: output file suffixes per .proto, e.g. [".grpc.pb.h", ".grpc.pb.cc"].
      out_flag: the generator's output flag, e.g. "--grpc_out" or "--python_out",
        optionally with "options:" prepended by the caller through `out_flag`.
      plugin: the generator plugin (an executable File) when it is not built in;
        it is passed as protoc-gen-<name of out_flag without --/_out>.
      virtual_root: a directory relative to the rule's package, for sources
        not under the package (required if there are any).

    Returns:
      The list of generated files.
    """
    package = ctx.label.package
    base_dir = ctx.bin_dir.path
    if ctx.label.workspace_root:
        base_dir += "/" + ctx.label.workspace_root
    runs = {}  # protoc's output directory -> struct(import_paths, outputs)
    for target in targets:
        info = target[ProtoInfo]
        for src in info.direct_sources:
            path = _import_path(src, info)
            if not package or path.startswith(package + "/"):
                root = ""
                stem = path[len(package) + 1 if package else 0:-len(".proto")]
                out_dir = base_dir
            else:
                if not virtual_root:
                    fail("%s: %s must be in the rule's package %s" % (ctx.label, path, package))
                root = virtual_root + "/"
                stem = path[:-len(".proto")]
                out_dir = base_dir + ("/" + package if package else "") + "/" + root[:-1]
            run = runs.setdefault(out_dir, struct(import_paths = [], outputs = []))
            run.import_paths.append(path)
            for suffix in suffixes:
                run.outputs.append(ctx.actions.declare_file(root + stem + suffix))

    descriptor_sets = depset(transitive = [t[ProtoInfo].transitive_descriptor_sets for t in targets])
    flag, _, options = out_flag.partition("=")
    outputs = []
    for out_dir, run in runs.items():
        args = ctx.actions.args()
        if plugin:
            args.add("--plugin=protoc-gen-%s=%s" % (flag[2:-len("_out")], plugin.path))
        args.add("%s=%s%s" % (flag, options, out_dir))
        args.add_joined("--descriptor_set_in", descriptor_sets, join_with = ":")
        args.add_all(run.import_paths)
        ctx.actions.run(
            executable = ctx.executable.protoc,
            arguments = [args],
            inputs = descriptor_sets,
            tools = [plugin] if plugin else [],
            outputs = run.outputs,
            mnemonic = "ProtocGen",
            progress_message = "Generating %s code for %s" % (flag, ctx.label),
        )
        outputs.extend(run.outputs)
    return outputs
