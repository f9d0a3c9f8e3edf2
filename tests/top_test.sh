#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# kafkatap top, as a user meets it:
#  1. the model (tm_*: rows, rates, quantiles, aging), compiled against
#     .output/user/out/top_model.o;
#  2. no terminal: a clear error, exit 2;
#  3. end to end in a private tmux server at 80x24 against a 3-broker mock
#     cluster with real clients: broker/API rows with non-zero rates, the
#     client view, sort keys, resize to 100x30 and back, 'q', Ctrl-C and
#     SIGTERM each exit 0 with the terminal restored and no tcx link left.
# Run as root. Prints "ok ..." per assertion; the first failure exits 1.
set -u
cd "$(dirname "$0")/.."
K=${KAFKATAP:-$PWD/kafkatap}
TOOLS=${TOOLS:-$PWD/.output/tools}
OBJ=$PWD/.output/user
T=$(mktemp -d /tmp/kt-top.XXXXXX)
TM="tmux -S $T/tmux.sock -f /dev/null"
MC_PID=
CLIENT_PIDS=()

ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	if [ -s "$T/screen" ]; then
		echo "---- last screen:"; cat "$T/screen"
	fi
	for f in "$T"/stderr.*; do
		[ -s "$f" ] && { echo "---- $f:"; tail -n 20 "$f"; }
	done
	exit 1
}
cleanup() {
	$TM kill-server 2>/dev/null
	for p in "${CLIENT_PIDS[@]}" $MC_PID; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "top_test.sh: run as root (BPF)" >&2; exit 1; }
for tool in tmux bpftool cc kcat; do
	command -v $tool >/dev/null || { echo "skip: $tool is not installed"; exit 77; }
done
[ -x "$K" ] && [ -x "$TOOLS/mockcluster" ] && [ -f "$OBJ/out/top_model.o" ] ||
	fail "build first: make (kafkatap, mockcluster, top_model.o)"

# ---- 1. The model.
cat >"$T/model_test.c" <<'EOF'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "out/top_model.h"

