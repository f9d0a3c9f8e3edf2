#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Build and run kafkatap's libFuzzer targets (fuzz/fuzz_*.c).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 10; 0: no time limit), TARGET a name like
# `agent` or `fuzz_agent` (default: all). Builds into .output/fuzz/ with
# clang -fsanitize=fuzzer,address,undefined (fuzz/fuzz.mk), seeds
# .output/fuzz/corpus/TARGET/ (fuzz/seeds.py from the real captures in
# ../shared/testdata/pcap-real-kafka when present, plus the codec's own
# encodings), runs the targets one after the other and exits 1 if any
# crashed (or 2 if one does not build). Crash inputs are kept as
# .output/fuzz/artifacts/TARGET-crash-*; logs in .output/fuzz/logs/.
#
# Environment: FUZZ_ARGS extra libFuzzer options (e.g. -runs=10000000);
# FUZZ_CAPTURES another folder of captures.
set -u
cd "$(dirname "$0")/.."
OUT=.output/fuzz
SECS=10
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	SECS=$1
	shift
fi
CAPTURES=${FUZZ_CAPTURES:-../shared/testdata/pcap-real-kafka}
PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=$(nproc 2>/dev/null || echo 2)

if [ $# -gt 0 ]; then
	targets=()
	for t in "$@"; do
		t=${t#fuzz_}
		if [ ! -f "fuzz/fuzz_$t.c" ]; then
			echo "fuzz/run.sh: no target $t (fuzz/fuzz_$t.c)" >&2
			exit 2
		fi
		targets+=("$t")
	done
else
	targets=()
	for f in fuzz/fuzz_*.c; do
		t=${f#fuzz/fuzz_}
		targets+=("${t%.c}")
	done
fi

if ! command -v clang >/dev/null; then
	echo "fuzz/run.sh: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
mkdir -p "$OUT/logs" "$OUT/artifacts" "$OUT/corpus"

# Objects: a userspace file that does not compile is left out (and named);
# a target that needs it then fails to link below.
echo "fuzz: building (fuzz/fuzz.mk)"
if ! make -k -j"$JOBS" --no-print-directory -f fuzz/fuzz.mk objs >"$OUT/logs/build.log" 2>&1; then
	grep -E 'error|Error' "$OUT/logs/build.log" | head -n 20 | sed 's/^/    /'
	echo "fuzz: some userspace files do not compile (full log: $OUT/logs/build.log)"
fi
bins=()
for t in "${targets[@]}"; do
	bins+=("$OUT/fuzz_$t")
done
if ! make -j"$JOBS" --no-print-directory -f fuzz/fuzz.mk "${bins[@]}" "$OUT/gen_codec_seeds" \
	>>"$OUT/logs/build.log" 2>&1; then
	tail -n 30 "$OUT/logs/build.log" | sed 's/^/    /'
	echo "fuzz: build FAILED (full log: $OUT/logs/build.log)"
	exit 2
fi

# Seeds: deterministic names, so re-seeding adds nothing twice; what the
# fuzzer finds stays in the corpus for the next run.
if [ -d "$CAPTURES" ]; then
	"$PYTHON" fuzz/seeds.py "$CAPTURES" "$OUT/corpus" || exit 2
else
	echo "fuzz: $CAPTURES not found: synthetic seeds only"
	"$PYTHON" fuzz/seeds.py /nonexistent "$OUT/corpus" || exit 2
fi
"$OUT/gen_codec_seeds" "$OUT/corpus/codec" "$OUT/corpus/observe" 2 || exit 2

fail=0
failed=()
printf '%-10s %8s %12s %10s %8s  %s\n' target seconds execs exec/s corpus result
for t in "${targets[@]}"; do
	log=$OUT/logs/$t.log
	mkdir -p "$OUT/corpus/$t"
	before=$(ls "$OUT/artifacts" | grep -c "^$t-" || true)
	t0=$(date +%s)
	# shellcheck disable=SC2086
	"$OUT/fuzz_$t" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=3072 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" \
		${FUZZ_ARGS:-} "$OUT/corpus/$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - t0 ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	units=$(ls "$OUT/corpus/$t" | wc -l)
	after=$(ls "$OUT/artifacts" | grep -c "^$t-" || true)
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
		fail=1
		failed+=("$t")
	fi
	printf '%-10s %8s %12s %10s %8s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$units" "$result"
	if [ $rc -ne 0 ]; then
		grep -E 'ERROR:|SUMMARY:|check failed|runtime error|^    #[0-9]+ .* in ' "$log" |
			grep -v -E 'fuzzer::|__sanitizer|__asan|libc\.so|_start' | head -n 15 | sed 's/^/    /'
		[ "$after" -gt "$before" ] &&
			ls -t "$OUT/artifacts" | grep "^$t-" | head -n 1 | sed "s|^|    input: $OUT/artifacts/|"
		echo "    log: $log; reproduce: $OUT/fuzz_$t INPUT"
	fi
done
[ $fail -eq 0 ] || { echo "fuzz: FAILED: ${failed[*]}"; exit 1; }
echo "fuzz: all targets ran clean"
