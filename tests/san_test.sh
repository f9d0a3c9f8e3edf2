#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Userspace under AddressSanitizer and UndefinedBehaviorSanitizer: builds
# the agent and the C tests again in .output/san (make san-build), then runs
# the C tests, the replay of the real captures (every decoder on real
# frames), the hostile-input test (garbage live and in pcaps) and the live
# loopback test with that kafkatap. Any sanitizer report fails the run
# (-fno-sanitize-recover, abort_on_error), leaks included.
set -u
cd "$(dirname "$0")/.." || exit 1
SAN=.output/san

make --no-print-directory -j2 san-build || { echo "san_test: the sanitizer build failed"; exit 1; }

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export KAFKATAP=$PWD/$SAN/kafkatap
fail=0
run() {
	local name=$1 out
	shift
	out=tests/out/san-$name.log
	stamp=tests/out/.san-$name.start
	touch "$stamp"
	# (the tests' own "no 'Sanitizer' on stderr" lines must not match)
	if "$@" >"$out" 2>&1 && ! grep -Eq "==[0-9]+==ERROR: |runtime error: " "$out"; then
		echo "ok   $name"
	else
		echo "FAIL $name (log: $out)"
		grep -E -m 20 -A 12 "==[0-9]+==ERROR: |runtime error: |^FAIL|ERROR" "$out" | sed 's/^/    /'
		echo "    -- last lines of $out:"
		tail -n 30 "$out" | sed 's/^/    /'
		# kafkatap's own stderr (a sanitizer report of the agent lands there)
		for e in $(find tests/out -maxdepth 1 -name '*.err' -newer "$stamp"); do
			grep -qE "==[0-9]+==ERROR: |runtime error: " "$e" || continue
			echo "    -- sanitizer report in $e:"
			grep -E -m 5 -A 30 "==[0-9]+==ERROR: |runtime error: " "$e" | sed 's/^/    /'
		done
		fail=1
	fi
}

mkdir -p tests/out
for t in agent_test codec_test groups_test kmetrics_test bpf_test gso_test structure_test; do
	run "$t" "$SAN/tests/$t"
done
run replay-real tests/replay_real.py
run hostile tests/hostile_test.py
run live-lo tests/live_test.py lo
exit $fail
