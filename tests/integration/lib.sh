# Helpers for the integration tests. Sourced by each test; every test cleans up what it made
# (processes, files) through the EXIT trap, on failure too.
set -u

: "${VMM:?VMM must point at the vmm binary}"
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmm-test-$TEST_NAME.XXXXXX")
PIDS=()
FAILURES=0
CHECKS=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

pass() { CHECKS=$((CHECKS + 1)); say "ok: $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); say "FAIL: $*"; }

# check DESCRIPTION COMMAND...: records a pass or a failure.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# Skips loudly (ctest SKIP_RETURN_CODE 77) when this host has no KVM. Where /dev/kvm exists,
# nothing skips: a missing guest image or a broken KVM is a failure.
require_kvm() {
	if [ ! -e /dev/kvm ]; then
		echo "*****************************************************************" >&2
		echo "SKIPPED $TEST_NAME: no /dev/kvm on this host; guest tests cannot run" >&2
		echo "*****************************************************************" >&2
		exit 77
	fi
}

require_file() {
	if [ ! -f "$1" ]; then
		say "FAIL: missing $1 ($2)"
		exit 1
	fi
}

# wait_for FILE REGEX SECONDS [PID]: a bounded poll for a line in a growing file; with PID
# (the vmm writing it), it gives up as soon as that process has exited without the line.
wait_for() {
	local file=$1 re=$2 limit=$3 pid=${4:-} start=$SECONDS
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		if grep -Eq -- "$re" "$file" 2>/dev/null; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			grep -Eq -- "$re" "$file" 2>/dev/null && return 0
			say "pid $pid exited after $((SECONDS - start))s without /$re/ in $file"
			return 1
		fi
		sleep 0.2
	done
	say "timed out after ${limit}s waiting for /$re/ in $file"
	return 1
}

# wait_exit PID SECONDS: a bounded wait for a background process; sets EXIT_CODE.
wait_exit() {
	local pid=$1 limit=$2 start=$SECONDS
	EXIT_CODE=
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			EXIT_CODE=$?
			return 0
		fi
		sleep 0.1
	done
	say "pid $pid still running after ${limit}s"
	return 1
}

# start_vmm OUT_PREFIX ARGS...: runs vmm in the background, stdout and stderr to files.
# VMM_TEST_RUN_FLAGS (e.g. --no-jail) go right after `run`, so one test runs both ways.
start_vmm() {
	local out=$1
	shift
	if [ "${1:-}" = run ] && [ -n "${VMM_TEST_RUN_FLAGS:-}" ]; then
		shift
		# shellcheck disable=SC2086 # flags are words
		set -- run $VMM_TEST_RUN_FLAGS "$@"
	fi
	"$VMM" "$@" >"$out.out" 2>"$out.err" </dev/null &
	VMM_PID=$!
	show_on_failure "$out.out" "$(basename "$out").out (the guest's console)"
	show_on_failure "$out.err" "$(basename "$out").err (vmm's log)"
	PIDS+=("$VMM_PID")
}

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# check_jailed NAME PID: the device process PID meets the jail (issue 4): its seccomp filter,
# no new privileges, no capability in any set, nobody, its own pid/mnt/net/ipc/uts namespaces
# (compared with vmm's, VMM_PID), an empty read-only root.
check_jailed() {
	local name=$1 pid=$2 cap ns uids
	check "$name: Seccomp: 2 (filter)" [ "$(status_field "$pid" Seccomp)" = 2 ]
	check "$name: NoNewPrivs: 1" [ "$(status_field "$pid" NoNewPrivs)" = 1 ]
	for cap in CapEff CapPrm CapBnd CapAmb CapInh; do
		check "$name: $cap all zero" [ "$(status_field "$pid" $cap)" = 0000000000000000 ]
	done
	uids=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$pid/status")
	check "$name: runs as nobody, real, effective, saved and fs ($uids)" [ "$uids" = "65534 65534 65534 65534" ]
	for ns in pid mnt net ipc uts; do
		check "$name: its own $ns namespace" \
			[ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink "/proc/$VMM_PID/ns/$ns")" ]
	done
	check "$name: its root holds nothing" [ -z "$(ls -A "/proc/$pid/root/")" ]
	check "$name: its root is read-only" grep -Eq '^[^ ]+ / tmpfs ro,' "/proc/$pid/mounts"
}

# show_on_failure FILE LABEL: when a check failed, finish() prints the end of FILE (a guest's
# console, vmm's stderr) after everything else, where a log cut to its tail still shows it.
SHOW_ON_FAILURE=()
show_on_failure() { SHOW_ON_FAILURE+=("$1" "$2"); }

finish() {
	local i
	if [ "$FAILURES" -gt 0 ]; then
		for ((i = 0; i < ${#SHOW_ON_FAILURE[@]}; i += 2)); do
			say "---- ${SHOW_ON_FAILURE[i + 1]}, its last ${VMM_TEST_SHOW_LINES:-40} lines ----"
			tail -n "${VMM_TEST_SHOW_LINES:-40}" "${SHOW_ON_FAILURE[i]}" 2>&1 | sed 's/^/  | /'
		done
	fi
	say "$((CHECKS - FAILURES)) passed, $FAILURES failed"
	[ "$FAILURES" -eq 0 ]
	exit $?
}
