#!/bin/bash
# vmm policy learn's report, driven by the device harness instead of a guest: every harness
# test runs against a learning jailed device; no device may make a syscall its policy lacks.
# Prints the syscalls no test made, per policy (candidates for removal), without failing.
set -u
: "${HARNESS_DIR:?}" "${VMM_POLICY_DIR:?}"
report=$(mktemp "${TMPDIR:-/tmp}/vmm-learn.XXXXXX")
out=$(mktemp "${TMPDIR:-/tmp}/vmm-learn-out.XXXXXX")
trap 'rm -f "$report" "$out"' EXIT
status=0
for t in rng_harness_test blk_harness_test balloon_harness_test hostile_harness_test fds_harness_test net_harness_test; do
	if ! VMM_HARNESS_LEARN=$report "$HARNESS_DIR/$t" --jobs=1 >"$out" 2>&1; then
		echo "FAIL: $t failed against learning devices; its failures:"
		grep -E -A4 '\[FAIL\]|Assertion|Crash|ERROR: AddressSanitizer|runtime error' "$out" | head -60
		tail -n 5 "$out"
		status=1
	fi
done
reports=$(grep -c '^[a-z0-9]* (' "$report")
echo "learn: $reports device runs reported"
[ "$reports" -gt 0 ] || { echo "FAIL: no report was written"; status=1; }
if grep -q '^  missing:' "$report"; then
	echo "FAIL: devices made syscalls their policies lack:"
	grep '^  missing:' "$report" | sed 's/ (made [0-9]* times/ (/' | sort | uniq -c
	status=1
else
	echo "ok: no device made a syscall its policy lacks"
fi
# A syscall is unused when every run of that policy reports it never made.
for policy in $(sed -n 's/^[a-z0-9]* (\(.*\)):$/\1/p' "$report" | sort -u); do
	runs=$(grep -c "^[a-z0-9]* ($policy):$" "$report")
	unused=$(awk -v p="($policy):" '$2 == p { on = 1; next } /^[^ ]/ { on = 0 }
		on && $1 == "never" { print $3 }' "$report" | sort | uniq -c |
		awk -v n="$runs" '$1 == n { printf " %s", $2 }')
	echo "$(basename "$policy"): $runs runs; allowed but never made:${unused:- none}"
done
exit $status
