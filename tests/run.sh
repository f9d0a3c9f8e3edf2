#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Run kafkatap's test suite: unit, BPF (test-run and real hooks), replay of
# real captures against Wireshark, live end-to-end with real Kafka clients,
# the exporter against a real Prometheus. Exit 1 if any test fails.
#
#   tests/run.sh            all of it
#   tests/run.sh bpf live   only the tests whose name contains one of these
#
# Logs are in tests/out/NAME.log. A test exits 77 to say it was skipped
# (with the reason on its last line); every other non-zero is a failure.
set -u
cd "$(dirname "$0")/.."
mkdir -p tests/out
export KAFKATAP="$PWD/kafkatap" TOOLS="$PWD/.output/tools" TESTBIN="$PWD/.output/tests"

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: the tests load BPF programs and create network namespaces:" >&2
	echo "run them as root (sudo make test)" >&2
	exit 1
fi

# name, command: in the order they run.
TESTS=(
	"gen             tests/gen_test.sh"
	"layers          tests/layers_test.py"
	"unit-agent      $TESTBIN/agent_test"
	"unit-codec      $TESTBIN/codec_test"
	"unit-groups     $TESTBIN/groups_test"
	"unit-kmetrics   $TESTBIN/kmetrics_test"
	"bpf-testrun     $TESTBIN/bpf_test"
	"bpf-gso         $TESTBIN/gso_test"
	"bpf-structure   $TESTBIN/structure_test"
	"bpf-property    $TESTBIN/bpf_property_test"
	"fuzz-smoke      fuzz/run.sh 5"
	"replay-real     tests/replay_real.py"
	"hostile         tests/hostile_test.py"
	"cli             tests/cli_test.sh"
	"live-lo         tests/live_test.py lo"
	"live-veth       tests/live_test.py veth"
	"live-midstream  tests/live_test.py midstream"
	"prometheus      tests/prom_test.py"
	"deploy          tests/deploy_test.py"
	"live-deep       tests/deep_test.py"
	"privacy         tests/privacy_test.py"
	"live-loss       tests/loss_test.py"
	"live-churn      tests/churn_test.py"
	"lifecycle       tests/lifecycle_test.sh"
	"live-top        tests/top_test.sh"
	"demo            tests/demo_test.sh"
	"sanitizers      tests/san_test.sh"
)

pass=0 fail=0 skip=0 failed=()
start_all=$(date +%s)
for t in "${TESTS[@]}"; do
	name=${t%% *}
	cmd=$(echo "${t#* }" | sed 's/^ *//')
	if [ $# -gt 0 ]; then
		want=0
		for f in "$@"; do [[ $name == *"$f"* ]] && want=1; done
		[ $want -eq 1 ] || continue
	fi
	bin=${cmd%% *}
	if [ ! -x "$bin" ]; then
		printf '%-16s MISSING  %s is not built or not executable\n' "$name" "$bin"
		fail=$((fail + 1)); failed+=("$name")
		continue
	fi
	log=tests/out/$name.log
	t0=$(date +%s%N)
	timeout --kill-after=10 600 $cmd >"$log" 2>&1
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	secs=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
	if [ $rc -eq 0 ]; then
		printf '%-16s PASS     %6ss\n' "$name" "$secs"
		pass=$((pass + 1))
	elif [ $rc -eq 77 ]; then
		printf '%-16s SKIP     %6ss  %s\n' "$name" "$secs" "$(tail -n 1 "$log")"
		skip=$((skip + 1))
	else
		printf '%-16s FAIL     %6ss  (exit %d; last lines of %s:)\n' "$name" "$secs" $rc "$log"
		tail -n 25 "$log" | sed 's/^/    /'
		fail=$((fail + 1)); failed+=("$name")
	fi
done
echo "----"
echo "passed $pass, failed $fail, skipped $skip in $(( $(date +%s) - start_all ))s"
[ $fail -eq 0 ] || { echo "FAILED: ${failed[*]}"; exit 1; }