static int fails;
#define CHECK(c, ...) do { if (!(c)) { fails++; printf("FAIL model: " __VA_ARGS__); \
	printf("  (%s, line %d)\n", #c, __LINE__); } } while (0)

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void ex(struct tm_model *m, int broker, int api, const char *cid,
	       uint64_t lat_ns, enum kt_status st)
{
	struct kt_exchange x = { .status = st, .api_key = api, .req_size = 100,
				 .resp_size = st == KT_STATUS_OK ? 1000 : -1 };

	x.conn.family = 4;
	x.conn.broker_addr[0] = 127;
	x.conn.broker_addr[3] = 1;
	x.conn.broker_port = 9000 + broker;
	x.client_id_len = cid ? strlen(cid) : -1;
	if (cid)
		strcpy(x.client_id, cid);
	x.req_ts_ns = 5000000000ULL;
	x.resp_ts_ns = st == KT_STATUS_OK ? x.req_ts_ns + lat_ns : 0;
	tm_add(m, &x);
}

int main(void)
{
	static uint64_t v[100000];
	const struct tm_row *r;
	struct tm_hist h;
	struct tm_model *m;
	int i, n;

	/* Quantiles of log-uniform samples, 20 us .. 2 s: within 2.5%. */
	srand(1);
	tm_hist_reset(&h);
	for (i = 0; i < 100000; i++) {
		v[i] = (uint64_t)(20e3 * pow(1e5, rand() / (double)RAND_MAX));
		tm_hist_add(&h, v[i]);
	}
	qsort(v, 100000, sizeof(v[0]), cmp);
	for (i = 0; i < 4; i++) {
		double q[] = { 0.5, 0.9, 0.99, 0.999 }, want = v[(int)ceil(q[i] * 100000) - 1];
		double got = tm_hist_quantile(&h, q[i]);
		CHECK(fabs(got / want - 1) < 0.025, "q%.3f = %.0f, exact %.0f\n", q[i], got, want);
	}
	tm_hist_reset(&h);
	tm_hist_add(&h, 1234567);
	CHECK(tm_hist_quantile(&h, 0.99) == 1234567, "one sample is exact\n");
	CHECK(tm_hist_quantile(&h, 0.5) == 1234567, "one sample is exact\n");

	/* Rows: 2 brokers x 2 APIs x 2 clients, one 2-second interval. */
	m = tm_new(0, 10000000000ULL);
	for (i = 0; i < 100; i++)
		ex(m, 1, 0, "alpha", (i + 1) * 1000000ULL, KT_STATUS_OK);	/* 1..100 ms */
	for (i = 0; i < 10; i++)
		ex(m, 2, 1, "beta", 5000000, KT_STATUS_OK);
	ex(m, 2, 1, NULL, 0, KT_STATUS_UNANSWERED);
	ex(m, 1, 3, "beta", 0, KT_STATUS_NO_RESPONSE);
	n = tm_rows(m, TM_VIEW_BROKER, true, TM_SORT_RATE, false, &r);
	CHECK(n == 0, "no row before the first interval closes (%d)\n", n);
	tm_roll(m, 2000000000ULL);
	n = tm_rows(m, TM_VIEW_BROKER, true, TM_SORT_RATE, false, &r);
	CHECK(n == 3, "3 broker/API rows (%d)\n", n);
	CHECK(n >= 3 && !strcmp(r[0].name, "127.0.0.1:9001") && r[0].api_key == 0 &&
	      r[0].rate == 50 && r[0].in_bps == 5000 && r[0].out_bps == 50000,
	      "first row: 9001 Produce 50/s (%s %d %.1f)\n", r[0].name, r[0].api_key, r[0].rate);
	CHECK(n >= 3 && fabs(r[0].p50_ns / 50e6 - 1) < 0.03 && fabs(r[0].p99_ns / 99e6 - 1) < 0.03,
	      "p50 ~50ms p99 ~99ms (%llu %llu)\n", (unsigned long long)r[0].p50_ns,
	      (unsigned long long)r[0].p99_ns);
	CHECK(n >= 3 && r[1].api_key == 1 && r[1].c.requests == 11 && r[1].c.unanswered == 1 &&
	      r[1].unans_rate == 0.5 && r[1].p99_ns == 5000000, "second row: 9002 Fetch\n");
	CHECK(n >= 3 && r[2].c.no_response == 1 && r[2].p50_ns == 0, "acks=0 row, no latency\n");
	n = tm_rows(m, TM_VIEW_BROKER, true, TM_SORT_RATE, true, &r);
	CHECK(n == 3 && r[0].api_key == 3, "reversed: lowest rate first\n");
	n = tm_rows(m, TM_VIEW_CLIENT, false, TM_SORT_NAME, false, &r);
	CHECK(n == 3 && !strcmp(r[0].name, "(null)") && !strcmp(r[1].name, "alpha") &&
	      !strcmp(r[2].name, "beta") && r[2].c.requests == 11 && r[2].api_key == -1,
	      "client view, all APIs, by name\n");
	n = tm_rows(m, TM_VIEW_CLIENT, false, TM_SORT_NAME, true, &r);
	CHECK(n == 3 && !strcmp(r[0].name, "beta"), "by name, reversed\n");
	n = tm_rows(m, TM_VIEW_BROKER, false, TM_SORT_P99, false, &r);
	CHECK(n == 2 && r[0].port == 9001 && r[1].c.requests == 11, "broker view, all APIs, by p99\n");
	CHECK(tm_totals(m)->requests == 112 && tm_totals(m)->unanswered == 1, "totals\n");
	/* Idle rows show zeros, then age out after 10 s. */
	ex(m, 1, 0, "alpha", 1000000, KT_STATUS_OK);
	tm_roll(m, 3000000000ULL);
	n = tm_rows(m, TM_VIEW_BROKER, true, TM_SORT_RATE, false, &r);
	CHECK(n == 3 && r[0].rate == 1 && r[1].rate == 0 && r[1].p99_ns == 0, "idle rows are zeros\n");
	tm_roll(m, 12500000000ULL);
	n = tm_rows(m, TM_VIEW_BROKER, true, TM_SORT_RATE, false, &r);
	CHECK(n == 1 && r[0].api_key == 0, "rows idle for 10 s are gone, others stay (%d)\n", n);
	tm_roll(m, 13500000000ULL);
	CHECK(tm_rows(m, TM_VIEW_BROKER, true, TM_SORT_RATE, false, &r) == 0 && tm_cells(m) == 0,
	      "all aged out\n");
	tm_free(m);
	return fails ? 1 : 0;
}
EOF
cc -std=gnu11 -D_GNU_SOURCE -Wall -Iinclude -Iuser -o "$T/model_test" "$T/model_test.c" \
	"$OBJ/out/top_model.o" "$OBJ/lib/addr.o" "$OBJ/lib/hash.o" "$OBJ/lib/htable.o" -lm \
	2>"$T/stderr.cc" || fail "model test does not build"
"$T/model_test" || fail "model test"
ok "model: quantiles within 2.5%, rows, rates, views, sorting, aging"

# ---- 2. Not a terminal.
out=$("$K" top -i lo -p 9 </dev/null 2>&1 | cat; exit "${PIPESTATUS[0]}")
rc=$?
[ $rc -eq 2 ] && grep -q "not a terminal" <<<"$out" ||
	fail "no terminal: exit $rc (want 2), output: $out"
ok "no terminal: exit 2, '$out'"
"$K" top --help | grep -q '^Examples:' || fail "top --help has no Examples"
ok "top --help has Examples"

# ---- 3. End to end.
tcx_links() { bpftool link show 2>/dev/null | awk '/type 11 /{print $1}' | sort; }
tcx_links >"$T/links.before"

"$TOOLS/mockcluster" --brokers 3 --topic t1:3 --ready-file "$T/bs" >"$T/stderr.mock" 2>&1 &
MC_PID=$!
for _ in $(seq 100); do [ -s "$T/bs" ] && break; sleep 0.1; done
[ -s "$T/bs" ] || fail "mockcluster did not start"
BS=$(cat "$T/bs")
PORTS=$(tr ',' '\n' <<<"$BS" | sed 's/.*://' | paste -sd,)
ok "mock cluster at $BS"

# top N NAME: start kafkatap top in window NAME; pid in $T/pid.NAME, exit
# status in $T/rc.NAME; the shell stays so that the restored screen shows.
start_top() {
	local name=$1 cmd
	cmd="bash -c 'echo \$\$ >$T/pid.$name; exec $K top -i lo -p $PORTS 2>$T/stderr.$name'; "
	cmd+="echo \$? >$T/rc.$name; echo TOP-EXITED; sleep 600"
	if [ "$name" = main ]; then
		$TM new-session -d -s kt -x 80 -y 24 -n "$name" "$cmd" || fail "tmux new-session"
	else
		$TM new-window -d -t kt -n "$name" "$cmd" || fail "tmux new-window"
	fi
}
screen() { $TM capture-pane -p -t "kt:$1" >"$T/screen"; }
# until_screen TIMEOUT WINDOW PYTHON-EXPR: poll the screen until the
# expression on `s` (the screen's text) and `lines` holds; returns 1 at the
# timeout. A window whose kafkatap exited fails at once (unless EXITED=1).
EXITED=
until_screen() {
	local tmo=$1 win=$2 expr=$3 i
	for ((i = 0; i < tmo * 10; i++)); do
		screen "$win"
		/usr/bin/python3 - "$T/screen" "$expr" <<-'PY'
		import sys
		try:
		    code = compile("(" + sys.argv[2] + ")", "assertion", "eval")
		except SyntaxError as e:
		    print("bad assertion:", e)
		    sys.exit(3)
		s = open(sys.argv[1], encoding="utf-8", errors="replace").read()
		lines = s.split("\n")
		try:
		    r = eval(code)
		except IndexError:
		    r = False
		sys.exit(0 if r else 1)
		PY
		case $? in
		0) return 0 ;;
		3) fail "bad assertion: $expr" ;;
		esac
		[ -z "$EXITED" ] && [ -e "$T/rc.$win" ] &&
			fail "kafkatap top exited ($(cat "$T/rc.$win")) early"
		sleep 0.1
	done
	return 1
}
# Exits 0 if the screen is sane at WxH: title, column heads, footer, key help.
SANE='len(lines) >= H and lines[0].startswith("kafkatap top - ") and "Req/s" in lines[1] and
	lines[H-2].startswith("lost ") and lines[H-1].startswith("q quit") and
	all(len(l) <= W for l in lines)'

