"""Runs protoc with one generator over proto_library targets (shared by the
offline cc_grpc_library and python_rules)."""

def _import_path(src, proto_info):
    root = proto_info.proto_source_root
    if root in ("", "."):
        return src.short_path
    if src.path.startswith(root + "/"):
        return src.path[len(root) + 1:]
    return src.short_path

def protoc_generate(ctx, targets, suffixes, out_flag, plugin = None):
    """Declares and generates `<stem><suffix>` for each direct source of `targets`.

    Args:
      ctx: the rule context; needs an executable `protoc` attribute.
      targets: proto_library targets.
      suffixes: output file suffixes per .proto, e.g. [".grpc.pb.h", ".grpc.pb.cc"].
      out_flag: the generator's output flag, e.g. "--grpc_out" or "--python_out",
        optionally with "options:" prepended by the caller through `out_flag`.
      plugin: the generator plugin (an executable File) when it is not built in;
        it is passed as protoc-gen-<name of out_flag without --/_out>.

    Returns:
      The list of generated files.
    """
    outputs = []
    import_paths = []
    package = ctx.label.package
    for target in targets:
        info = target[ProtoInfo]
        for src in info.direct_sources:
            path = _import_path(src, info)
            if package and not path.startswith(package + "/"):
                fail("%s: %s must be in the rule's package %s" % (ctx.label, path, package))
            stem = path[len(package) + 1 if package else 0:-len(".proto")]
            import_paths.append(path)
            for suffix in suffixes:
                outputs.append(ctx.actions.declare_file(stem + suffix))

    descriptor_sets = depset(transitive = [t[ProtoInfo].transitive_descriptor_sets for t in targets])
    out_dir = ctx.bin_dir.path
    if ctx.label.workspace_root:
        out_dir += "/" + ctx.label.workspace_root
    args = ctx.actions.args()
    flag, _, options = out_flag.partition("=")
    if plugin:
        args.add("--plugin=protoc-gen-%s=%s" % (flag[2:-len("_out")], plugin.path))
    args.add("%s=%s%s" % (flag, options, out_dir))
    args.add_joined("--descriptor_set_in", descriptor_sets, join_with = ":")
    args.add_all(import_paths)
    ctx.actions.run(
        executable = ctx.executable.protoc,
        arguments = [args],
        inputs = descriptor_sets,
        tools = [plugin] if plugin else [],
        outputs = outputs,
        mnemonic = "ProtocGen",
        progress_message = "Generating %s code for %s" % (flag, ctx.label),
    )
    return outputs
