#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The command line as a user meets it: help, bad arguments, clear errors,
# and attach/detach that leaves the machine as it was (tcx and clsact).
set -u
cd "$(dirname "$0")/.."
K=${KAFKATAP:-./kafkatap}
fails=0
ok() { echo "ok   $*"; }
no() { echo "FAIL $*"; fails=$((fails + 1)); }

# expect CODE PATTERN -- command...: exit code and a line of stdout+stderr.
expect() {
	local code=$1 pat=$2 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq "$code" ] && grep -qE -- "$pat" <<<"$out"; then
		ok "$* -> $rc, /$pat/"
	else
		no "$* -> $rc (want $code), output lacks /$pat/:"
		sed 's/^/       /' <<<"$out" | head -n 8
	fi
}

expect 0 'Commands:' -- $K --help
expect 2 'Usage: kafkatap COMMAND' -- $K
expect 2 "unknown command 'frobnicate'" -- $K frobnicate
expect 0 'kafkatap [0-9a-f]+|kafkatap unknown' -- $K version
for cmd in trace replay; do
	expect 0 'Examples:' -- $K $cmd --help
	expect 2 "unknown option '--bogus'" -- $K $cmd --bogus
done
expect 2 'ports are numbers 1-65535' -- $K trace -p 70000
expect 2 'ports are numbers 1-65535' -- $K trace -p 9092,x
expect 2 'duration is seconds' -- $K trace -d -1
expect 2 'format is json or text' -- $K trace --format xml
expect 2 'option needs a value' -- $K trace -p
expect 2 'needs a capture FILE' -- $K replay
expect 2 'capture is API=' -- $K trace --capture Nonsense=full
expect 2 'not an IPv4 or IPv6 address' -- $K trace -b broker.example
expect 2 'ring buffer MiB is a power of two' -- $K trace --ringbuf-mb 3
# One-line errors: the first line says what is wrong, then the usage.
first=$($K trace -p 0 2>&1 | head -n 1)
[[ $first == "kafkatap trace: ports are numbers"* ]] && ok "one-line error first" || no "first line: $first"

expect 1 "no such interface 'nosuch0'" -- $K trace -i nosuch0 -d 1
expect 1 "kafkatap replay: .*(No such file|cannot open|unknown file format)" -- $K replay /nonexistent.pcap
printf 'not a capture at all' >tests/out/bogus.pcap
expect 1 'kafkatap replay: .*(unknown file format|bad dump file format)' -- $K replay tests/out/bogus.pcap
# bpf() refused by a seccomp profile (Podman, CRI-O): said so, not taken for
# a kernel without a ring buffer.
expect 1 'bpf\(\) refused: missing CAP_BPF, or a seccomp profile' -- \
	"${TESTBIN:-.output/tests}/seccomp_eperm" $K trace -i lo -d 1
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	expect 1 'lacks CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN' -- setpriv --reuid=nobody \
		--regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
		$K trace -i lo -d 1
	# Root without some capabilities (a container): named, not taken for a
	# verifier bug or an old kernel.
	expect 1 'lacks CAP_PERFMON \(' -- setpriv --inh-caps=-all \
		--bounding-set=-all,+bpf,+net_admin $K trace -i lo -d 1
	expect 1 'lacks CAP_BPF \(' -- setpriv --inh-caps=-all \
		--bounding-set=-all,+perfmon,+net_admin $K trace -i lo -d 1
	expect 1 'lacks CAP_NET_ADMIN \(' -- setpriv --inh-caps=-all \
		--bounding-set=-all,+bpf,+perfmon $K trace -i lo -d 1
	# Attaching needs CAP_NET_ADMIN itself (clsact is set up over rtnetlink).
	expect 1 'lacks CAP_NET_ADMIN \(.*or CAP_SYS_ADMIN and CAP_NET_ADMIN' -- \
		setpriv --inh-caps=-all --bounding-set=-all,+sys_admin $K trace -i lo -d 1
	# replay only loads (BPF_PROG_TEST_RUN, no attach): CAP_SYS_ADMIN alone
	# suffices, without CAP_NET_ADMIN. Without CAP_SYS_ADMIN the kernel wants
	# CAP_NET_ADMIN to load a TC program, and CAP_PERFMON for its verifier.
	/usr/bin/python3 - <<-'PY'
		import struct, sys
		sys.path.insert(0, "tests")
		from hostile_test import Pcap
		# One ApiVersions v0 request (correlation id 7) to a broker on 9092.
		kafka = struct.pack(">hhih", 18, 0, 7, 1) + b"t"
		p = Pcap("tests/out/cli-one.pcap")
		p.raw(p.packet("10.9.0.1", "10.9.0.2", 40000, 9092, 1000, 1, 0x18,
		               struct.pack(">i", len(kafka)) + kafka))
		p.f.close()
	PY
	expect 0 '"api":"ApiVersions".*"correlation_id":7' -- setpriv --inh-caps=-all \
		--bounding-set=-all,+sys_admin $K replay tests/out/cli-one.pcap
	expect 0 '"api":"ApiVersions".*"correlation_id":7' -- setpriv --inh-caps=-all \
		--bounding-set=-all,+bpf,+perfmon,+net_admin $K replay tests/out/cli-one.pcap
	expect 1 'lacks CAP_NET_ADMIN \(.*or CAP_SYS_ADMIN\)' -- setpriv --inh-caps=-all \
		--bounding-set=-all,+bpf,+perfmon $K replay tests/out/cli-one.pcap
	expect 1 'lacks CAP_PERFMON \(' -- setpriv --inh-caps=-all \
		--bounding-set=-all,+bpf,+net_admin $K replay tests/out/cli-one.pcap
