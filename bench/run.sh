#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# kafkatap benchmarks (`make bench` or bench/run.sh; see bench/README.md).
#
#  kernel    bpfbench: kernel ns per packet of the TC program under
#            BPF_PROG_TEST_RUN on a realistic stream, each packet run once,
#            the ring buffer warmed (wrapped) first: kafkatap's default
#            capture policy, bpf stats off and on in alternate blocks of one
#            run; the same mix with the agent behind (ring past the wakeup
#            threshold); HEADER-only capture, stats off. brokermix: ns per
#            KB of broker-like traffic (64 KiB Produce requests, 1 MiB Fetch
#            responses) on real skbs, as GSO super-packets and as 1448-byte
#            segments.
#  live      framegen (fake broker + pipelined clients) at 1K, 10K and 100K
#            frames/s, `kafkatap trace -i lo` beside it, and `kafkatap
#            serve` at the last rate: frames reported vs sent, lost records,
#            agent CPU per frame, kernel ns per packet
#            (kernel.bpf_stats_enabled=1), kernel + agent per Kafka frame.
#  exporter  /metrics with ~10K series: scrape wall time, CPU and size, text
#            and OpenMetrics; agent CPU per frame with the exporter on
#            (`kafkatap serve`) vs off (bench/agentbench.c), same load.
#  deep      agent CPU per frame and kernel ns per packet, STRUCTURE capture
#            (the default) vs HEADER-only, for Produce v9 requests and Fetch
#            v11 responses carrying record batches.
#  producer  a real producer (kcat, librdkafka) against librdkafka's mock
#            cluster, with and without `kafkatap serve` attached, alternated:
#            throughput ratio.
#  tshark    tshark decoding Kafka live on lo vs kafkatap on the same load:
#            CPU and RSS per exchange.
#  conns     RSS of `kafkatap serve` with 10K idle connections (default
#            ring buffer and --ringbuf-mb 4).
#
# Prints a summary table with the targets beside the figures. Benchmarks
# are not tests: a missed target is reported, not failed; exit status is
# 0 unless the benchmark could not run at all (not root, build failure).
#
# Environment: BENCH_ONLY (parts to run, default all: "kernel live exporter
# deep producer tshark conns"), BENCH_RATES ("1000 10000 100000"), BENCH_SECONDS
# (10), BENCH_PORT (19092), BENCH_LISTEN_PORT (19977), BENCH_PACKETS
# (200000), BENCH_CONNS (8), BENCH_CMP_RATE (50000), BENCH_CMP_SECONDS (8),
# BENCH_EXP_SECONDS (6, each of the 4 exporter on/off runs),
# BENCH_SERIES_CIDS (2000), BENCH_SCRAPES (20), BENCH_PRODUCER_MSGS
# (2000000), BENCH_PRODUCER_PAIRS (7), BENCH_TSHARK_RATE (10000),
# BENCH_TSHARK_SECONDS (5), BENCH_IDLE_CONNS (10000), BENCH_LIVE_HEADER
# (1: the last live rate again with HEADER capture), BENCH_PERF=1 (perf
# record kafkatap during the last live rate).

set -u
cd "$(dirname "$0")/.." || exit 1

OUT=.output/bench
RES=bench/results
PORT=${BENCH_PORT:-19092}
LPORT=${BENCH_LISTEN_PORT:-19977}
RATES=${BENCH_RATES:-"1000 10000 100000"}
SECS=${BENCH_SECONDS:-10}
PACKETS=${BENCH_PACKETS:-200000}
CONNS=${BENCH_CONNS:-8}
CMP_RATE=${BENCH_CMP_RATE:-50000}
CMP_SECS=${BENCH_CMP_SECONDS:-8}
EXP_SECS=${BENCH_EXP_SECONDS:-6}
SERIES_CIDS=${BENCH_SERIES_CIDS:-2000}
SCRAPES=${BENCH_SCRAPES:-20}
PROD_MSGS=${BENCH_PRODUCER_MSGS:-2000000}
PROD_PAIRS=${BENCH_PRODUCER_PAIRS:-7}
TS_RATE=${BENCH_TSHARK_RATE:-10000}
TS_SECS=${BENCH_TSHARK_SECONDS:-5}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
PERF=${BENCH_PERF:-0}
LIVE_HEADER=${BENCH_LIVE_HEADER:-1}
PARTS=${BENCH_ONLY:-"kernel live exporter deep producer tshark conns"}
PY=/usr/bin/python3
MOCK=.output/tools/mockcluster
URL=http://127.0.0.1:$LPORT/metrics
CFLAGS="-g -O2 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
-Werror -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I.output"
LIBS="-lbpf -lelf -lz -lpcap -lmicrohttpd -lncursesw -lm -lpthread"

# Every process this script starts, by role: cleanup() stops each by its id.
KT_PID=
FG_PID=
PERF_PID=
SCR_PID=
TS_PID=
DC_PID=
MC_PID=
KC_PID=
STATS_PREV=
TMPFILES=()

say() { printf 'bench: %s\n' "$*" >&2; }
want() { [[ " $PARTS " == *" $1 "* ]]; }

