"""The subset of @rules_proto//proto:defs.bzl this project loads, as the native rules."""

proto_library = native.proto_library
proto_lang_toolchain = native.proto_lang_toolchain