start_top main
until_screen 10 main "$(sed 's/H/24/g;s/W/80/g' <<<"$SANE")" || fail "no sane 80x24 screen"
ok "top runs at 80x24: title, column heads, footer, key help"

/usr/bin/python3 tests/clients/confluent.py "$BS" t1 200 >"$T/confluent.out" 2>"$T/stderr.confluent" &
CLIENT_PIDS+=($!)
tests/clients/kcat.sh "$BS" t1 200 >"$T/kcat.out" 2>"$T/stderr.kcat" &
CLIENT_PIDS+=($!)

# Broker rows with a non-zero rate, seen over the run: every broker, and
# Produce, Fetch, Metadata.
cat >"$T/rows.py" <<EOF
import re, sys
seen = set(open("$T/seen").read().split()) if __import__("os").path.exists("$T/seen") else set()
for l in open("$T/screen", encoding="utf-8", errors="replace"):
    f = l.split()
    if len(f) > 3 and re.match(r"127\.0\.0\.1:\d+$", f[0]) and f[2] != "0":
        seen.add(f[0].split(":")[1]); seen.add(f[1])
open("$T/seen", "w").write(" ".join(sorted(seen)))
want = set("$PORTS".split(",")) | {"Produce", "Fetch", "Metadata"}
sys.exit(0 if want <= seen else 1)
EOF
for ((i = 0; i < 300; i++)); do
	screen main
	/usr/bin/python3 "$T/rows.py" && break
	sleep 0.1
