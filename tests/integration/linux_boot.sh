#!/bin/bash
# The real client: the test kernel (tests/guest) booted by vmm, checked through its console.
# Two boots, many checks each (a boot costs ~90 s on a host whose KVM interprets ring 0).
. "$(dirname "$0")/lib.sh"
require_kvm

: "${GUEST_DIR:?GUEST_DIR must point at the built test guest}"
for f in vmlinux bzImage initramfs-spin.cpio initramfs-panic.cpio; do
	require_file "$GUEST_DIR/$f" "built by the guest target (tests/guest/build.sh)"
done

BASE_CMDLINE="console=ttyS0 nopv noxsave clearcpuid=popcnt,smap,cx16 reboot=k panic=1"
BOOT_LIMIT=${VMM_TEST_BOOT_SECONDS:-400}

# Boot 1: vmlinux, 2 vCPUs, 512 MiB, an init that makes one syscall: the kernel panics and
# reboots, vmm exits 0.
cat >"$WORK/vm.toml" <<TOML
[vm]
name = "linux-boot-test"
cpus = 2
memory_mib = 512
kernel = "$GUEST_DIR/vmlinux"
initrd = "$GUEST_DIR/initramfs-panic.cpio"
cmdline = "$BASE_CMDLINE vmm.test=boot-one"

[serial]
mode = "stdio"
TOML
start_vmm "$WORK/one" run --config "$WORK/vm.toml"
if wait_for "$WORK/one.out" 'Run /init as init process' "$BOOT_LIMIT" "$VMM_PID"; then
	pass "vmlinux (PVH) reaches Run /init"
else
	fail "vmlinux (PVH) reaches Run /init"
	tail -n 30 "$WORK/one.out" "$WORK/one.err"
fi
check "both vCPUs come up" grep -q 'smp: Brought up 1 node, 2 CPUs' "$WORK/one.out"
check "the kernel saw our command line" grep -q "Command line: .*vmm.test=boot-one" "$WORK/one.out"
total_k=$(sed -n 's/.*Memory: [0-9]*K\/\([0-9]*\)K available.*/\1/p' "$WORK/one.out" | head -n1)
check "Memory: total matches 512 MiB (got ${total_k:-none}K)" \
	bash -c "[ -n '$total_k' ] && [ '$total_k' -gt 500000 ] && [ '$total_k' -le 524288 ]"
check "the MP table lists 2 processors" grep -Eq 'smpboot: Allowing 2 CPUs|Processor #1' "$WORK/one.out"
if wait_exit "$VMM_PID" 120; then
	check "the panicking init makes vmm exit 0 (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ]
else
	fail "vmm exits after the guest panics and reboots"
fi
check "the kernel panicked on init's exit" grep -q 'Attempted to kill init' "$WORK/one.out"

# Boot 2: the bzImage (64-bit boot protocol entry), 1 vCPU, the spinning init; then the
# operator stops it with SIGTERM.
start_vmm "$WORK/two" run --kernel "$GUEST_DIR/bzImage" --initrd "$GUEST_DIR/initramfs-spin.cpio" \
	--cpus 1 --memory 256 --cmdline "$BASE_CMDLINE vmm.test=boot-two"
if wait_for "$WORK/two.out" 'Run /init as init process' "$BOOT_LIMIT" "$VMM_PID"; then
	pass "bzImage reaches Run /init"
else
	fail "bzImage reaches Run /init"
	tail -n 30 "$WORK/two.out" "$WORK/two.err"
fi
check "bzImage: the kernel saw our command line" grep -q "vmm.test=boot-two" "$WORK/two.out"
kill -TERM "$VMM_PID"
if wait_exit "$VMM_PID" 30; then
	check "SIGTERM stops the VM with exit 0 (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ]
else
	fail "SIGTERM stops the VM"
fi

finish
