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
# Every acks=all message must be read back. acks=0 promises nothing, and
# with librdkafka's mock broker some can really vanish (12 of 20, once in
# ~10 runs on a loaded 2-core VM). The likely path, the first half seen in
# captures: the mock answers acks=0 Produce requests, the exiting producer
# closes its socket with those answers unread, its kernel sends a RST, and
# a broker that had not read the last requests yet loses them. They were
# on the wire all the same, so an observer must see them; the truth says
# how many never reached the log ("acks0_dropped").
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
# the broker's socket when kcat -P exits (or be gone), so go round again
# (the group has committed what it read) until all N are seen. The mock broker makes a
# re-join of an existing group wait about session.timeout.ms - 1s (librdkafka's
# default is 45 s), hence the low session timeout.
OUT=$(mktemp)
trap 'rm -f "$ERR" "$OUT"' EXIT
got_all=0 got0=0
for try in 1 2 3; do
	timeout "$TMO" kcat "${COMMON[@]}" -G "$GROUP" -e -f '%s\n' \
		-X client.id=kafkatap-kcat -X auto.offset.reset=earliest \
		-X session.timeout.ms=6000 \
		"$TOPIC" >"$OUT" 2>>"$ERR" || die "consumer failed (try $try)"
	# values are RUN-i: i < N_ACKS went with acks=all
	read -r a z < <(awk -v r="$RUN-" -v n="$N_ACKS" 'index($0, r) == 1 {
		if (substr($0, length(r) + 1) + 0 < n) a++; else z++ } END { print a + 0, z + 0 }' "$OUT")
	got_all=$((got_all + a)) got0=$((got0 + z))
	[ $((got_all + got0)) -ge "$N" ] && break
	sleep 1
done
consumed=$((got_all + got0))
dropped=$((N_ACKS0 - got0))
printf '{"client":"kcat","topic":"%s","produced":%d,"produced_acks_all":%d,"produced_acks0":%d,"consumed":%d,"acks0_dropped":%d,"group":"%s","client_id":"kafkatap-kcat","client_ids":["kafkatap-kcat","kafkatap-kcat-acks0"]}\n' \
	"$TOPIC" "$N" "$N_ACKS" "$N_ACKS0" "$consumed" "$dropped" "$GROUP"
[ "$got_all" -eq "$N_ACKS" ] && [ "$got0" -le "$N_ACKS0" ] ||
	die "consumed $got_all of $N_ACKS acks=all and $got0 of $N_ACKS0 acks=0 messages"
[ "$dropped" -eq 0 ] || echo "kcat.sh: the broker dropped $dropped of $N_ACKS0 acks=0 messages" >&2
