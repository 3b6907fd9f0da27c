#!/bin/bash
# Boot benchmark (not a test): our own cost and the guest's time to `Run /init`, beside
# QEMU on the same kernel and initramfs in the same run.
#
#   tests/bench/boot.sh [-n RUNS] [-b BUILD_DIR] [-g GUEST_DIR]
#
# Prints a Markdown table: median, min and max over RUNS runs, and the ratio to QEMU.
#   - vmm exec -> first KVM_RUN: from the process's start (/proc/self/stat) to the first
#     KVM_RUN, as vmm logs it with VMM_LOG=debug. No guest code involved.
#   - vmm exec -> exit, tiny guest: a PVH guest of a few instructions that resets at once.
#   - exec -> `Run /init`: the test kernel with the spinning initramfs, 1 vCPU, 256 MiB,
#     for vmm (vmlinux), QEMU -M microvm and QEMU -M pc (both -accel kvm, direct kernel boot).
set -euo pipefail

RUNS=5
BUILD=build
GUEST=
while getopts "n:b:g:" o; do
	case $o in
	n) RUNS=$OPTARG ;;
	b) BUILD=$OPTARG ;;
	g) GUEST=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS] [-b BUILD_DIR] [-g GUEST_DIR]" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")/../.."
VMM=$BUILD/vmm
GUEST=${GUEST:-$BUILD/guest}
TINY=$BUILD/tests/integration/tiny/hello_pvh.elf
CMDLINE="console=ttyS0 nopv noxsave clearcpuid=popcnt,smap,cx16 reboot=k panic=1"
BOOT_LIMIT=${BOOT_LIMIT:-600}

[ -e /dev/kvm ] || { echo "boot.sh: no /dev/kvm: nothing to measure on this host" >&2; exit 1; }
for f in "$VMM" "$TINY" "$GUEST/vmlinux" "$GUEST/bzImage" "$GUEST/initramfs-spin.cpio"; do
	[ -f "$f" ] || { echo "boot.sh: missing $f (build first: scripts/test.sh)" >&2; exit 1; }
done
QEMU=$(command -v qemu-system-x86_64 || true)

WORK=$(mktemp -d /tmp/vmm-bench.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# stats VALUES...: "median min max"
stats() {
	printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {
		m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
		printf "%.1f %.1f %.1f\n", m, a[1], a[NR] }'
}

# time_to_line LOG REGEX CMD...: starts CMD with output to LOG, returns ms until REGEX shows.
time_to_line() {
	local log=$1 re=$2 t0 t
	shift 2
	t0=$(now_ms)
	"$@" >"$log" 2>&1 </dev/null &
	PID=$!
	while ! grep -Eq -- "$re" "$log"; do
		if ! kill -0 "$PID" 2>/dev/null; then
			echo "boot.sh: $1 exited before /$re/" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		if [ $(( $(now_ms) - t0 )) -gt $((BOOT_LIMIT * 1000)) ]; then
			echo "boot.sh: timeout" >&2
			return 1
		fi
		sleep 0.05
	done
	t=$(( $(now_ms) - t0 ))
	kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null || true
	PID=
	echo "$t"
}

first_run=() tiny=() vmm_init=() microvm_init=() pc_init=()
for i in $(seq "$RUNS"); do
	VMM_LOG=debug "$VMM" run --kernel "$TINY" --memory 256 --serial none >"$WORK/t.log" 2>&1
	first_run+=("$(sed -n 's/.*first KVM_RUN \([0-9.]*\) ms.*/\1/p' "$WORK/t.log")")
	t0=$(date +%s%N)
	"$VMM" run --kernel "$TINY" --memory 256 --serial none >/dev/null 2>&1
	tiny+=("$(( ($(date +%s%N) - t0) / 1000 ))e-3")
	vmm_init+=("$(time_to_line "$WORK/vmm.log" 'Run /init' "$VMM" run --kernel "$GUEST/vmlinux" \
		--initrd "$GUEST/initramfs-spin.cpio" --memory 256 --cpus 1 --cmdline "$CMDLINE")")
	if [ -n "$QEMU" ]; then
		if t=$(time_to_line "$WORK/microvm.log" 'Run /init' "$QEMU" -accel kvm -M microvm \
			-cpu host -m 256 -smp 1 -nographic -nodefaults -no-reboot -serial stdio \
			-kernel "$GUEST/vmlinux" -initrd "$GUEST/initramfs-spin.cpio" -append "$CMDLINE"); then
			microvm_init+=("$t")
		fi
		if t=$(time_to_line "$WORK/pc.log" 'Run /init' "$QEMU" -accel kvm -M pc -cpu host \
			-m 256 -smp 1 -nographic -nodefaults -no-reboot -serial stdio \
			-kernel "$GUEST/bzImage" -initrd "$GUEST/initramfs-spin.cpio" -append "$CMDLINE"); then
			pc_init+=("$t")
		fi
	fi
done

row() { # name unit values...
	local name=$1 ref=$2
	shift 2
	read -r med min max <<<"$(stats "$@")"
	local ratio=""
	[ -n "$ref" ] && ratio=$(awk -v a="$med" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')
	printf '| %s | %s | %s | %s | %s |\n' "$name" "$med" "$min" "$max" "$ratio"
}

echo "Boot benchmark, $(date -u +%Y-%m-%d), $RUNS runs, $(uname -r), $(nproc) CPUs,"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| what (ms) | median | min | max | ratio to QEMU -M pc |"
echo "| --- | --- | --- | --- | --- |"
row "vmm: exec -> first KVM_RUN" "" "${first_run[@]}"
row "vmm: exec -> exit, tiny guest" "" "${tiny[@]}"
pc_med=""
[ ${#pc_init[@]} -gt 0 ] && read -r pc_med _ _ <<<"$(stats "${pc_init[@]}")"
row "vmm: exec -> Run /init" "$pc_med" "${vmm_init[@]}"
[ ${#microvm_init[@]} -gt 0 ] && row "QEMU -M microvm: exec -> Run /init" "$pc_med" "${microvm_init[@]}"
[ ${#pc_init[@]} -gt 0 ] && row "QEMU -M pc: exec -> Run /init" "$pc_med" "${pc_init[@]}"
exit 0
