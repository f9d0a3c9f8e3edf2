#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Lifecycle (issue 5, section 6): kafkatap leaves the kernel as it found it.
#
#  (a) SIGINT and SIGTERM detach everything, with tcx links and with
#      --attach clsact, on lo (egress) and a veth (ingress and egress).
#  (b) After SIGKILL nothing is left that affects traffic. tcx: the links
#      vanish with the process. clsact: the filters stay (the kernel cannot
#      know), traffic still passes (the program only looks), and the next
#      kafkatap start removes them: program kafkatap_tc, held open by no
#      process. A live instance's filter is never taken for a stale one.
#  (c) Two instances at once coexist (decided: each has its own link or
#      filter and its own ring buffer): both trace the same traffic in full,
#      and stopping one while traffic flows does not disturb the other.
#
# Everything happens inside two network namespaces of the test's own, joined
# by a veth, deleted at the end: if the test dies midway, the host's
# interfaces were never touched (a clsact filter left on the host's lo by a
# killed test would stay there until the next kafkatap start).
set -u
cd "$(dirname "$0")/.."
K=${KAFKATAP:-$PWD/kafkatap}
TOOLS=${TOOLS:-$PWD/.output/tools}
OUT=$PWD/tests/out/lifecycle
mkdir -p "$OUT"
NS=ktlca$$ NSB=ktlcb$$
fails=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fails=$((fails + 1)); }

