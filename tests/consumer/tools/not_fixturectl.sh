#!/bin/sh
echo "the consumer's own //tools:fixturectl ran instead of fixture's" >&2
exit 99
