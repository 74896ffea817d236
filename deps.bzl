"""fixture_deps(): everything this repository needs, for any WORKSPACE that uses it.

A consumer's WORKSPACE needs three lines (the name is the consumer's choice):

    local_repository(name = "fixture", path = "/src/fixture")   # or http_archive, git_repository
    load("@fixture//:deps.bzl", "fixture_deps")
    fixture_deps()

It declares, each only where the WORKSPACE has no repository of that name yet
(so a monorepo's own, real ones win; declare those before calling it):
  - rules_cc, rules_proto, remote_coverage_tools: small local stand-ins
    (third_party/) that re-export Bazel 4.2.3's built-in rules, so that
    nothing is downloaded; rules_java from Debian's bazel-rules-java;
  - com_google_protobuf, com_github_grpc_grpc, com_google_absl,
    com_google_googletest: Debian's packages under the upstream names
    (third_party/system_repositories.bzl);
  - the Python toolchain: py_binary/py_test on Debian's /usr/bin/python3,
    which has python3-grpcio (skip with register_python_toolchain = False).

This repository's own WORKSPACE calls it too. The two .bazelrc lines a
consumer adds are in README.md, "Use from another repository".
"""

load("//third_party:system_repositories.bzl", "absl_repository", "googletest_repository", "grpc_repository", "protobuf_repository")

def _stand_in_impl(rctx):
    # This repository's root, whatever name the consumer gave it.
    root = rctx.path(Label("//:deps.bzl")).dirname
    source = root.get_child("third_party").get_child(rctx.attr.directory)
    if not source.exists:
        fail("fixture_deps: %s is missing" % source)
    for child in source.readdir():
        rctx.symlink(child, child.basename)

_stand_in = repository_rule(
    implementation = _stand_in_impl,
    local = True,
    attrs = {"directory": attr.string(mandatory = True)},
)

def _maybe(rule, name, **kwargs):
    if not native.existing_rule(name):
        rule(name = name, **kwargs)

def fixture_deps(register_python_toolchain = True):
    """Declares the repositories fixture needs that are not declared yet.

    Args:
      register_python_toolchain: register //third_party/python's toolchain
        (Debian's /usr/bin/python3) for py_binary and py_test.
    """
    _maybe(_stand_in, "rules_cc", directory = "rules_cc")
    _maybe(_stand_in, "rules_proto", directory = "rules_proto")
    _maybe(_stand_in, "remote_coverage_tools", directory = "remote_coverage_tools")
    _maybe(native.local_repository, "rules_java", path = "/usr/share/bazel/rules/java")
    _maybe(protobuf_repository, "com_google_protobuf")
    _maybe(grpc_repository, "com_github_grpc_grpc")
    _maybe(absl_repository, "com_google_absl")
    _maybe(googletest_repository, "com_google_googletest")
    if register_python_toolchain:
        native.register_toolchains(str(Label("//third_party/python:debian_python_toolchain")))
