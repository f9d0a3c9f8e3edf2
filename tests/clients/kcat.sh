#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# kcat workload: kcat.sh BOOTSTRAP TOPIC N
#
# Produces N keyed messages in two pipelined kcat runs: ceil(N/2) with
# acks=all (many messages per ProduceRequest, several requests in flight),
# then floor(N/2) with acks=0 (ProduceRequests that get no response). Then a
# kcat consumer group (-G) reads the topic to the end and counts the messages
# tagged with this run's id. Prints one JSON line with the truth.
#
# client.id: kafkatap-kcat (acks=all producer and consumer),
#            kafkatap-kcat-acks0 (acks=0 producer).
set -euo pipefail

if [ $# -ne 3 ] || ! [[ $3 =~ ^[0-9]+$ ]] || [ "$3" -lt 1 ]; then
	echo "usage: $0 BOOTSTRAP TOPIC N" >&2
	exit 2
fi
BS=$1 TOPIC=$2 N=$3
TMO=${KCAT_TIMEOUT:-60}
RUN=kcat-$$-$(date +%s%N)
GROUP=kafkatap-kcat-$$-$(date +%s)
N_ACKS=$(((N + 1) / 2))
N_ACKS0=$((N / 2))
COMMON=(-b "$BS" -X socket.timeout.ms=10000 -X message.timeout.ms=30000)
ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT

die() {
	echo "kcat.sh: $*" >&2
	sed 's/^/  /' "$ERR" >&2
	exit 1
}

# "key:value" lines; keys spread the batch over all partitions.
gen() { # FIRST COUNT
	awk -v f="$1" -v n="$2" -v r="$RUN" \
		'BEGIN { for (i = f; i < f + n; i++) printf "k%d:%s-%d\n", i, r, i }'
}

produce() { # FIRST COUNT ACKS CLIENT_ID
	[ "$2" -gt 0 ] || return 0
	gen "$1" "$2" | timeout "$TMO" kcat -P "${COMMON[@]}" -t "$TOPIC" -K: \
		-X client.id="$4" -X acks="$3" -X linger.ms=20 \
		-X batch.num.messages=50 -X max.in.flight=5 2>>"$ERR" ||
		die "produce (acks=$3) failed"
}

produce 0 "$N_ACKS" all kafkatap-kcat
produce "$N_ACKS" "$N_ACKS0" 0 kafkatap-kcat-acks0

# Read every assigned partition to its end. acks=0 sends may still be in
# the broker's socket when kcat -P exits, so go round again (the group has
# committed what it read) until all N are seen. The mock broker makes a
# re-join of an existing group wait about session.timeout.ms - 1s (librdkafka's
# default is 45 s), hence the low session timeout.
OUT=$(mktemp)
trap 'rm -f "$ERR" "$OUT"' EXIT
consumed=0
for try in 1 2 3; do
	timeout "$TMO" kcat "${COMMON[@]}" -G "$GROUP" -e -f '%s\n' \
		-X client.id=kafkatap-kcat -X auto.offset.reset=earliest \
		-X session.timeout.ms=6000 \
		"$TOPIC" >"$OUT" 2>>"$ERR" || die "consumer failed (try $try)"
	consumed=$((consumed + $(grep -c "^$RUN-" "$OUT" || true)))
	[ "$consumed" -ge "$N" ] && break
	sleep 1
done
printf '{"client":"kcat","topic":"%s","produced":%d,"produced_acks_all":%d,"produced_acks0":%d,"consumed":%d,"group":"%s","client_id":"kafkatap-kcat","client_ids":["kafkatap-kcat","kafkatap-kcat-acks0"]}\n' \
	"$TOPIC" "$N" "$N_ACKS" "$N_ACKS0" "$consumed" "$GROUP"
[ "$consumed" -eq "$N" ] || die "consumed $consumed of $N messages"
