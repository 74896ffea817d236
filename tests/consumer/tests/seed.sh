#!/bin/sh
# A one-shot task of the consumer's graph: kv is up when it runs.
[ -n "$FIXTURE_KV_GRPC" ] || { echo "seed: FIXTURE_KV_GRPC is not set" >&2; exit 1; }
echo "seed: kv is at $FIXTURE_KV_GRPC"
