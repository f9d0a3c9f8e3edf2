#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The README's main-job command as a user runs it, in a terminal (tmux):
# `make demo` shows kafkatap top over real traffic and serves metrics, stops
# by itself after 20 s with exit 0, or on Ctrl-C, and leaves nothing
# behind: no processes, no tcx links, no qdiscs, no temporary files.
set -u
cd "$(dirname "$0")/.."
OUT=tests/out/demo
mkdir -p "$OUT"
SOCK=kafkatap-demo-test-$$
PORT=19977
fails=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fails=$((fails + 1)); }
tm() { tmux -L "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null' EXIT

# tcx links, minus those held open by processes that are not the demo's
# (another kafkatap may be running beside this test).
tcx_links() {
	local all held
	all=$(bpftool link show | grep -E 'type (tcx|11) +prog' | awk '{print $1}' | tr -d : | sort)
	held=$(for d in /proc/[0-9]*; do
		grep -q 'KAFKATAP_DEMO=' "$d/environ" 2>/dev/null && continue
		cat "$d"/fdinfo/* 2>/dev/null | awk '/^link_id:/ {print $2}'
	done | sort -u)
	comm -23 <(echo "$all") <(echo "$held")
}
# The demo's processes carry KAFKATAP_DEMO in their environment.
mine() { grep -l 'KAFKATAP_DEMO=' /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | sort -n; }
base_links=$(tcx_links)
base_q=$(tc qdisc show dev lo)
base_tmp=$(ls -d /tmp/kafkatap-demo.* 2>/dev/null)
[ -z "$(mine)" ] || { echo "demo_test: a demo is already running; stop it first"; exit 1; }

left_behind() {
	local what=$1
	for _ in $(seq 50); do [ -z "$(mine)" ] && break; sleep 0.2; done
	[ -z "$(mine)" ] && ok "$what: no processes left" || no "$what: processes left: $(mine | xargs ps -o pid,args -p)"
	[ "$(tcx_links)" = "$base_links" ] && ok "$what: tcx links as before" || no "$what: tcx links left"
	[ "$(tc qdisc show dev lo)" = "$base_q" ] && ok "$what: lo qdiscs as before" || no "$what: lo qdiscs changed"
	[ "$(ls -d /tmp/kafkatap-demo.* 2>/dev/null)" = "$base_tmp" ] && ok "$what: no temporary files" ||
		no "$what: temporary files left"
}

# 1. make demo DURATION=20, in a terminal, under a timeout.
rm -f "$OUT/rc1"
# In the terminal (top needs one); the screen is read with capture-pane.
tm new-session -d -x 100 -y 30 "KAFKATAP_LISTEN=127.0.0.1:$PORT timeout --foreground 120 make demo DURATION=20; echo \$? >$OUT/rc1; sleep 30"
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
sleep 8
curl -s "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt"
for cid in checkout clickstream billing-1 billing-2 audit; do
	grep -q "kafkatap_requests_total{api=\"[A-Za-z]*\",api_version=\"[0-9]*\",client_id=\"$cid\"" "$OUT/metrics.txt" &&
		ok "metrics: requests from $cid" || no "metrics: no requests from $cid"
done
grep -qE '^kafkatap_request_duration_seconds_count\{api="Produce".* [1-9]' "$OUT/metrics.txt" &&
	ok "metrics: Produce latency histogram" || no "metrics: no Produce latencies"
screen=$(tm capture-pane -p)
echo "$screen" >"$OUT/screen.txt"
grep -q 'Req/s' <<<"$screen" && grep -q 'Produce' <<<"$screen" && ok "top is on screen with Produce rows" ||
	no "top not on screen: $(head -5 <<<"$screen")"
for _ in $(seq 120); do [ -s "$OUT/rc1" ] && break; sleep 0.5; done
rc=$(cat "$OUT/rc1" 2>/dev/null)
tm capture-pane -p -S -50 >"$OUT/end1.txt"
[ "$rc" = 0 ] && ok "make demo DURATION=20 exits 0" || no "make demo exit status '$rc': $(tail -5 $OUT/end1.txt)"
grep -q 'demo: stopped' "$OUT/end1.txt" && ok "demo says it stopped" || no "no stop message"
tm kill-server
left_behind "after 20 s"

# 2. Ctrl-C, as a user stops it.
rm -f "$OUT/rc2"
SOCK=$SOCK-2
# The shell survives the Ctrl-C (trap with a command: make still gets it).
tm new-session -d -s ctrlc -x 100 -y 30 "trap : INT; KAFKATAP_LISTEN=127.0.0.1:$PORT make demo; echo \$? >$OUT/rc2; sleep 30"
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
sleep 5
tm send-keys -t ctrlc C-c
for _ in $(seq 60); do [ -s "$OUT/rc2" ] && break; sleep 0.5; done
[ -s "$OUT/rc2" ] && ok "Ctrl-C ends make demo" || no "make demo still running after Ctrl-C"
tm capture-pane -p -S -50 -t ctrlc | grep -q 'demo: stopped' && ok "Ctrl-C: demo says it stopped" ||
	no "Ctrl-C: no stop message: $(tm capture-pane -p -t ctrlc | tail -5)"
left_behind "after Ctrl-C"

echo "$fails failure(s)"
[ $fails -eq 0 ]
