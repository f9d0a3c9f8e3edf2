#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make demo: a local Kafka cluster (librdkafka's mock cluster), clients
# producing and consuming on it, and kafkatap watching. Ctrl-C stops
# everything and leaves nothing behind.
#
#   tools/demo.sh [SECONDS]   stop by itself after SECONDS (for tests)
set -u
cd "$(dirname "$0")/.."
DURATION=${1:-0}
RUN=$(mktemp -d /tmp/kafkatap-demo.XXXXXX)
pids=()

cleanup() {
	trap - INT TERM EXIT
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -INT "${pids[i]}" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$RUN"
	echo
	echo "demo: stopped; kafkatap detached, cluster and clients gone."
}
trap cleanup INT TERM EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: kafkatap loads a BPF program: run as root (sudo make demo)" >&2
	exit 1
fi

.output/tools/mockcluster --brokers 3 --topic orders:6 --topic clicks:3 \
	--ready-file "$RUN/bootstrap" >/dev/null 2>"$RUN/mock.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$RUN/bootstrap" ] && break; sleep 0.05; done
BS=$(cat "$RUN/bootstrap" 2>/dev/null) || { echo "demo: the mock cluster did not start:" >&2; cat "$RUN/mock.err" >&2; exit 1; }
PORTS=$(tr ',' '\n' <<<"$BS" | sed 's/.*://' | paste -sd,)
echo "demo: Kafka mock cluster at $BS"

./kafkatap trace -i lo -p "$PORTS" --format text &
pids+=($!)
sleep 1.5
echo "demo: kafkatap is watching lo, ports $PORTS. Starting clients; Ctrl-C to stop."
tools/demo_workload.py "$BS" 2>"$RUN/workload.err" &
pids+=($!)

if [ "$DURATION" != 0 ]; then
	sleep "$DURATION"
else
	wait "${pids[1]}"
fi
