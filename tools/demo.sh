#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make demo: a local Kafka cluster (librdkafka's mock cluster), a steady
# mixed workload (producers with acks=all and acks=0, a consumer group of
# two, a slow consumer), `kafkatap serve` for Prometheus and `kafkatap top`
# to watch. Ctrl-C stops everything and leaves nothing behind.
#
#   tools/demo.sh [SECONDS]   stop by itself after SECONDS (make demo DURATION=20)
#   KAFKATAP_LISTEN=:9977     where serve listens
set -u
cd "$(dirname "$0")/.."
DURATION=${1:-0}
LISTEN=${KAFKATAP_LISTEN:-:9977}
RUN=$(mktemp -d /tmp/kafkatap-demo.XXXXXX)
pids=()
export KAFKATAP_DEMO=$$	# marks the demo's processes (tests look for leftovers)

cleanup() {
	trap - INT TERM EXIT
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$RUN"
	echo
	echo "demo: stopped; kafkatap detached, cluster and clients gone."
	exit 0
}
trap cleanup INT TERM EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: kafkatap loads a BPF program: run as root (sudo make demo)" >&2
	trap - EXIT
	exit 1
fi

# Services run in sessions of their own: Ctrl-C reaches this script and
# top only, and cleanup stops the rest in order (clients before brokers,
# so consumers can leave their groups).
setsid .output/tools/mockcluster --brokers 3 --topic orders:6 --topic clicks:3 \
	--ready-file "$RUN/bootstrap" >/dev/null 2>"$RUN/mock.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$RUN/bootstrap" ] && break; sleep 0.05; done
BS=$(cat "$RUN/bootstrap" 2>/dev/null) || { echo "demo: the mock cluster did not start:" >&2; cat "$RUN/mock.err" >&2; exit 1; }
PORTS=$(tr ',' '\n' <<<"$BS" | sed 's/.*://' | paste -sd,)
PORT=${LISTEN##*:}
echo "demo: Kafka mock cluster at $BS"

setsid ./kafkatap serve -i lo -p "$PORTS" --listen "$LISTEN" 2>"$RUN/serve.err" &
pids+=($!)
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
	kill -0 "${pids[1]}" 2>/dev/null || { cat "$RUN/serve.err" >&2; exit 1; }
	sleep 0.1
done
setsid tools/demo_workload.py "$BS" 2>"$RUN/workload.err" &
pids+=($!)
echo "demo: clients running: checkout (acks=all), clickstream (acks=0), group billing x2, slow group audit"
echo "demo: Prometheus metrics: http://localhost:$PORT/metrics   (curl -s localhost:$PORT/metrics | grep kafkatap_)"

if [ -t 0 ] && [ -t 1 ]; then
	echo "demo: starting kafkatap top; keys: c clients, b brokers, r/l/n sort, q quit"
	sleep 2
	if [ "$DURATION" != 0 ]; then
		# In the foreground (a background job's stdin is /dev/null).
		timeout --foreground -s TERM "$DURATION" ./kafkatap top -i lo -p "$PORTS"
	else
		./kafkatap top -i lo -p "$PORTS"
	fi
else
	echo "demo: no terminal for kafkatap top: tracing instead (Ctrl-C to stop)"
	setsid ./kafkatap trace -i lo -p "$PORTS" --format text &
	pids+=($!)
	if [ "$DURATION" != 0 ]; then sleep "$DURATION"; else wait "${pids[-1]}"; fi
fi