done
[ $i -lt 300 ] || fail "broker rows with non-zero rates: saw only: $(cat "$T/seen" 2>/dev/null)"
ok "broker rows with non-zero req/s for ports $PORTS and Produce, Fetch, Metadata"

$TM send-keys -t kt:main c
until_screen 20 main '"per client_id" in lines[0] and "CLIENT ID" in lines[1] and
	"kafkatap-confluent" in s and "kafkatap-kcat" in s' ||
	fail "'c': no client view with kafkatap-confluent and kafkatap-kcat"
ok "'c' shows rows per client_id: kafkatap-confluent, kafkatap-kcat"

NAMES='[l.split()[0] for l in lines[2:-3] if l.startswith("kafkatap-")]'
$TM send-keys -t kt:main n
until_screen 5 main "lines[1].startswith('*CLIENT ID') and 'sort: name, ascending' in lines[0] and
	$NAMES == sorted($NAMES)" || fail "'n': not sorted by name ascending with a '*' mark"
ok "'n' sorts by name, ascending, '*' on the CLIENT ID head"
$TM send-keys -t kt:main n
until_screen 5 main "lines[1].startswith('^CLIENT ID') and 'descending' in lines[0] and
	$NAMES == sorted($NAMES, reverse=True) and len(set($NAMES)) > 1" ||
	fail "'n' again: not reversed"
ok "'n' again reverses the order, '^' mark"
$TM send-keys -t kt:main l b
until_screen 5 main "'*p99' in lines[1] and 'sort: p99' in lines[0] and 'BROKER' in lines[1]" ||
	fail "'l' 'b': no p99 mark in the broker view"
ok "'l' marks p99, 'b' back to the broker view"

$TM resize-window -t kt:main -x 100 -y 30
until_screen 5 main "$(sed 's/H/30/g;s/W/100/g' <<<"$SANE")" || fail "no sane 100x30 screen"
ok "resized to 100x30: sane screen, no line longer than 100"
$TM resize-window -t kt:main -x 80 -y 24
until_screen 5 main "$(sed 's/H/24/g;s/W/80/g' <<<"$SANE")" ||
	fail "no sane 80x24 screen after resizing back"
ok "back to 80x24: sane screen, no line longer than 80"

PID=$(cat "$T/pid.main")
$TM send-keys -t kt:main q
for _ in $(seq 50); do [ -e "$T/rc.main" ] && break; sleep 0.1; done
[ -e "$T/rc.main" ] || fail "'q': kafkatap top still running after 5 s"
[ "$(cat "$T/rc.main")" = 0 ] || fail "'q': exit status $(cat "$T/rc.main")"
kill -0 "$PID" 2>/dev/null && fail "'q': process $PID still there"
EXITED=1 until_screen 3 main '"TOP-EXITED" in s and "kafkatap top -" not in s' ||
	fail "'q': the terminal was not restored"
ok "'q': exit 0, process gone, terminal restored"

# Ctrl-C and SIGTERM, each on a fresh instance.
for how in int term; do
	start_top $how
	until_screen 10 $how "$(sed 's/H/24/g;s/W/80/g' <<<"$SANE")" || fail "$how: no screen"
	if [ $how = int ]; then
		$TM send-keys -t kt:$how C-c
	else
		kill -TERM "$(cat "$T/pid.$how")"
	fi
	for _ in $(seq 50); do [ -e "$T/rc.$how" ] && break; sleep 0.1; done
	[ "$(cat "$T/rc.$how" 2>/dev/null)" = 0 ] || fail "SIG${how^^}: exit status $(cat "$T/rc.$how" 2>/dev/null)"
	EXITED=1 until_screen 3 $how '"TOP-EXITED" in s and "kafkatap top -" not in s' ||
		fail "SIG${how^^}: the terminal was not restored"
	ok "SIG${how^^}: exit 0, terminal restored"
done

tcx_links >"$T/links.after"
new=$(comm -13 "$T/links.before" "$T/links.after")
[ -z "$new" ] || fail "tcx links left behind: $new"
ok "no new tcx link ($(wc -l <"$T/links.before") before, $(wc -l <"$T/links.after") after)"

for i in "${!CLIENT_PIDS[@]}"; do
	wait "${CLIENT_PIDS[$i]}" || fail "client $i failed: $(cat "$T"/stderr.confluent "$T"/stderr.kcat)"
done
CLIENT_PIDS=()
ok "clients done: $(cat "$T/confluent.out" "$T/kcat.out" | wc -l) JSON lines"
echo "top_test.sh: all passed"