cleanup() {
	local p
	# Only our children still running (a finished one's pid may be reused).
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for t in bpftool tc kcat socat; do
	command -v $t >/dev/null || { echo "lifecycle_test: $t is missing (tools/install-deps.sh)"; exit 1; }
done

inns() { ip netns exec "$NS" "$@"; }
ip netns add "$NS" && ip netns add "$NSB" || { echo "cannot create namespaces"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NSB" link set lo up
ip link add ktlc0 netns "$NS" type veth peer name ktlc1 netns "$NSB"
ip -n "$NS" addr add 10.78.0.1/24 dev ktlc0
ip -n "$NSB" addr add 10.78.0.2/24 dev ktlc1
ip -n "$NS" link set ktlc0 up
ip -n "$NSB" link set ktlc1 up
IFS_ARGS=(-i lo -i ktlc0)	# lo: egress; ktlc0: ingress and egress

# --- helpers ---------------------------------------------------------------

# The TC state of the namespace's interfaces, as tc prints it.
tc_state() {
	local d
	for d in lo ktlc0; do
		inns tc qdisc show dev $d
		inns tc filter show dev $d ingress 2>/dev/null
		inns tc filter show dev $d egress 2>/dev/null
	done
}
# kafkatap filters on one hook: "pref handle progid" lines.
kt_filters() { # DEV DIR
	inns tc filter show dev "$1" "$2" 2>/dev/null |
		awk '/kafkatap_tc/ { for (i = 1; i <= NF; i++) { if ($i == "pref") p = $(i+1);
			if ($i == "handle") h = $(i+1); if ($i == "id") id = $(i+1) } print p, h, id }'
}
all_kt_filters() { kt_filters lo egress; kt_filters ktlc0 ingress; kt_filters ktlc0 egress; }
link_ids_of() { grep -h '^link_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -n; }
prog_ids_of() { grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un; }
links_exist() { # IDS...: those still in the kernel
	local id
	for id in "$@"; do bpftool link show id "$id" >/dev/null 2>&1 && echo "$id"; done
}
# tcx links that no process holds (pinned ones, or leaks).
orphan_tcx() {
	local ids held id
	ids=$(bpftool link show 2>/dev/null | awk '/^[0-9]+: +type +(tcx|11) /{ sub(":", "", $1); print $1 }')
	[ -n "$ids" ] || return 0
	held=$(cat /proc/[0-9]*/fdinfo/* 2>/dev/null | awk '/^link_id:/{ print $2 }' | sort -u)
	for id in $ids; do
		grep -qx "$id" <<<"$held" || links_exist "$id"
	done
}
wait_watching() { # PID ERRFILE
	local i
	for i in $(seq 200); do
		grep -q watching "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	echo "kafkatap did not attach:"; sed 's/^/    /' "$2"
	return 1
}
# start NAME ARGS...: a kafkatap trace in the namespace; sets $pid.
start() {
	local name=$1
	shift
	# A previous run's file says "watching" until the new process truncates
	# it: a signal sent on that word would reach a kafkatap not yet holding
	# SIGINT (ignored in a background job) and be lost.
	rm -f "$OUT/$name.err"
	# Not through inns: $! must be kafkatap (ip netns exec execs it).
	ip netns exec "$NS" "$K" trace -v --stats "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
	pid=$!
	wait_watching "$pid" "$OUT/$name.err"
}
# A TCP round trip across the veth, to an echo server in the other namespace.
traffic_passes() {
	inns timeout 5 bash -c 'exec 3<>/dev/tcp/10.78.0.2/7 && echo ping >&3 && read -r l <&3 &&
		[ "$l" = ping ]' 2>/dev/null
}
ip netns exec "$NSB" socat TCP-LISTEN:7,bind=10.78.0.2,fork,reuseaddr EXEC:cat 2>/dev/null &
for i in $(seq 50); do traffic_passes && break; sleep 0.1; done

base_state=$(tc_state)
base_orphans=$(orphan_tcx | sort)
traffic_passes && ok "traffic passes between the namespaces before" || no "no traffic before the test"

# --- (a) SIGINT / SIGTERM -----------------------------------------------------
echo "(a) SIGINT and SIGTERM detach everything"
for mode in tcx clsact; do
	for sig in INT TERM; do
		start "a-$mode-$sig" "${IFS_ARGS[@]}" --attach $mode || { no "$mode: start"; continue; }
		if [ $mode = tcx ]; then
			links=$(link_ids_of $pid)
			[ "$(wc -w <<<"$links")" -eq 3 ] && ok "$mode: 3 tcx links (lo egress, ktlc0 both ways)" ||
				no "$mode: expected 3 tcx links, have: $links"
		else
			links=
			[ "$(all_kt_filters | wc -l)" -eq 3 ] && ok "$mode: 3 clsact filters" ||
				no "$mode: expected 3 kafkatap filters: $(tc_state)"
		fi
		kill -$sig $pid
		wait $pid
		rc=$?
		[ $rc -eq 0 ] && ok "$mode: SIG$sig exits 0" || no "$mode: SIG$sig exit $rc: $(tail -3 "$OUT/a-$mode-$sig.err")"
		[ "$(tc_state)" = "$base_state" ] && ok "$mode: qdiscs and filters as before" ||
			no "$mode: TC state changed: $(tc_state)"
		[ -z "$(links_exist $links)" ] && ok "$mode: no tcx link left" || no "$mode: links left: $(links_exist $links)"
	done
done

# --- (b) SIGKILL ----------------------------------------------------------------
echo "(b) SIGKILL"
start b-tcx "${IFS_ARGS[@]}" --attach tcx
links=$(link_ids_of $pid)
kill -KILL $pid
wait $pid 2>/dev/null
[ -n "$links" ] && [ -z "$(links_exist $links)" ] && ok "tcx: the $(wc -w <<<"$links") links vanished with the killed process" ||
	no "tcx: links left after SIGKILL: '$(links_exist $links)' (had '$links')"
[ "$(orphan_tcx | sort)" = "$base_orphans" ] && ok "tcx: no orphan tcx link in the kernel" ||
	no "tcx: orphan tcx links: $(orphan_tcx)"
[ "$(tc_state)" = "$base_state" ] && ok "tcx: TC state as before" || no "tcx: TC state changed: $(tc_state)"
traffic_passes && ok "tcx: traffic passes" || no "tcx: traffic blocked after SIGKILL"

start b-clsact-killed "${IFS_ARGS[@]}" --attach clsact
stale=$(all_kt_filters)
kill -KILL $pid
wait $pid 2>/dev/null
[ "$(all_kt_filters)" = "$stale" ] && [ "$(wc -l <<<"$stale")" -eq 3 ] &&
	ok "clsact: SIGKILL leaves its 3 filters (as expected: only the next start can remove them)" ||
	no "clsact: expected the killed instance's 3 filters: $(tc_state)"
traffic_passes && ok "clsact: traffic passes the stale filters" || no "clsact: traffic blocked by stale filters"
start b-clsact-next "${IFS_ARGS[@]}" --attach clsact
err=$OUT/b-clsact-next.err
n=$(grep -c 'removed a stale kafkatap filter' "$err")
[ "$n" -eq 3 ] && ok "clsact: the next start removed the 3 stale filters and said so" ||
	no "clsact: next start removed $n stale filters: $(cat "$err")"
grep 'removed a stale' "$err" | head -n 1 | sed 's/^/       /'
now=$(all_kt_filters)
stale_ids=$(awk '{print $3}' <<<"$stale" | sort -u)
mine=$(prog_ids_of $pid)
if [ "$(wc -l <<<"$now")" -eq 3 ] && ! grep -qwFf <(echo "$stale_ids") <<<"$(awk '{print $3}' <<<"$now")" &&
	[ -z "$(comm -23 <(awk '{print $3}' <<<"$now" | sort -u) <(echo "$mine"))" ]; then
	ok "clsact: only the new instance's 3 filters are attached"
else
	no "clsact: filters now: $now (stale: $stale_ids, mine: $mine)"
fi
kill -INT $pid
wait $pid
[ -z "$(all_kt_filters)" ] && ok "clsact: no kafkatap filter after the next instance's exit" ||
	no "clsact: filters left: $(all_kt_filters)"
# The qdisc the killed instance created stays, empty: nothing runs in it.
# kafkatap cannot tell it from a clsact someone else added, so it leaves it.
inns tc qdisc show dev ktlc0 | grep -q clsact && ok "clsact: the killed instance's qdisc stays, empty (documented)" ||
	ok "clsact: no clsact qdisc left"
inns tc qdisc del dev lo clsact 2>/dev/null
inns tc qdisc del dev ktlc0 clsact 2>/dev/null
[ "$(tc_state)" = "$base_state" ] && ok "clsact: TC state as before" || no "clsact: TC state: $(tc_state)"

# A stale clsact filter is removed by a tcx start too: it would run beside the link.
start b-clsact-killed2 -i ktlc0 --attach clsact
kill -KILL $pid
wait $pid 2>/dev/null
start b-tcx-next -i ktlc0 --attach tcx
n=$(grep -c 'removed a stale kafkatap filter' "$OUT/b-tcx-next.err")
kill -INT $pid
wait $pid
[ "$n" -eq 2 ] && [ -z "$(all_kt_filters)" ] && ok "tcx start removed the 2 stale clsact filters" ||
	no "tcx start removed $n stale filters; left: $(all_kt_filters)"
inns tc qdisc del dev ktlc0 clsact 2>/dev/null

# Live instances never take each other's filters for stale ones.
start b-live1 -i ktlc0 --attach clsact
p1=$pid
start b-live2 -i ktlc0 --attach clsact
p2=$pid
grep -q 'removed a stale' "$OUT/b-live2.err" && no "clsact: a second instance removed the live first one's filter" ||
	ok "clsact: a second instance leaves the live first one's filters alone"
[ "$(all_kt_filters | wc -l)" -eq 4 ] && [ "$(all_kt_filters | awk '{print $1}' | sort -u | wc -l)" -eq 2 ] &&
	ok "clsact: two instances, 4 filters on 2 priorities" || no "clsact: filters: $(all_kt_filters)"
# A third in its own PID namespace (a container: it sees no other process in
# /proc) must not take the live ones' filters for stale either.
rm -f "$OUT/b-pidns.err"
ip netns exec "$NS" unshare --pid --fork --mount-proc --kill-child "$K" trace -v -i ktlc0 \
	--attach clsact >"$OUT/b-pidns.out" 2>"$OUT/b-pidns.err" &
upid=$!
if wait_watching "$upid" "$OUT/b-pidns.err"; then
	grep -q 'removed a stale' "$OUT/b-pidns.err" &&
		no "clsact: an instance in another PID namespace removed live filters: $(cat "$OUT/b-pidns.err")" ||
		ok "clsact: an instance in another PID namespace leaves live filters alone"
	[ "$(all_kt_filters | wc -l)" -eq 6 ] && ok "clsact: three instances, 6 filters" ||
		no "clsact: filters with three instances: $(all_kt_filters)"
	kill -INT "$(pgrep -P "$upid")"
else
	no "clsact: the instance in its own PID namespace did not start"
	# It may still be attaching: do not wait for it forever. unshare
	# ignores SIGTERM and SIGINT; --kill-child takes kafkatap along.
	kill -KILL $upid 2>/dev/null
fi
wait $upid
kill -KILL $p1
wait $p1 2>/dev/null
start b-live3 -i ktlc0 --attach clsact
p3=$pid
n=$(grep -c 'removed a stale' "$OUT/b-live3.err")
p2_progs=$(prog_ids_of $p2)
left=$(all_kt_filters | awk '{print $3}' | sort -u)
[ "$n" -eq 2 ] && [ "$(all_kt_filters | wc -l)" -eq 4 ] && grep -qxFf <(echo "$p2_progs") <<<"$left" &&
	ok "clsact: the third start removed the killed one's 2 filters, kept the live one's" ||
	no "clsact: third start removed $n; filters: $(all_kt_filters); live prog ids: $p2_progs"
kill -INT $p2 $p3
wait $p2 $p3
[ -z "$(all_kt_filters)" ] && ok "clsact: none left after both exit" || no "clsact: left: $(all_kt_filters)"
inns tc qdisc del dev ktlc0 clsact 2>/dev/null

# --- (c) two instances on the same traffic ---------------------------------------
echo "(c) two instances at once"
ready=$OUT/mock.bootstrap
rm -f "$ready"
ip netns exec "$NS" "$TOOLS/mockcluster" --brokers 1 --topic lc:1 --ready-file "$ready" >/dev/null 2>"$OUT/mock.err" &
for i in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
BS=$(cat "$ready" 2>/dev/null)
PORT=${BS##*:}
[ -n "$BS" ] || { no "the mock cluster did not start: $(cat "$OUT/mock.err")"; exit 1; }

STEADY='
import socket, struct, sys, time
port, n, gap, cid = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def rx(k):
    b = b""
    while len(b) < k:
        d = s.recv(k - len(b))
        if not d:
            raise SystemExit("broker closed the connection")
        b += d
    return b
for corr in range(n):
    api, ver, body = (3, 1, struct.pack(">i", -1)) if corr % 2 else (18, 0, b"")
    h = struct.pack(">hhih", api, ver, corr, len(cid)) + cid + body
    s.sendall(struct.pack(">i", len(h)) + h)
    r = rx(struct.unpack(">i", rx(4))[0])
    assert struct.unpack(">i", r[:4])[0] == corr
    time.sleep(gap)
s.close()
'
# keys FILE CLIENT_ID_PREFIX: "client broker correlation_id api" of matching lines.
keys() {
	/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.strip():
        r = json.loads(l)
        if (r.get("client_id") or "").startswith(sys.argv[2]):
            print(r["client"], r["broker"], r["correlation_id"], r["api"], r["status"])
' "$1" "$2" | sort
}
N=300
for mode in tcx clsact; do
	start "c-$mode-A" -i lo -p "$PORT" --attach $mode || { no "$mode: start A"; continue; }
	pa=$pid
	start "c-$mode-B" -i lo -p "$PORT" --attach $mode || { no "$mode: start B"; continue; }
	pb=$pid
	grep -q 'removed a stale' "$OUT/c-$mode-B.err" && no "$mode: B removed A's filter"
	# kcat: metadata, produce, consume.
	common=(-b "$BS" -X client.id=lc-kcat-$mode -X socket.timeout.ms=5000)
	seq 1 20 | sed 's/^/k:v/' | inns timeout 20 kcat -P "${common[@]}" -t lc -K: 2>"$OUT/c-kcat.err" &&
		inns timeout 20 kcat -C "${common[@]}" -t lc -o beginning -e -q >/dev/null 2>>"$OUT/c-kcat.err" &&
		inns timeout 20 kcat -L "${common[@]}" >/dev/null 2>>"$OUT/c-kcat.err" ||
		no "$mode: kcat failed: $(tail -3 "$OUT/c-kcat.err")"
	# Steady requests; A stops in the middle of them.
	ip netns exec "$NS" /usr/bin/python3 -c "$STEADY" "$PORT" $N 0.01 lc-steady-$mode 2>"$OUT/c-steady.err" &
	steady=$!
	sleep 1.2
	links_b=$(link_ids_of $pb)
	kill -TERM $pa
	wait $pa
	rc=$?
	[ $rc -eq 0 ] && ok "$mode: A stopped with SIGTERM while traffic flowed (exit 0)" || no "$mode: A exit $rc"
	if [ $mode = tcx ]; then
		[ -n "$links_b" ] && [ "$(links_exist $links_b)" = "$links_b" ] && ok "$mode: B's link still attached" ||
			no "$mode: B's link gone"
	else
		[ "$(kt_filters lo egress | wc -l)" -eq 1 ] && ok "$mode: B's filter still attached, A's removed" ||
			no "$mode: filters after A's exit: $(kt_filters lo egress)"
	fi
	wait $steady && ok "$mode: $N steady requests answered" || no "$mode: steady client: $(cat "$OUT/c-steady.err")"
	sleep 0.3
	kill -INT $pb
	wait $pb
	rc=$?
	[ $rc -eq 0 ] && ok "$mode: B exit 0" || no "$mode: B exit $rc"
	a=$(keys "$OUT/c-$mode-A.out" lc-kcat | cut -d' ' -f1-4)
	b=$(keys "$OUT/c-$mode-B.out" lc-kcat | cut -d' ' -f1-4)
	[ -n "$a" ] && [ "$a" = "$b" ] && ok "$mode: A and B traced the same $(wc -l <<<"$a") kcat requests" ||
		no "$mode: kcat requests differ: A $(wc -l <<<"$a"), B $(wc -l <<<"$b"): $(diff <(echo "$a") <(echo "$b") | head -5)"
	sb=$(keys "$OUT/c-$mode-B.out" lc-steady)
	sa=$(keys "$OUT/c-$mode-A.out" lc-steady)
	nb_ok=$(grep -c ' ok$' <<<"$sb")
	nb_corr=$(awk '{print $3}' <<<"$sb" | sort -un | wc -l)
	[ "$nb_ok" -eq $N ] && [ "$nb_corr" -eq $N ] &&
		ok "$mode: B traced all $N steady requests, paired, across A's exit" ||
		no "$mode: B has $nb_ok paired of $N steady requests ($nb_corr distinct)"
	na=$(grep -c ' ok$' <<<"$sa")
	missing=$(comm -23 <(grep ' ok$' <<<"$sa") <(echo "$sb") | head -3)
	[ "$na" -gt 0 ] && [ "$na" -lt $N ] && [ -z "$missing" ] &&
		ok "$mode: A traced the first $na of them, the same as B" ||
		no "$mode: A has $na paired steady requests; not in B: $missing"
	grep -E 'gaps=[1-9]|ringbuf_full' "$OUT/c-$mode-B.err" && no "$mode: B lost data" ||
		ok "$mode: B's counters show no gap and no ring buffer loss"
	if [ $mode = clsact ]; then
		# A created the clsact qdisc but left it to B's filter; B did not
		# create it, so it stays, empty (documented in user/kernel/tc.c).
		[ -z "$(all_kt_filters)" ] && [ -z "$(inns tc filter show dev lo egress)" ] &&
			ok "$mode: no filter left; the shared clsact qdisc stays, empty" ||
			no "$mode: filters left: $(tc_state)"
		inns tc qdisc del dev lo clsact 2>/dev/null
	fi
	[ "$(tc_state)" = "$base_state" ] && ok "$mode: TC state as before" || no "$mode: TC state: $(tc_state)"
done
[ "$(orphan_tcx | sort)" = "$base_orphans" ] && ok "no orphan tcx link in the kernel" || no "orphan tcx links: $(orphan_tcx)"
traffic_passes && ok "traffic passes at the end" || no "traffic blocked at the end"

echo "$fails failure(s)"
[ $fails -eq 0 ]
