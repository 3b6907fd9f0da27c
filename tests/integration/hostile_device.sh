#!/bin/bash
# Main trusts no device: a hostile vmm-device (evil_device.c) asks main for guest memory it
# may not free, an ioevent at an address that is not its own, mappings outside the shared
# memory window it was given, slots that are not its own, and sends garbage. Main must refuse each with an error answer and keep the VM up.
# Needs KVM (the device is spawned while the VM is built); the guest is a tiny one that echoes
# its console until it reads 'q'.
. "$(dirname "$0")/lib.sh"
require_kvm

require_file "$EVIL_DEVICE" "built by the evil_device target"
require_file "$TINY_DIR/echo_pvh.elf" "built by the tiny_guests target"

mkfifo "$WORK/in"
VMM_DEVICE_BIN="$EVIL_DEVICE" "$VMM" run --kernel "$TINY_DIR/echo_pvh.elf" --memory 128 \
	<"$WORK/in" >"$WORK/out" 2>"$WORK/err" &
VMM_PID=$!
PIDS+=("$VMM_PID")
exec 9>"$WORK/in" # keeps the console open until we send q

if wait_for "$WORK/err" 'evil: done' 30; then
	pass "the hostile device ran its requests"
else
	fail "the hostile device ran its requests"
	cat "$WORK/err"
fi
refused() { grep -Eq "evil: $1 status -[0-9]+" "$WORK/err"; }
check "freeing the LAPIC page (not RAM) is refused" refused free-lapic
check "freeing past the end of RAM is refused" refused free-past-ram
check "an ioevent at the IOAPIC is refused" refused ioevent-foreign
check "its own shared memory window can be prepared" grep -q 'evil: prepare-window status 0' "$WORK/err"
check "a window it was not given is refused" refused prepare-other-window
check "more than its window is refused" refused prepare-too-big
check "memory registered in its window gets a KVM slot" \
	grep -Eq 'evil: register-window status 0 slot [0-9]+' "$WORK/err"
check "a mapping over an existing one is refused" refused register-overlap
check "a mapping outside its window is refused" refused register-outside
check "an fd that cannot be mapped is refused" refused register-not-memory
check "MmapAndRegisterMemory in its window works" \
	grep -Eq 'evil: mmap-register-window status 0 slot [0-9]+' "$WORK/err"
check "unregistering guest RAM's slot is refused" refused unregister-guest-ram
check "unregistering a slot that is not its own is refused" refused unregister-unknown
check "unregistering its own mapping works" grep -q 'evil: unregister-own status 0' "$WORK/err"
check "garbage gets an error answer" refused garbage
check "freeing a page of guest RAM is allowed" grep -q 'evil: free-in-ram status 0' "$WORK/err"
check "main logged the refusals" grep -q 'is not guest RAM; refused' "$WORK/err"
check "vmm is still running" kill -0 "$VMM_PID"
printf 'hi q' >&9
exec 9>&-
if wait_exit "$VMM_PID" 30; then
	check "the guest still runs and resets: exit 0 (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ]
else
	fail "vmm exits when the guest resets"
fi
check "the guest echoed its input" grep -q 'hi' "$WORK/out"
check "the hostile device did not outlive vmm" bash -c '! pgrep -x evil_device >/dev/null'
finish