else
	no "cannot test the non-root message: setpriv or user nobody missing"
fi

# Attach and detach leave lo as it was, in both attach modes; SIGTERM and
# SIGINT stop cleanly (exit 0).
# Other kafkatap instances may run beside this test (tcx links coexist), so
# links are told apart by the process holding them (/proc/PID/fdinfo).
tcx_links() { bpftool link show | grep -E 'type (tcx|11) +prog' | awk '{print $1}' | tr -d : | sort; }
held_by() { cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^link_id:/ {print $2}' | sort -u; }
orphans() {	# tcx links no live process holds (pinned or leaked)
	comm -23 <(tcx_links) <(for d in /proc/[0-9]*; do held_by "${d#/proc/}"; done | sort -u)
}
before_q=$(tc qdisc show dev lo)
before_f=$(tc filter show dev lo egress 2>/dev/null)
for mode in tcx clsact; do
	for sig in TERM INT; do
		$K trace -i lo --attach $mode >tests/out/cli-trace.json 2>tests/out/cli-trace.err &
		pid=$!
		sleep 1.5
		if [ $mode = tcx ]; then
			# Debian's bpftool 7.1 names the tcx link type only by number.
			[ -n "$(comm -12 <(tcx_links) <(held_by $pid))" ] &&
				ok "$mode: attached (a tcx link held by kafkatap)" || no "$mode: no tcx link: $(bpftool link show)"
		else
			tc filter show dev lo egress | grep -q kafkatap &&
				ok "$mode: attached (tc filter)" || no "$mode: no tc filter"
		fi
		kill -$sig $pid
		wait $pid
		rc=$?
		[ $rc -eq 0 ] && ok "$mode: SIG$sig exits 0" || no "$mode: SIG$sig exit $rc: $(cat tests/out/cli-trace.err)"
		[ "$(tc qdisc show dev lo)" = "$before_q" ] && ok "$mode: qdiscs as before" ||
			no "$mode: qdiscs changed: $(tc qdisc show dev lo)"
		[ "$(tc filter show dev lo egress 2>/dev/null)" = "$before_f" ] && ok "$mode: filters as before" ||
			no "$mode: filters left: $(tc filter show dev lo egress)"
		[ -z "$(orphans)" ] && ok "$mode: detached, no orphan tcx link" || no "$mode: tcx links left: $(orphans)"
	done
done
# A clsact qdisc that was there before stays, only our filter goes.
tc qdisc add dev lo clsact
$K trace -i lo --attach clsact -d 1 >/dev/null 2>&1
tc qdisc show dev lo | grep -q clsact && ok "pre-existing clsact kept" || no "pre-existing clsact removed"
tc filter show dev lo egress | grep -q kafkatap && no "filter left in pre-existing clsact" || ok "our filter removed"
tc qdisc del dev lo clsact

echo "$fails failure(s)"
[ $fails -eq 0 ]
