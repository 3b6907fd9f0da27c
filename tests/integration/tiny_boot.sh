#!/bin/bash
# Tiny guests of a few instructions (tests/integration/tiny): the boot paths (PVH and 64-bit
# ELF entry), the UART both ways, the PCI host bridge, the RTC, the i8042 reset, and the
# report of a triple fault. Milliseconds each, so they run before any Linux boot.
. "$(dirname "$0")/lib.sh"
require_kvm

for t in hello_pvh hello_64 triple_fault echo_pvh; do
	require_file "$TINY_DIR/$t.elf" "built by the tiny_guests target"
done

# PVH entry, 1 vCPU without devices and 4 vCPUs with the default virtio-rng at 00:01.0.
for cpus in 1 4; do
	rng=()
	slot1='ffffffff'
	if [ $cpus -eq 1 ]; then rng=(--no-rng); else slot1='10441af4'; fi
	timeout 60 "$VMM" run --kernel "$TINY_DIR/hello_pvh.elf" --cpus $cpus --memory 64 \
		"${rng[@]}" >"$WORK/pvh.out" 2>"$WORK/pvh.err" </dev/null
	code=$?
	check "PVH guest ($cpus vCPUs) resets through the i8042: exit 0 (got $code)" [ $code -eq 0 ]
	check "PVH guest prints on COM1" grep -q '^tiny: hello from PVH' "$WORK/pvh.out"
	check "PCI 00:00.0 is our host bridge 1b36:0008" \
		grep -q '^tiny: pci 00:00.0 id 00081b36' "$WORK/pvh.out"
	check "00:01.0 is empty (all ones) or the virtio-rng 1af4:1044 ($cpus vCPUs)" \
		grep -q "^tiny: pci 00:01.0 id $slot1" "$WORK/pvh.out"
	check "the RTC gives the host's year" grep -q "^tiny: rtc year $(date -u +%Y)0000" "$WORK/pvh.out"
	check "%ebx points at hvm_start_info (magic 336ec578)" \
		grep -q '^tiny: start_info magic 336ec578' "$WORK/pvh.out"
done

# 64-bit entry with a zero page.
timeout 60 "$VMM" run --kernel "$TINY_DIR/hello_64.elf" --memory 128 \
	>"$WORK/lm.out" 2>"$WORK/lm.err" </dev/null
code=$?
check "long-mode guest exits 0 (got $code)" [ $code -eq 0 ]
check "long-mode guest runs" grep -q '^tiny: hello from long mode' "$WORK/lm.out"
check "%rsi is the zero page at 0x7000" grep -q '^tiny: zero page at 00007000' "$WORK/lm.out"
check "the zero page has e820 entries" grep -Eq '^tiny: e820 entries 0000000[3-9]' "$WORK/lm.out"

# Memory above the 32-bit hole.
timeout 60 "$VMM" run --kernel "$TINY_DIR/hello_pvh.elf" --memory 3584 \
	>"$WORK/big.out" 2>"$WORK/big.err" </dev/null
code=$?
check "a 3.5 GiB guest (RAM above the hole) boots: exit 0 (got $code)" [ $code -eq 0 ]

# A triple fault: exit 1, with the reason, the registers and the code bytes.
timeout 60 "$VMM" run --kernel "$TINY_DIR/triple_fault.elf" \
	>"$WORK/tf.out" 2>"$WORK/tf.err" </dev/null
code=$?
check "a triple fault exits 1 (got $code)" [ $code -eq 1 ]
check "the reason is named" grep -q 'KVM_EXIT_SHUTDOWN (triple fault)' "$WORK/tf.err"
check "the registers are printed" grep -q 'rip=' "$WORK/tf.err"
check "the code at RIP is reported" grep -Eq 'code( at 0x|: rip)' "$WORK/tf.err"

# Console input: bytes on stdin reach the guest's UART; 'q' makes it reset.
printf 'abc\nq' | timeout 60 "$VMM" run --kernel "$TINY_DIR/echo_pvh.elf" \
	>"$WORK/echo.out" 2>"$WORK/echo.err"
code=$?
check "the echo guest exits 0 (got $code)" [ $code -eq 0 ]
check "input reached the guest and came back" grep -q '^abc' "$WORK/echo.out"
check "the guest saw the final q" grep -q 'tiny: echo done' "$WORK/echo.out"

# Serial to a file, and none.
timeout 60 "$VMM" run --kernel "$TINY_DIR/hello_pvh.elf" --serial "file:$WORK/serial.log" \
	>"$WORK/file.out" 2>&1 </dev/null
check "--serial file: writes the console to the file" grep -q 'hello from PVH' "$WORK/serial.log"
check "--serial file: leaves stdout alone" bash -c "! grep -q 'hello from PVH' '$WORK/file.out'"

finish
