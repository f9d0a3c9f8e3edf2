#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The generated C (API table, STRUCTURE programs, codec) is committed; the
# Kafka specs it comes from are not. Regenerate it from the specs beside the
# project (../shared/kafka-protocol) and require it to be identical, so that
# a hand edit of generated code or a generator change left unrun fails.
set -u
cd "$(dirname "$0")/.." || exit 1
SPECS=${SPECS:-../shared/kafka-protocol/message}

if [ ! -d "$SPECS" ]; then
	echo "skipped: Kafka's message specs are not at $SPECS (they sit beside the project in CI)"
	exit 77
fi
make --no-print-directory check-gen SPECS="$SPECS"
