#!/bin/bash
# usage: tests/fuzz/run.sh [RUNS]
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for RUNS inputs (default
# 200000), starting from a seed corpus of valid encodings (fuzz_seeds). Exits non-zero if any
# target crashes; the crashing input is kept under build-fuzz/tests/fuzz/out/crash/.
# FUZZ_BUILD_DIR: another build tree; FUZZ_NO_BUILD=1: it is built already (the ctest entry).
set -euo pipefail

runs=${1:-200000}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
targets=(fuzz_msg_device fuzz_msg_vm_memory fuzz_msg_vm)

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
	cmake -S "$src" -B "$build" -DVMM_FUZZ=ON -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" fuzz_seeds
fi

bin=$build/tests/fuzz
out=$bin/out
rm -rf "$out"
mkdir -p "$out"
"$bin/fuzz_seeds" "$out/seeds"

passed=0
failed=0
for t in "${targets[@]}"; do
	cat=${t#fuzz_msg_}
	mkdir -p "$out/corpus/$cat" "$out/crash/$cat"
	log=$out/$t.log
	if "$bin/$t" -runs="$runs" -artifact_prefix="$out/crash/$cat/" -print_final_stats=1 \
		"$out/corpus/$cat" "$out/seeds/$cat" >"$log" 2>&1; then
		echo "$t: ok, $(grep -m1 -o 'Done [0-9]* runs.*' "$log")"
		passed=$((passed + 1))
	else
		echo "$t: FAILED (log: $log, input: $out/crash/$cat/)"
		tail -n 40 "$log"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