stop_pid() {	# stop_pid PID SIGNAL: signal, wait up to 5 s, then SIGKILL
	local pid=$1 sig=$2
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

stats_on() {	# kernel.bpf_stats_enabled=1 until stats_restore
	[ -n "$STATS_PREV" ] && return
	STATS_PREV=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
}

stats_restore() {
	if [ -n "$STATS_PREV" ]; then
		sysctl -qw kernel.bpf_stats_enabled="$STATS_PREV"
		STATS_PREV=
	fi
}

cleanup() {
	stop_pid "$PERF_PID" INT
	stop_pid "$SCR_PID" TERM
	stop_pid "$KC_PID" TERM
	stop_pid "$FG_PID" TERM
	stop_pid "$TS_PID" INT
	stop_pid "$DC_PID" TERM
	stop_pid "$KT_PID" INT
	stop_pid "$MC_PID" TERM
	stats_restore
	[ ${#TMPFILES[@]} -gt 0 ] && rm -f "${TMPFILES[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	say "needs root (BPF_PROG_TEST_RUN, TC attach, sysctl); not run"
	exit 1
fi

# --- build -------------------------------------------------------------
# bench/results/ holds the last run only (it is git-ignored).
rm -f "$RES"/*
mkdir -p "$OUT" "$RES"
if ! make -s kafkatap; then
	# The tree may be mid-edit: an earlier build still measures something.
	[ -x kafkatap ] && [ -f .output/kafkatap.skel.h ] || { say "make failed"; exit 1; }
	say "WARNING: make failed; measuring the existing ./kafkatap and .output/ (stale?)"
fi
if want producer && [ ! -x "$MOCK" ]; then
	make -s "$MOCK" || say "could not build $MOCK: the producer part will not run"
fi
# The agent's objects but main.o, as an archive: only what a program uses
# is linked, so an unrelated object of a tree in mid-edit does not break it.
rm -f "$OUT/libkt.a"
find .output/user -name '*.o' ! -name main.o -print0 | xargs -0 ar rcs "$OUT/libkt.a"
# shellcheck disable=SC2086
cc $CFLAGS bench/bpfbench.c "$OUT/libkt.a" $LIBS -o "$OUT/bpfbench" &&
	cc $CFLAGS bench/agentbench.c "$OUT/libkt.a" $LIBS -o "$OUT/agentbench" &&
	cc $CFLAGS bench/brokermix.c "$OUT/libkt.a" $LIBS -o "$OUT/brokermix" &&
	cc $CFLAGS bench/framegen.c -lpthread -o "$OUT/framegen" || {
	say "building bench/ failed"
	exit 1
}

kv() {	# kv FILE KEY: the value of KEY=value in FILE
	sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1
}
num() {	# num TEXT KEY: the number after KEY= in TEXT
	printf '%s\n' "$1" | grep -o "[ (]$2=[0-9]*" | head -1 | sed 's/.*=//'
}
jnum() {	# jnum JSON KEY: the first number after "KEY":
	printf '%s\n' "$1" | grep -o "\"$2\":[0-9.]*" | head -1 | sed 's/.*://'
}
jget() {	# jget FILE PATH...: a value of a JSON file (python), "" if absent
	$PY - "$@" <<'EOF' 2>/dev/null
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2:]:
        v = v[k]
    print("" if v is None else v)
except Exception:
    print("")
EOF
}
# Arithmetic that prints n/a when a figure is missing.
AWKNUM='function ok(x) { return x != "" && x ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ }'
sub() {
	awk -v a="$1" -v b="$2" "$AWKNUM"' BEGIN {
		if (ok(a) && ok(b)) printf "%.1f", a - b; else print "n/a" }'
}
div() {
	awk -v a="$1" -v b="$2" "$AWKNUM"' BEGIN {
		if (ok(a) && ok(b) && b + 0) printf "%.1f", a / b; else print "n/a" }'
}
div3() {
	awk -v a="$1" -v b="$2" "$AWKNUM"' BEGIN {
		if (ok(a) && ok(b) && b + 0) printf "%.3f", a / b; else print "n/a" }'
}
ratio() {
	awk -v a="$1" -v b="$2" "$AWKNUM"' BEGIN {
		if (ok(a) && ok(b) && b + 0) printf "%.2fx", a / b; else print "n/a" }'
}
ratio3() {
	awk -v a="$1" -v b="$2" "$AWKNUM"' BEGIN {
		if (ok(a) && ok(b) && b + 0) printf "%.3f", a / b; else print "n/a" }'
}
gt() { awk -v a="$1" -v b="$2" "$AWKNUM"' BEGIN { exit !(ok(a) && ok(b) && a + 0 > b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" "$AWKNUM"' BEGIN { exit !(ok(a) && ok(b) && a + 0 < b + 0) }'; }
median() {	# median N...
	printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -g |
		awk '{ v[NR] = $1 } END { if (!NR) print "n/a";
			else if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
			else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_ns() {	# CPU time of every thread of PID, ns (schedstat: finer than ticks)
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'
}
vm_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
mb() { awk -v a="$1" "$AWKNUM"' BEGIN { if (ok(a)) printf "%.1f", a / 1024; else print "n/a" }'; }
bpf_map_rss_kb() {	# Rss of PID's BPF map mappings (the ring buffer), kB
	awk '/^[0-9a-f]+-[0-9a-f]+ / { m = ($6 == "anon_inode:bpf-map") }
	     m && $1 == "Rss:" { s += $2 } END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null
}
prog_id_of() {	# the BPF program held by PID
	grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | head -1 | awk '{ print $2 }'
}
prog_stat() {	# prog_stat ID: "run_time_ns run_cnt"
	bpftool prog show id "$1" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) {
			if ($i == "run_time_ns") t = $(i + 1);
			if ($i == "run_cnt") c = $(i + 1) } }
		     END { print (t ? t : 0), (c ? c : 0) }'
}
attached() {	# attached PID: its program is on an interface
	local id
	id=$(prog_id_of "$1")
	[ -n "$id" ] || return 1
	# A tcx link (Debian's bpftool 7.1 does not list tcx links) ...
	grep -qs '^link_type:' /proc/"$1"/fdinfo/* && return 0
	# ... or a clsact filter.
	bpftool net show dev lo 2>/dev/null | grep -q "prog_id $id"
}

CLK_TCK=$(getconf CLK_TCK)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average at start: $LOAD0 ($(nproc) CPUs); parts: $PARTS"
BUSY=$(ps -eo pcpu=,pid=,comm= --sort=-pcpu 2>/dev/null |
	awk '$1 >= 20 && $3 != "ps" { printf "%s%s (pid %s, %s%%)", s, $3, $2, $1; s = ", " }')
[ -n "$BUSY" ] && say "busy processes at start, not ours (they add noise): $BUSY"
declare -A R		# results: R[run.figure]
ok() { [ -n "${R[$1.ok]:-}" ]; }	# ok RUN: RUN's figures are in

# --- kafkatap under load: start, measure, stop --------------------------
# kt_start NAME STDOUT CMD...: start a kafkatap-like command in the
# background, wait until its program is attached (15 s at most).
# Sets KT_PID and KT_PROG; returns 1 if it did not attach.
kt_start() {
	local name=$1 out=$2
	shift 2
	"$@" > "$out" 2> "$RES/$name.err" &
	KT_PID=$!
	KT_PROG=
	for _ in $(seq 150); do
		sleep 0.1
		kill -0 "$KT_PID" 2>/dev/null || break
		if attached "$KT_PID"; then
			KT_PROG=$(prog_id_of "$KT_PID")
			break
		fi
	done
	if [ -z "$KT_PROG" ]; then
		kill -0 "$KT_PID" 2>/dev/null && say "$name: not attached after 15 s"
		say "$name: did not start: $(grep -v 'serving metrics' "$RES/$name.err" | head -2)"
		stop_pid "$KT_PID" INT
		KT_PID=
		return 1
	fi
	sleep 0.3
	return 0
}

# kt_measure NAME FRAMEGEN-ARGS...: with kafkatap (KT_PID) attached, turn
# bpf stats on, run framegen, read the figures into R[NAME.*], stop kafkatap.
# MEASURE_PERF=1: perf record kafkatap meanwhile. MEASURE_SCRAPE=1: scrape
# /metrics every second meanwhile.
kt_measure() {
	local n=$1 rt0 rc0 rt1 rc1 c0 c1 sn0 sn1 fg k ticks
	shift
	stats_on
	read -r rt0 rc0 <<< "$(prog_stat "$KT_PROG")"
	# Someone else's programs on lo run on our packets too: say so.
	R[$n.others]=$(( $(bpftool net show dev lo 2>/dev/null | grep -c 'prog_id') - \
		$(bpftool net show dev lo 2>/dev/null | grep -c "prog_id $KT_PROG") ))
	c0=$(cpu_ticks "$KT_PID")
	sn0=$(cpu_ns "$KT_PID")
	if [ "${MEASURE_PERF:-0}" = 1 ]; then
		perf record -q -F 999 -g -p "$KT_PID" -o "$RES/perf.data" > /dev/null 2>&1 &
		PERF_PID=$!
	fi
	if [ "${MEASURE_SCRAPE:-0}" = 1 ]; then
		$PY bench/scrape.py --every 1 "$URL" > /dev/null 2>&1 &
		SCR_PID=$!
	fi
	"$OUT/framegen" -p "$PORT" "$@" > "$RES/$n.framegen.json" 2> "$RES/$n.framegen.err" &
	FG_PID=$!
	wait "$FG_PID"
	FG_PID=
	sleep 0.5	# the agent drains what is left in the ring buffer
	c1=$(cpu_ticks "$KT_PID")
	sn1=$(cpu_ns "$KT_PID")
	read -r rt1 rc1 <<< "$(prog_stat "$KT_PROG")"
	R[$n.hwm]=$(vm_kb "$KT_PID" VmHWM)
	stats_restore
	stop_pid "$SCR_PID" TERM
	SCR_PID=
	if [ -n "$PERF_PID" ]; then
		stop_pid "$PERF_PID" INT
		PERF_PID=
		perf report -i "$RES/perf.data" --no-children --sort sym --stdio 2> /dev/null |
			grep -E '^ +[0-9.]+%' | head -25 > "$RES/perf.txt"
	fi
	stop_pid "$KT_PID" INT
	KT_PID=

	fg=$(cat "$RES/$n.framegen.json" 2>/dev/null)
	k=$(cat "$RES/$n.err")
	say "  framegen: $fg"
	say "  kafkatap: $(grep -E 'kernel:|agent:' <<< "$k" | tr '\n' ' ' | cut -c1-400)"
	R[$n.sent]=$(jnum "$fg" sent)
	if [ -z "${R[$n.sent]}" ]; then
		say "framegen did not run (port $PORT in use? see $RES/$n.framegen.err)"
		return 1
	fi
	R[$n.answered]=$(jnum "$fg" answered)
	R[$n.achieved]=$(jnum "$fg" rate)
	R[$n.frame_bytes]=$(jnum "$fg" frame_bytes)
	R[$n.response_bytes]=$(jnum "$fg" response_bytes)
	k=$(grep -E 'kernel:|agent:' <<< "$k")
	R[$n.req]=$(num "$(grep 'kernel:' <<< "$k")" requests)
	R[$n.resp]=$(num "$(grep 'kernel:' <<< "$k")" responses)
	R[$n.pkts]=$(num "$(grep 'kernel:' <<< "$k")" packets)
	R[$n.data_records]=$(num "$(grep 'kernel:' <<< "$k")" data_records)
	R[$n.walk_failed]=$(num "$(grep 'kernel:' <<< "$k")" structure_walks_failed)
	R[$n.batches]=$(num "$(grep 'kernel:' <<< "$k")" structure_batch_headers)
	R[$n.rbfull]=$(num "$(grep 'kernel:' <<< "$k")" ringbuf_full)
	R[$n.rbfull]=${R[$n.rbfull]:-0}
	R[$n.walk_failed]=${R[$n.walk_failed]:-0}
	R[$n.batches]=${R[$n.batches]:-0}
	R[$n.data_records]=${R[$n.data_records]:-0}
	R[$n.paired]=$(num "$(grep 'agent:' <<< "$k")" paired)
	R[$n.pevict]=$(num "$(grep 'agent:' <<< "$k")" pending_evictions)
	R[$n.kunmatched]=$(num "$(grep 'kernel:' <<< "$k")" responses_unmatched)
	ticks=$((c1 - c0))
	R[$n.ticks]=$ticks
	R[$n.cpu_ns]=$(div "$((ticks * 1000000000 / CLK_TCK))" "${R[$n.req]}")
	R[$n.run_cnt]=$((rc1 - rc0))
	R[$n.run_ns]=$((rt1 - rt0))
	R[$n.ns_pkt]=$(div "$((rt1 - rt0))" "$((rc1 - rc0))")
	R[$n.ns_frame]=$(div "$((rt1 - rt0))" "$(( ${R[$n.req]:-0} + ${R[$n.resp]:-0} ))")
	R[$n.ns_req]=$(div "$((rt1 - rt0))" "${R[$n.req]}")
	# Agent CPU from schedstat (ns), and kernel + agent per Kafka frame.
	R[$n.cpu_ns_frame]=$(div "$((sn1 - sn0))" "$(( ${R[$n.req]:-0} + ${R[$n.resp]:-0} ))")
	R[$n.total_ns_frame]=$(div "$((sn1 - sn0 + rt1 - rt0))" "$(( ${R[$n.req]:-0} + ${R[$n.resp]:-0} ))")
	R[$n.ok]=1
	return 0
}

SERVE=(./kafkatap serve -i lo -p "$PORT" --listen "127.0.0.1:$LPORT" --stats)
TRACE=(./kafkatap trace -i lo -p "$PORT" --stats --format json)

# --- kernel: BPF_PROG_TEST_RUN -----------------------------------------
STATS_AT_START=$(sysctl -n kernel.bpf_stats_enabled)
[ "$STATS_AT_START" = 0 ] ||
	say "kernel.bpf_stats_enabled is already 1 (someone else's): stats-off figures include stats overhead"
B=$RES/bpfbench.txt
BH=$RES/bpfbench-header.txt
B_OK='' BH_OK=''
bpfbench_run() {	# bpfbench_run OUTFILE ARGS...
	local f=$1
	shift
	if "$OUT/bpfbench" -n "$PACKETS" -c "$CONNS" "$@" > "$f" 2> "${f%.txt}.err"; then
		grep -v '^bpfbench\.' "$f" >&2
		return 0
	fi
	say "bpfbench failed: $(grep -v '^[0-9;]' "${f%.txt}.err" | tail -2)"
	return 1
}
if want kernel; then
	say "bpfbench: $PACKETS packets, each run once, default capture policy, bpf stats off and on in alternate blocks ..."
	bpfbench_run "$B" -P default -S && B_OK=1
	say "bpfbench: HEADER capture for every API, bpf stats off ..."
	bpfbench_run "$BH" -P header && BH_OK=1
	say "brokermix: 64 KiB Produce requests and 1 MiB Fetch responses through a veth's TC hook ..."
	BM=$RES/brokermix.txt
	BM_OK=''
	if "$OUT/brokermix" > "$BM" 2> "$RES/brokermix.err"; then
		grep -v '^brokermix\.' "$BM" >&2
		BM_OK=1
	else
		say "brokermix failed: $(tail -2 "$RES/brokermix.err")"
	fi
fi

# --- live on lo ------------------------------------------------------------
if want live; then
	for r in $RATES; do
		kt_start "live-$r" /dev/null "${TRACE[@]}" || continue
		say "live: $r frames/s for $SECS s on lo:$PORT ($CONNS connections), kafkatap trace ..."
		MEASURE_PERF=0
		[ "$PERF" = 1 ] && [ "$r" = "${RATES##* }" ] && MEASURE_PERF=1
		MEASURE_PERF=$MEASURE_PERF kt_measure "live-$r" -r "$r" -s "$SECS" -c "$CONNS"
	done
	# serve (the exporter's pipeline, scraped) at the last rate.
	r=${RATES##* }
	if kt_start "live-serve-$r" /dev/null "${SERVE[@]}"; then
		say "live: $r frames/s for $SECS s, kafkatap serve scraped every second ..."
		MEASURE_SCRAPE=1 kt_measure "live-serve-$r" -r "$r" -s "$SECS" -c "$CONNS"
	fi
	# The same load at the last rate with HEADER-only capture: does the
	# generator keep up when kafkatap does not walk the frames?
	if [ "$LIVE_HEADER" = 1 ]; then
		r=${RATES##* }
		if kt_start "live-$r-header" /dev/null "${TRACE[@]}" --capture Produce=header \
			--capture Fetch=header; then
			say "live: $r frames/s for $SECS s, kafkatap trace with HEADER capture ..."
			kt_measure "live-$r-header" -r "$r" -s "$SECS" -c "$CONNS"
		fi
	fi
fi

# --- exporter: 10K series, scrapes; CPU on vs off -----------------------
SCRAPE_OK=
if want exporter; then
	if kt_start series /dev/null "${SERVE[@]}" --max-client-ids "$((SERIES_CIDS + 256))"; then
		say "exporter: $SERIES_CIDS client_ids x 4 topics of Produce v9 to make ~$((SERIES_CIDS * 5)) series ..."
		"$OUT/framegen" -p "$PORT" -k p9 -n "$SERIES_CIDS" -T 4 -r 20000 -s 2 -c "$CONNS" \
			> "$RES/series.framegen.json" 2> "$RES/series.framegen.err" &
		FG_PID=$!
		wait "$FG_PID"
		FG_PID=
		sleep 0.5
		say "exporter: $SCRAPES scrapes each of text and OpenMetrics ..."
		curl -s -o "$RES/metrics-series.txt" "$URL"
		command -v promtool > /dev/null &&
			R[series.promtool]=$(promtool check metrics < "$RES/metrics-series.txt" 2>&1 | grep -c .)
		$PY bench/scrape.py "$URL" "$KT_PID" "$SCRAPES" > "$RES/scrape.json" 2> "$RES/scrape.err" &&
			SCRAPE_OK=1
		R[series.rss]=$(vm_kb "$KT_PID" VmRSS)
		R[series.anon]=$(vm_kb "$KT_PID" RssAnon)
		stop_pid "$KT_PID" INT
		KT_PID=
		say "  scrapes: $(cat "$RES/scrape.json" 2>/dev/null)"
	fi
	# off, on, on, off: a drift of the machine during the four runs cancels.
	for n in exp-off-1 exp-on-1 exp-on-2 exp-off-2; do
		if [ "${n#exp-off}" != "$n" ]; then
			kt_start "$n" /dev/null "$OUT/agentbench" -i lo -p "$PORT" --stats || continue
			say "exporter off (agentbench: serve's pipeline, no metrics): $CMP_RATE frames/s for $EXP_SECS s ..."
			kt_measure "$n" -r "$CMP_RATE" -s "$EXP_SECS" -c "$CONNS"
		else
			kt_start "$n" /dev/null "${SERVE[@]}" || continue
			say "exporter on (kafkatap serve, scraped every second): $CMP_RATE frames/s for $EXP_SECS s ..."
			MEASURE_SCRAPE=1 kt_measure "$n" -r "$CMP_RATE" -s "$EXP_SECS" -c "$CONNS"
		fi
	done
	# Each side: CPU over both runs / request frames over both runs.
	for side in off on; do
		if ok "exp-$side-1" && ok "exp-$side-2"; then
			R[exp-$side.ok]=1
			R[exp-$side.cpu_ns]=$(div "$(( (${R[exp-$side-1.ticks]} + ${R[exp-$side-2.ticks]}) \
				* 1000000000 / CLK_TCK ))" "$(( ${R[exp-$side-1.req]} + ${R[exp-$side-2.req]} ))")
			R[exp-$side.achieved]="${R[exp-$side-1.achieved]}, ${R[exp-$side-2.achieved]}"
		fi
	done
fi

# --- deep decoding: STRUCTURE vs HEADER ---------------------------------
if want deep; then
	for kind in p9 f11; do
		for pol in structure header; do
			n=deep-$kind-$pol
			if [ "$pol" = header ]; then
				kt_start "$n" /dev/null "${SERVE[@]}" --capture Produce=header \
					--capture Fetch=header || continue
			else
				kt_start "$n" /dev/null "${SERVE[@]}" || continue
			fi
			say "deep: $kind, $pol capture, $CMP_RATE frames/s for $CMP_SECS s, kafkatap serve ..."
			kt_measure "$n" -k "$kind" -R 10 -V 100 -r "$CMP_RATE" -s "$CMP_SECS" -c "$CONNS"
		done
	done
fi

# --- producer throughput with and without kafkatap -----------------------
PROD_OK=
child_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }	# the script's waited-for children
# run_kcat LABEL: one kcat run of PROD_MSGS messages. Sets KC_RATE
# (messages/s, wall clock), KC_CPU (CPU ticks of kcat and of the mock
# broker); both empty if kcat failed.
run_kcat() {
	local t0 t1 rc c0 c1 m0 m1
	KC_RATE='' KC_CPU=''
	c0=$(child_ticks)
	m0=$(cpu_ticks "$MC_PID")
	t0=$(date +%s%N)
	kcat -P -b "$BOOT" -t bench -l "$MSGFILE" > /dev/null 2> "$RES/$1.kcat.err" &
	KC_PID=$!
	wait "$KC_PID"
	rc=$?
	KC_PID=
	t1=$(date +%s%N)
	m1=$(cpu_ticks "$MC_PID")
	c1=$(child_ticks)
	if [ "$rc" != 0 ] || grep -qiE 'fail|error' "$RES/$1.kcat.err"; then
		say "kcat ($1) failed: $(head -2 "$RES/$1.kcat.err")"
		return
	fi
	KC_RATE=$(awk -v n="$PROD_MSGS" -v ns="$((t1 - t0))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
	KC_CPU=$(( c1 - c0 + m1 - m0 ))
}
if want producer; then
	if ! command -v kcat > /dev/null || [ ! -x "$MOCK" ]; then
		say "producer: kcat or $MOCK missing: not measured"
	else
		MSGFILE=$(mktemp /tmp/kafkatap-bench-msgs.XXXXXX)
		TMPFILES+=("$MSGFILE")
		yes "$(printf 'kafkatap-bench-%085d' 0)" | head -n "$PROD_MSGS" > "$MSGFILE"
		rm -f "$RES/mock.bootstrap"
		"$MOCK" --brokers 1 --topic bench:1 --ready-file "$RES/mock.bootstrap" \
			> "$RES/mock.out" 2>&1 &
		MC_PID=$!
		for _ in $(seq 100); do
			[ -s "$RES/mock.bootstrap" ] && break
			sleep 0.1
		done
		BOOT=$(cat "$RES/mock.bootstrap" 2>/dev/null)
		BPORT=${BOOT##*:}
		if [ -z "$BOOT" ]; then
			say "producer: the mock cluster did not start: $(head -2 "$RES/mock.out")"
		else
			say "producer: kcat, $PROD_MSGS messages of 100 bytes to $BOOT (mock cluster), warm-up ..."
			run_kcat prod-warmup
			RATIOS=() CPURATIOS=() ONS=() OFFS=() CPUONS=() CPUOFFS=()
			for i in $(seq "$PROD_PAIRS"); do
				order="off on"
				[ $((i % 2)) = 0 ] && order="on off"
				for side in $order; do
					R[prod.$side.$i]='' R[prod.cpu.$side.$i]=''
					if [ "$side" = on ]; then
						kt_start "prod-on-$i" /dev/null ./kafkatap serve -i lo -p "$BPORT" \
							--listen "127.0.0.1:$LPORT" --stats || continue
						c0=$(cpu_ticks "$KT_PID")
						t0=$(date +%s%N)
					fi
					run_kcat "prod-$side-$i"
					R[prod.$side.$i]=$KC_RATE
					R[prod.cpu.$side.$i]=$KC_CPU
					[ "$side" = off ] && continue
					t1=$(date +%s%N)
					c1=$(cpu_ticks "$KT_PID")
					stop_pid "$KT_PID" INT
					KT_PID=
					R[prod.kt_ticks.$i]=$((c1 - c0))
					R[prod.kt_ms.$i]=$(( (t1 - t0) / 1000000 ))
					R[prod.kt_req.$i]=$(num "$(grep 'kernel:' "$RES/prod-on-$i.err")" requests)
				done
				say "  pair $i ($order): off ${R[prod.off.$i]:-n/a} msg/s (${R[prod.cpu.off.$i]:-n/a} ticks)," \
					"on ${R[prod.on.$i]:-n/a} msg/s (${R[prod.cpu.on.$i]:-n/a} ticks);" \
					"kafkatap saw ${R[prod.kt_req.$i]:-n/a} requests, used ${R[prod.kt_ticks.$i]:-n/a} ticks"
				if [ -n "${R[prod.off.$i]}" ] && [ -n "${R[prod.on.$i]}" ]; then
					RATIOS+=("$(ratio3 "${R[prod.on.$i]}" "${R[prod.off.$i]}")")
					ONS+=("${R[prod.on.$i]}")
					OFFS+=("${R[prod.off.$i]}")
					CPUONS+=("${R[prod.cpu.on.$i]}")
					CPUOFFS+=("${R[prod.cpu.off.$i]}")
					CPURATIOS+=("$(ratio3 "${R[prod.cpu.on.$i]}" "${R[prod.cpu.off.$i]}")")
				fi
			done
			# One more run with kafkatap and bpf stats on (not in the ratios):
			# the kernel time kafkatap's program takes per message.
			if kt_start prod-stats /dev/null ./kafkatap serve -i lo -p "$BPORT" \
				--listen "127.0.0.1:$LPORT" --stats; then
				stats_on
				read -r rt0 rc0 <<< "$(prog_stat "$KT_PROG")"
				run_kcat prod-stats
				read -r rt1 rc1 <<< "$(prog_stat "$KT_PROG")"
				stats_restore
				stop_pid "$KT_PID" INT
				KT_PID=
				if [ -n "$KC_CPU" ]; then
					R[prod.k_ns_msg]=$(awk -v t="$((rt1 - rt0))" -v n="$PROD_MSGS" \
						'BEGIN { printf "%.2f", t / n }')
					R[prod.k_pct]=$(awk -v t="$((rt1 - rt0))" -v c="$KC_CPU" -v hz="$CLK_TCK" \
						'BEGIN { if (c) printf "%.2f", 100 * t / (c * 1e9 / hz); else print "n/a" }')
					R[prod.k_runs]=$((rc1 - rc0))
					R[prod.k_ns_run]=$(div "$((rt1 - rt0))" "$((rc1 - rc0))")
				fi
				say "  stats run: ${KC_RATE:-n/a} msg/s; kafkatap's program: ${R[prod.k_runs]:-n/a} runs," \
					"$(( (rt1 - rt0) / 1000000 )) ms in all"
			fi
			if [ ${#RATIOS[@]} -gt 0 ]; then
				PROD_OK=1
				R[prod.ratio]=$(median "${RATIOS[@]}")
				R[prod.ratios]="${RATIOS[*]}"
				R[prod.cpuratio]=$(median "${CPURATIOS[@]}")
				R[prod.cpuratios]="${CPURATIOS[*]}"
				R[prod.on]=$(median "${ONS[@]}")
				R[prod.off]=$(median "${OFFS[@]}")
				R[prod.cpu_on_ns]=$(awk -v t="$(median "${CPUONS[@]}")" -v hz="$CLK_TCK" \
					-v n="$PROD_MSGS" 'BEGIN { printf "%.1f", t * 1e9 / hz / n }')
				R[prod.cpu_off_ns]=$(awk -v t="$(median "${CPUOFFS[@]}")" -v hz="$CLK_TCK" \
					-v n="$PROD_MSGS" 'BEGIN { printf "%.1f", t * 1e9 / hz / n }')
				tk=0 ms=0 rq=0
				for i in $(seq "$PROD_PAIRS"); do
					tk=$((tk + ${R[prod.kt_ticks.$i]:-0}))
					ms=$((ms + ${R[prod.kt_ms.$i]:-0}))
					rq=$((rq + ${R[prod.kt_req.$i]:-0}))
				done
				R[prod.kt_cpu_pct]=$(awk -v t="$tk" -v hz="$CLK_TCK" -v ms="$ms" \
					'BEGIN { if (ms) printf "%.1f", 100 * t / hz / (ms / 1000); else print "n/a" }')
				R[prod.kt_req]=$rq
				R[prod.kt_us_req]=$(div "$((tk * 1000000 / CLK_TCK))" "$rq")
			fi
		fi
		stop_pid "$MC_PID" TERM
		MC_PID=
	fi
fi

# --- tshark vs kafkatap on the same load ----------------------------------
TS_OK=
if want tshark; then
	if ! command -v tshark > /dev/null; then
		say "tshark: not installed: not measured"
	else
		say "tshark: live on lo, decoding Kafka on port $PORT, $TS_RATE frames/s for $TS_SECS s ..."
		tshark -i lo -f "tcp port $PORT" -d "tcp.port==$PORT,kafka" -T fields \
			-e kafka.correlation_id > "$RES/tshark.out" 2> "$RES/tshark.err" &
		TS_PID=$!
		for _ in $(seq 150); do
			sleep 0.1
			kill -0 "$TS_PID" 2>/dev/null || break
			grep -q 'Capturing on' "$RES/tshark.err" && DC_PID=$(pgrep -P "$TS_PID" dumpcap | head -1)
			[ -n "$DC_PID" ] && break
		done
		if [ -z "$DC_PID" ]; then
			say "tshark did not start capturing: $(grep -v 'Running as' "$RES/tshark.err" | head -2)"
			stop_pid "$TS_PID" INT
			TS_PID=
		else
			sleep 0.5
			c0=$(( $(cpu_ticks "$TS_PID") + $(cpu_ticks "$DC_PID") ))
			"$OUT/framegen" -p "$PORT" -r "$TS_RATE" -s "$TS_SECS" -c "$CONNS" \
				> "$RES/tshark.framegen.json" 2> "$RES/tshark.framegen.err" &
			FG_PID=$!
			wait "$FG_PID"
			FG_PID=
			# tshark may lag behind: wait until it stops using CPU (60 s at most).
			prev=-1
			for _ in $(seq 60); do
				cur=$(( $(cpu_ticks "$TS_PID") + $(cpu_ticks "$DC_PID") ))
				[ "$cur" = "$prev" ] && break
				prev=$cur
				sleep 1
			done
			c1=$(( $(cpu_ticks "$TS_PID") + $(cpu_ticks "$DC_PID") ))
			R[ts.ticks]=$((c1 - c0))
			R[ts.dc_ticks]=$(cpu_ticks "$DC_PID")
			R[ts.hwm]=$(vm_kb "$TS_PID" VmHWM)
			R[ts.dc_hwm]=$(vm_kb "$DC_PID" VmHWM)
			stop_pid "$TS_PID" INT
			TS_PID=
			stop_pid "$DC_PID" TERM
			DC_PID=
			fg=$(cat "$RES/tshark.framegen.json")
			R[ts.sent]=$(jnum "$fg" sent)
			R[ts.achieved]=$(jnum "$fg" rate)
			R[ts.pdus]=$(tr ',' '\n' < "$RES/tshark.out" | grep -c '[0-9]')
			R[ts.captured]=$(grep -o '[0-9]* packets captured' "$RES/tshark.err" | grep -o '^[0-9]*' | head -1)
			R[ts.dropped]=$(grep -o '[0-9]* packets dropped' "$RES/tshark.err" | grep -o '^[0-9]*' | head -1)
			R[ts.us_ex]=$(div3 "$(( ${R[ts.ticks]} * 1000000 / CLK_TCK ))" "${R[ts.sent]}")
			R[ts.us_pdu]=$(div3 "$(( ${R[ts.ticks]} * 1000000 / CLK_TCK ))" "${R[ts.pdus]}")
			say "  tshark: ${R[ts.ticks]} ticks (dumpcap ${R[ts.dc_ticks]}), ${R[ts.pdus]} Kafka PDUs decoded," \
				"max RSS ${R[ts.hwm]} kB (dumpcap ${R[ts.dc_hwm]} kB); framegen: $fg"
			if kt_start ts-kafkatap /dev/null "${TRACE[@]}"; then
				say "tshark: kafkatap trace on the same load ..."
				kt_measure ts-kafkatap -r "$TS_RATE" -s "$TS_SECS" -c "$CONNS" && TS_OK=1
			fi
		fi
	fi
fi

# --- RSS at 10K idle connections ------------------------------------------
if want conns; then
	for rb in 8 4; do	# 8: the default
		n=conns-$rb
		kt_start "$n" /dev/null "${SERVE[@]}" --ringbuf-mb "$rb" || continue
		say "conns: $IDLE_CONNS idle connections (one exchange each), kafkatap serve --ringbuf-mb $rb ..."
		"$OUT/framegen" -p "$PORT" -I "$IDLE_CONNS" -s 120 > "$RES/$n.framegen.json" \
			2> "$RES/$n.framegen.err" &
		FG_PID=$!
		for _ in $(seq 600); do
			grep -q '"ready"' "$RES/$n.framegen.json" 2>/dev/null && break
			kill -0 "$FG_PID" 2>/dev/null || break
			sleep 0.1
		done
		sleep 1		# the agent reads the last records
		R[$n.ready]=$(jnum "$(cat "$RES/$n.framegen.json")" answered)
		R[$n.gauge]=$(curl -s "$URL" | awk '/^kafkatap_connections[{ ]/ { s += $NF } END { print s + 0 }')
		R[$n.rss]=$(vm_kb "$KT_PID" VmRSS)
		R[$n.hwm]=$(vm_kb "$KT_PID" VmHWM)
		R[$n.anon]=$(vm_kb "$KT_PID" RssAnon)
		R[$n.file]=$(vm_kb "$KT_PID" RssFile)
		R[$n.maps]=$(bpf_map_rss_kb "$KT_PID")
		R[$n.nomaps]=$(( ${R[$n.rss]:-0} - ${R[$n.maps]:-0} ))
		stop_pid "$FG_PID" TERM
		FG_PID=
		stop_pid "$KT_PID" INT
		KT_PID=
		say "  $(cat "$RES/$n.framegen.json" | head -1); kafkatap_connections ${R[$n.gauge]}," \
			"VmRSS ${R[$n.rss]} kB (BPF maps ${R[$n.maps]} kB, anon ${R[$n.anon]} kB)"
		[ -n "${R[$n.rss]}" ] && R[$n.ok]=1
	done
fi

# --- summary ---------------------------------------------------------------
MISSED=()
row() {	# row FIGURE MEASURED [TARGET [RATIO]]
	printf '  %-66s %16s %9s %9s\n' "$1" "$2" "${3:-}" "${4:-}"
}
sec() { echo "  -- $* --"; }
summary() {
echo
echo "==== kafkatap benchmark summary ($(date -u '+%F %H:%M UTC'), $(uname -r), $(nproc) CPUs, load $LOAD0) ===="
[ -n "$BUSY" ] && echo "  busy at start, not ours: $BUSY"
row "figure" "measured" "target" "/ target"
STATE_OFF=$([ "$STATS_AT_START" = 0 ] && echo off || echo 'ON (not ours)')
if [ -n "$B_OK" ]; then
	FLOOR=$(kv "$B" bpfbench.floor)
	sec "kernel: BPF_PROG_TEST_RUN, each packet once, default capture policy, bpf stats $STATE_OFF, ns net of the harness floor"
	for c in request:"(a) Produce v9 request ~350 B, ns/packet" \
		 response:"(b) Produce response ~110 B, ns/packet" \
		 ack:"(c) pure ACK on broker port, ns/packet" \
		 other_port:"(d) non-broker port, ns/packet"; do
		n=$(sub "$(kv "$B" "bpfbench.${c%%:*}.mean")" "$FLOOR")
		row "${c#*:}" "$n" "<= 100" "$(ratio "$n" 100)"
	done
	MIX=$(kv "$B" bpfbench.mix.net)
	row "MIX 45% req + 45% ACK + 10% resp, ns/packet" "$MIX" "<= 100" "$(ratio "$MIX" 100)"
	row "  same, raw (harness floor $FLOOR ns included)" "$(kv "$B" bpfbench.mix.raw)"
	row "(e) 25 pipelined Produce v3 requests/segment, ns/frame" "$(kv "$B" bpfbench.pipe.req_per_frame)"
	row "(e) 25 pipelined responses/segment, ns/frame" "$(kv "$B" bpfbench.pipe.resp_per_frame)"
	row "kt_feed_bench (repeat) ACK / non-broker / no-op, ns/run" \
		"$(kv "$B" bpfbench.feed.ack)/$(kv "$B" bpfbench.feed.other)/$(kv "$B" bpfbench.feed.nop)"
	row "ratio request / ACK (net)" "$(ratio "$(sub "$(kv "$B" bpfbench.request.mean)" "$FLOOR")" \
		"$(sub "$(kv "$B" bpfbench.ack.mean)" "$FLOOR")")"
	row "request frames reported / fed" "$(kv "$B" bpfbench.kernel_requests)/$(kv "$B" bpfbench.expected_frames)" \
		"all" "$(ratio "$(kv "$B" bpfbench.kernel_requests)" "$(kv "$B" bpfbench.expected_frames)")"
	row "record batch headers kept / STRUCTURE walks failed" \
		"$(kv "$B" bpfbench.walk_batches)/$(kv "$B" bpfbench.walk_failed)"
	gt "$MIX" 100 &&
		MISSED+=("kernel ns/packet (mix, stats off): target missed by $(sub "$MIX" 100) ns ($(ratio "$MIX" 100) the target)")
elif want kernel; then
	sec "kernel: bpfbench did not run (see $RES/bpfbench.err)"
	MISSED+=("kernel ns/packet: not measured")
fi
if [ -n "$B_OK" ] && [ -n "$(kv "$B" bpfbench.on.mix.raw)" ]; then
	sec "kernel: the same run, its other blocks of 1000 packets with bpf stats ON, ns net of the stats-off floor"
	MIXON=$(kv "$B" bpfbench.on.mix.net)
	row "(a) Produce v9 request, ns/packet, stats on" "$(sub "$(kv "$B" bpfbench.on.request.mean)" "$FLOOR")"
	row "(b) Produce response, ns/packet, stats on" "$(sub "$(kv "$B" bpfbench.on.response.mean)" "$FLOOR")"
	row "(c) pure ACK, ns/packet, stats on" "$(sub "$(kv "$B" bpfbench.on.ack.mean)" "$FLOOR")"
	row "MIX, ns/packet, stats on" "$MIXON" "(none)"
	row "MIX stats on - stats off, ns/packet" "$(sub "$MIXON" "$MIX")"
	row "no-op program stats on - stats off, ns/run" "$(sub "$(kv "$B" bpfbench.on.floor)" "$FLOOR")"
fi
if [ -n "$BH_OK" ] && [ -n "$B_OK" ]; then
	FH=$(kv "$BH" bpfbench.floor)
	sec "kernel: the same stream, HEADER capture for every API (not kafkatap's default), stats off"
	AH=$(sub "$(kv "$BH" bpfbench.request.mean)" "$FH")
	AD=$(sub "$(kv "$B" bpfbench.request.mean)" "$FLOOR")
	row "(a) Produce v9 request, ns/packet, HEADER" "$AH" "<= 100" "$(ratio "$AH" 100)"
	row "(a) Produce v9 request, STRUCTURE / HEADER" "$(ratio "$AD" "$AH")"
	row "(b) Produce response, ns/packet, HEADER (default: FULL)" "$(sub "$(kv "$BH" bpfbench.response.mean)" "$FH")"
	row "MIX, ns/packet, HEADER" "$(kv "$BH" bpfbench.mix.net)" "<= 100" "$(ratio "$(kv "$BH" bpfbench.mix.net)" 100)"
	row "MIX default / HEADER" "$(ratio "$MIX" "$(kv "$BH" bpfbench.mix.net)")"
	row "(e) pipelined Produce v3 requests, ns/frame, HEADER" "$(kv "$BH" bpfbench.pipe.req_per_frame)"
fi

live_rows() {	# live_rows NAME RATE TITLE
	local n=$1 r=$2
	if ! ok "$n"; then
		sec "live $r frames/s ($3): did not run (see $RES/)"
		MISSED+=("live $r frames/s ($3): not measured")
		return 1
	fi
	sec "live on lo: target $r frames/s, $SECS s, $CONNS conns, Produce v3 ~200 B, $3"
	[ "${R[$n.others]:-0}" -gt 0 ] &&
		echo "  (${R[$n.others]} other TC program(s) on lo during this run: not ours, they add noise)"
	row "achieved rate, frames/s" "${R[$n.achieved]}" "$r" "$(ratio "${R[$n.achieved]}" "$r")"
	row "sent / answered by the fake broker" "${R[$n.sent]}/${R[$n.answered]}"
	row "kernel requests= / sent" "${R[$n.req]}/${R[$n.sent]}" "all" "$(ratio "${R[$n.req]}" "${R[$n.sent]}")"
	row "agent paired= / sent" "${R[$n.paired]}/${R[$n.sent]}" "all" "$(ratio "${R[$n.paired]}" "${R[$n.sent]}")"
	row "lost records (ringbuf_full=)" "${R[$n.rbfull]}" "0"
	[ "${R[$n.pevict]:-0}" != 0 ] &&
		row "  agent pending_evictions= (--max-pending full) / kernel responses_unmatched=" \
			"${R[$n.pevict]}/${R[$n.kunmatched]:-0}"
	row "agent CPU per request frame, ns (${R[$n.ticks]} ticks)" "${R[$n.cpu_ns]}" "<= 1000" \
		"$(ratio "${R[$n.cpu_ns]}" 1000)"
	row "kernel ns/packet, stats on (run_time/run_cnt)" "${R[$n.ns_pkt]}"
	row "kernel ns/Kafka frame, stats on (req + resp)" "${R[$n.ns_frame]}"
	row "  packets run / on broker port / request frames" "${R[$n.run_cnt]}/${R[$n.pkts]}/${R[$n.req]}"
	[ "$r" -ge 100000 ] && [ "${R[$n.rbfull]}" != 0 ] &&
		MISSED+=("lost records at $r frames/s ($3): target missed by ${R[$n.rbfull]} records")
	if gt "$(div "$((r * 98))" 100)" "${R[$n.achieved]}"; then
		MISSED+=("framegen reached only ${R[$n.achieved]} of $r frames/s with $3 on this machine (kafkatap's TC program runs in the sender's path)")
		return 1
	fi
	return 0
}
BEST=
LAST=${RATES##* }
if want live; then
	for r in $RATES; do
		live_rows "live-$r" "$r" "kafkatap trace > /dev/null" && BEST=$r
	done
	[ "$LIVE_HEADER" = 1 ] &&
		live_rows "live-$LAST-header" "$LAST" "trace, HEADER capture"
fi

if want exporter; then
	sec "exporter (issue 3): /metrics with ~$((SERIES_CIDS * 5)) series, kafkatap serve, no traffic during scrapes"
	if [ -n "$SCRAPE_OK" ]; then
		S=$RES/scrape.json
		for f in text openmetrics; do
			row "$f: series exposed (sample lines)" "$(jget "$S" $f series)"
			row "$f: scrape wall time, median of $(jget "$S" $f scrapes), ms" "$(jget "$S" $f median_ms)"
			row "$f:   min / max, ms" "$(jget "$S" $f min_ms) / $(jget "$S" $f max_ms)"
			row "$f: body, bytes" "$(jget "$S" $f bytes)"
			row "$f: kafkatap CPU per scrape, ms" "$(jget "$S" $f cpu_ms_per_scrape)"
		done
		row "OpenMetrics served as" "$(jget "$S" openmetrics content_type | cut -d';' -f1)"
		row "failed scrapes (text + OpenMetrics)" "$(( $(jget "$S" text failed) + $(jget "$S" openmetrics failed) ))" "0"
		row "promtool check metrics: lines of complaints" "${R[series.promtool]:-n/a}" "0"
		row "kafkatap serve VmRSS / RssAnon with these series, kB" "${R[series.rss]:-n/a}/${R[series.anon]:-n/a}"
	else
		row "scrapes" "not measured (see $RES/scrape.err)"
	fi
	sec "exporter on vs off: $CMP_RATE frames/s, runs off, on, on, off of $EXP_SECS s, Produce v3 ~200 B"
	if ok exp-off && ok exp-on; then
		row "achieved rates off; on, frames/s" "${R[exp-off.achieved]}; ${R[exp-on.achieved]}"
		row "agent CPU ns/frame, exporter off (agentbench), runs 1, 2" "${R[exp-off-1.cpu_ns]}, ${R[exp-off-2.cpu_ns]}"
		row "agent CPU ns/frame, exporter on (kafkatap serve), runs 1, 2" "${R[exp-on-1.cpu_ns]}, ${R[exp-on-2.cpu_ns]}"
		row "agent CPU ns/frame, exporter off (both runs)" "${R[exp-off.cpu_ns]}"
		row "agent CPU ns/frame, exporter on (both runs)" "${R[exp-on.cpu_ns]}"
		row "ratio on / off" "$(ratio "${R[exp-on.cpu_ns]}" "${R[exp-off.cpu_ns]}")"
		row "metrics cost, ns/frame (on - off)" "$(sub "${R[exp-on.cpu_ns]}" "${R[exp-off.cpu_ns]}")"
		ok live-50000 && [ "$CMP_RATE" = 50000 ] &&
			row "  for reference: kafkatap trace > /dev/null at 50K (live)" "${R[live-50000.cpu_ns]}"
	else
		row "exporter on vs off" "not measured (see $RES/exp-*.err)"
	fi
fi

if want deep; then
	for kind in p9 f11; do
		s=deep-$kind-structure h=deep-$kind-header
		if [ "$kind" = p9 ]; then
			sec "deep decoding (issue 4): Produce v9 requests, 10 records x 100 B (~1.2 KB), $CMP_RATE/s, kafkatap serve"
		else
			sec "deep decoding (issue 4): Fetch v11, responses 10 records x 100 B (~1.2 KB), $CMP_RATE/s, kafkatap serve"
		fi
		if ! ok "$s" || ! ok "$h"; then
			row "STRUCTURE vs HEADER" "not measured (see $RES/deep-*.err)"
			continue
		fi
		row "achieved rate STRUCTURE / HEADER, frames/s" "${R[$s.achieved]}/${R[$h.achieved]}"
		row "agent CPU ns/frame, STRUCTURE (default)" "${R[$s.cpu_ns]}" "<= 1000" "$(ratio "${R[$s.cpu_ns]}" 1000)"
		row "agent CPU ns/frame, HEADER" "${R[$h.cpu_ns]}" "<= 1000" "$(ratio "${R[$h.cpu_ns]}" 1000)"
		row "agent CPU STRUCTURE / HEADER" "$(ratio "${R[$s.cpu_ns]}" "${R[$h.cpu_ns]}")"
		row "kernel ns/packet, stats on, STRUCTURE" "${R[$s.ns_pkt]}"
		row "kernel ns/packet, stats on, HEADER" "${R[$h.ns_pkt]}"
		row "kernel ns/packet STRUCTURE / HEADER" "$(ratio "${R[$s.ns_pkt]}" "${R[$h.ns_pkt]}")"
		row "kernel ns/request frame (req + resp), STRUCTURE" "${R[$s.ns_req]}"
		row "kernel ns/request frame (req + resp), HEADER" "${R[$h.ns_req]}"
		row "kernel ns/request frame STRUCTURE / HEADER" "$(ratio "${R[$s.ns_req]}" "${R[$h.ns_req]}")"
		row "capture records / batch headers / walks failed, STRUCTURE" \
			"${R[$s.data_records]}/${R[$s.batches]}/${R[$s.walk_failed]}"
		row "lost records STRUCTURE / HEADER" "${R[$s.rbfull]}/${R[$h.rbfull]}" "0"
	done
fi

# Issue 10: the kernel hot path, before (bench/issue10-before.txt, the
# same figures measured on the code before the issue) and now.
I10=$RES/issue10.txt
: > "$I10"
i10() {	# i10 KEY VALUE: a figure of this run, for the table and the file
	[ -n "$2" ] && echo "$1=$2" >> "$I10"
}
if [ -n "$B_OK" ]; then
	FLOOR=$(kv "$B" bpfbench.floor)
	i10 mix "$(kv "$B" bpfbench.mix.net)"
	i10 mix_p99 "$(sub "$(kv "$B" bpfbench.mix.p99)" "$FLOOR")"
	i10 ack "$(sub "$(kv "$B" bpfbench.ack.mean)" "$FLOOR")"
	i10 other "$(sub "$(kv "$B" bpfbench.other_port.mean)" "$FLOOR")"
	i10 request "$(sub "$(kv "$B" bpfbench.request.mean)" "$FLOOR")"
	i10 response "$(sub "$(kv "$B" bpfbench.response.mean)" "$FLOOR")"
	i10 cont "$(kv "$B" bpfbench.cont.net)"
	i10 pipe_frame "$(kv "$B" bpfbench.pipe.req_per_frame)"
	i10 backlog_ratio "$(ratio "$(kv "$B" bpfbench.backlog.mix)" "$(kv "$B" bpfbench.mix.raw)")"
fi
if [ -n "${BM_OK:-}" ]; then
	i10 gro_kb "$(kv "$BM" brokermix.gro.ns_per_kb)"
	i10 seg_kb "$(kv "$BM" brokermix.seg.ns_per_kb)"
fi
for r in $RATES; do
	ok "live-$r" && i10 "agent_$r" "${R[live-$r.cpu_ns_frame]}"
done
if ok "live-$LAST"; then
	i10 trace_total "${R[live-$LAST.total_ns_frame]}"
	i10 trace_lost "${R[live-$LAST.rbfull]}"
fi
if ok "live-serve-$LAST"; then
	i10 serve_total "${R[live-serve-$LAST.total_ns_frame]}"
	i10 serve_lost "${R[live-serve-$LAST.rbfull]}"
fi
BEFORE=bench/issue10-before.txt
b10() { kv "$BEFORE" "$1"; }
n10() { kv "$I10" "$1"; }
row10() {	# row10 TITLE KEY TARGET: before, now, target
	local now
	now=$(n10 "$2")
	printf '  %-58s %10s %10s %9s %9s\n' "$1" "$(b10 "$2")" "${now:-n/a}" "${3:-}" \
		"$([ -n "${3:-}" ] && ratio "${now:-n/a}" "${3#<= }")"
	if [ -n "${3:-}" ] && [ -n "$now" ] && gt "$now" "${3#<= }"; then
		MISSED+=("issue 10: $1: $now, target $3 ($(ratio "$now" "${3#<= }") the target)")
	fi
}
sec "issue 10: the kernel hot path, before (code before the issue: $(b10 commit)) and now; stats off unless said"
printf '  %-58s %10s %10s %9s %9s\n' "figure" "before" "now" "target" "/ target"
row10 "kernel mix, ns/packet mean (test run, default capture)" mix "<= 100"
row10 "  p99, ns" mix_p99
row10 "  Produce v9 request ~350 B, ns" request
row10 "  response ~110 B, ns" response
row10 "pure ACK on a broker port, ns" ack "<= 15"
row10 "segment on another port, ns" other "<= 15"
row10 "continuation segment of a large frame, ns" cont "<= 30"
row10 "pipelined frame (25 per segment), ns/frame" pipe_frame "<= 40"
row10 "mix with the agent behind / mix (wakeup cliff: 1 = none)" backlog_ratio
row10 "broker mix, GSO super-packets, ns/KB (stats on, net)" gro_kb "<= 5"
row10 "broker mix, 1448-byte segments, ns/KB (stats on, net)" seg_kb "<= 40"
row10 "live $LAST/s pipelined: kernel + agent ns/frame, serve" serve_total "<= 300"
row10 "live $LAST/s pipelined: kernel + agent ns/frame, trace json" trace_total "<= 600"
row10 "live $LAST/s: lost records, trace / serve" trace_lost "<= 0"
row10 "  serve" serve_lost "<= 0"
for r in $RATES; do
	row10 "agent CPU ns/frame at $r frames/s (trace json)" "agent_$r"
done

# Issue 5: every target in one place.
sec "targets (issue 5)"
if [ -n "$B_OK" ]; then
	row "kernel ns/packet, bpf stats off (test run, mix, default capture)" "$MIX" "<= 100" "$(ratio "$MIX" 100)"
fi
if [ -n "${MIXON:-}" ]; then
	row "kernel ns/packet, bpf stats on (test run, mix, default capture)" "$MIXON" "(none)"
fi
L=${BEST:-$LAST}
if want live && ok "live-$L"; then
	row "kernel ns/packet, bpf stats on (live $L/s, ~$(div "${R[live-$L.req]}" "${R[live-$L.run_cnt]}") requests/packet)" \
		"${R[live-$L.ns_pkt]}" "(none)"
	row "kernel ns/Kafka frame, bpf stats on (live $L/s)" "${R[live-$L.ns_frame]}" "(none)"
fi
if [ -n "$BEST" ] && ok "live-$BEST"; then
	row "agent CPU ns/frame at the highest rate sustained ($BEST/s)" "${R[live-$BEST.cpu_ns]}" "<= 1000" \
		"$(ratio "${R[live-$BEST.cpu_ns]}" 1000)"
	gt "${R[live-$BEST.cpu_ns]}" 1000 &&
		MISSED+=("agent CPU at $BEST frames/s: target missed by $(sub "${R[live-$BEST.cpu_ns]}" 1000) ns/frame ($(ratio "${R[live-$BEST.cpu_ns]}" 1000) the target)")
fi
if want live && ok "live-$LAST-header"; then
	row "agent CPU ns/frame, HEADER capture ($LAST/s, achieved ${R[live-$LAST-header.achieved]})" \
		"${R[live-$LAST-header.cpu_ns]}" "<= 1000" "$(ratio "${R[live-$LAST-header.cpu_ns]}" 1000)"
fi
if want producer; then
	if [ -n "$PROD_OK" ]; then
		row "producer msg/s without kafkatap (kcat, median)" "${R[prod.off]}"
		row "producer msg/s with kafkatap serve (median)" "${R[prod.on]}"
		row "throughput with / without, median of ${#RATIOS[@]} pairs" "${R[prod.ratio]}" ">= 0.99" \
			"$(ratio3 "${R[prod.ratio]}" 0.99)x"
		row "  pair ratios" "${R[prod.ratios]}"
		row "producer + mock broker CPU per message, ns, without (median)" "${R[prod.cpu_off_ns]}"
		row "producer + mock broker CPU per message, ns, with (median)" "${R[prod.cpu_on_ns]}"
		row "producer + broker CPU with / without, median of pairs" "${R[prod.cpuratio]}"
		row "  pair ratios" "${R[prod.cpuratios]}"
		row "kafkatap's program per message, ns (bpf stats on, one more run)" "${R[prod.k_ns_msg]:-n/a}"
		row "  as % of producer + broker CPU; packets run, ns/packet" \
			"${R[prod.k_pct]:-n/a}%; ${R[prod.k_runs]:-n/a}, ${R[prod.k_ns_run]:-n/a}"
		row "kafkatap agent during the producer runs: CPU %, us/request" "${R[prod.kt_cpu_pct]}%, ${R[prod.kt_us_req]}"
		row "  Produce requests kafkatap saw, all runs" "${R[prod.kt_req]}"
		lt "${R[prod.ratio]}" 0.99 &&
			MISSED+=("producer throughput ratio ${R[prod.ratio]} < 0.99 (by $(awk -v a="${R[prod.ratio]}" 'BEGIN { printf "%.3f", 0.99 - a }'); the pair ratios show the noise of this machine)")
	else
		row "producer throughput ratio" "not measured" ">= 0.99"
		MISSED+=("producer throughput: not measured")
	fi
fi
if want tshark; then
	if [ -n "$TS_OK" ]; then
		KT_US=$(awk -v a="${R[ts-kafkatap.cpu_ns]}" -v b="${R[ts-kafkatap.ns_req]}" "$AWKNUM"' BEGIN {
			if (ok(a) && ok(b)) printf "%.3f", (a + b) / 1000; else print "n/a" }')
		row "tshark CPU per exchange (req + resp), us ($TS_RATE/s)" "${R[ts.us_ex]}"
		row "  tshark per decoded Kafka PDU, us (${R[ts.pdus]} PDUs)" "${R[ts.us_pdu]}"
		row "  tshark: packets captured / dropped" "${R[ts.captured]:-n/a}/${R[ts.dropped]:-0}"
		row "tshark max RSS (tshark / dumpcap), MB" "$(mb "${R[ts.hwm]}") / $(mb "${R[ts.dc_hwm]}")"
		row "kafkatap agent CPU per exchange, us (trace)" "$(div3 "${R[ts-kafkatap.cpu_ns]}" 1000)"
		row "kafkatap kernel per exchange, us (bpf stats on)" "$(div3 "${R[ts-kafkatap.ns_req]}" 1000)"
		row "kafkatap agent + kernel per exchange, us" "$KT_US"
		row "kafkatap max RSS, MB" "$(mb "${R[ts-kafkatap.hwm]}")"
		row "tshark CPU / kafkatap CPU" "$(ratio "${R[ts.us_ex]}" "$KT_US")" ">= 60x" \
			"$(ratio "$(div3 "${R[ts.us_ex]}" "$KT_US")" 60)"
		row "tshark RSS / kafkatap RSS" "$(ratio "${R[ts.hwm]}" "${R[ts-kafkatap.hwm]}")"
		lt "$(div3 "${R[ts.us_ex]}" "$KT_US")" 60 &&
			MISSED+=("CPU vs tshark: $(ratio "${R[ts.us_ex]}" "$KT_US") less, target 60x (kafkatap would need <= $(div3 "${R[ts.us_ex]}" 60) us per exchange)")
	else
		row "tshark CPU / kafkatap CPU" "not measured" ">= 60x"
		MISSED+=("CPU vs tshark: not measured")
	fi
fi
if want conns; then
	for rb in 8 4; do	# 8: the default
		n=conns-$rb
		if ! ok "$n"; then
			row "RSS at $IDLE_CONNS connections, --ringbuf-mb $rb" "not measured" "<= 32 MB"
			MISSED+=("RSS at $IDLE_CONNS connections (--ringbuf-mb $rb): not measured")
			continue
		fi
		row "VmRSS at $IDLE_CONNS conns, --ringbuf-mb $rb, MB" "$(mb "${R[$n.rss]}")" "<= 32" \
			"$(ratio "$(mb "${R[$n.rss]}")" 32)"
		row "  of which BPF map mappings (ring buffer, mapped twice), MB" "$(mb "${R[$n.maps]}")"
		row "  without them / anonymous only, MB" "$(mb "${R[$n.nomaps]}") / $(mb "${R[$n.anon]}")"
		row "  kafkatap_connections / exchanges answered" "${R[$n.gauge]}/${R[$n.ready]}" "$IDLE_CONNS"
		gt "$(mb "${R[$n.rss]}")" 32 &&
			MISSED+=("RSS at $IDLE_CONNS connections, --ringbuf-mb $rb: $(mb "${R[$n.rss]}") MB, target missed by $(sub "$(mb "${R[$n.rss]}")" 32) MB ($(mb "${R[$n.maps]}") MB of it the ring buffer mapping)")
	done
fi
for n in "live-$LAST" "live-$LAST-header"; do
	want live && ok "$n" || continue
	if [ "${R[$n.rbfull]}" != 0 ]; then
		v=missed
	elif gt "$(div "$((LAST * 98))" 100)" "${R[$n.achieved]}"; then
		v="n/a"		# the rate was not reached
	else
		v=met
	fi
	row "lost records at $LAST/s ($([ "$n" = "live-$LAST" ] && echo default || echo HEADER) capture, achieved ${R[$n.achieved]}/s)" \
		"${R[$n.rbfull]}" "0" "$v"
done
echo
for m in "${MISSED[@]}"; do
	echo "  $m"
done
[ ${#MISSED[@]} = 0 ] && echo "  all targets met"
if [ -s "$RES/perf.txt" ]; then
	echo
	echo "  perf: top symbols of kafkatap at ${RATES##* } frames/s ($RES/perf.txt):"
	head -12 "$RES/perf.txt" | sed 's/^/    /'
fi
}
summary | tee "$RES/summary.txt"
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); logs in $RES/"
exit 0
