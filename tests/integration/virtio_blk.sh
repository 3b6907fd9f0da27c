#!/bin/bash
# virtio-blk and virtio-rng, each in its own vmm-device process, with the real Linux driver.
# Two boots, many checks each.
. "$(dirname "$0")/lib.sh"
require_kvm

: "${GUEST_DIR:?GUEST_DIR must point at the built test guest}"
require_file "$GUEST_DIR/vmlinux" "built by the guest target"
for tool in mkfs.ext4 dumpe2fs sha256sum; do
	command -v $tool >/dev/null || { say "FAIL: $tool missing (e2fsprogs)"; exit 1; }
done

CMDLINE="console=ttyS0 nopv noxsave clearcpuid=popcnt,smap,cx16 reboot=k panic=1"
BOOT_LIMIT=${VMM_TEST_BOOT_SECONDS:-400}

# An 8 MiB image with an MBR and two Linux partitions (LBA 2048 and 6144, 4096 sectors each).
make_mbr_image() {
	truncate -s 8M "$1"
	printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\x10\x00\x00' |
		dd of="$1" bs=1 seek=446 conv=notrunc status=none
	printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x18\x00\x00\x00\x10\x00\x00' |
		dd of="$1" bs=1 seek=462 conv=notrunc status=none
	printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

mount_count() {
	dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Mount count: *//p'
}

# Wakeups of the main process's threads that are not vCPUs: the main thread and the mem tube
# server (vmm-mem).
non_vcpu_switches() {
	local pid=$1 total=0 t n
	for t in /proc/"$pid"/task/"$pid" /proc/"$pid"/task/*; do
		[ "$t" = /proc/"$pid"/task/"$pid" ] || grep -qx vmm-mem "$t/comm" 2>/dev/null || continue
		n=$(awk '/^voluntary_ctxt_switches:/ { print $2 }' "$t/status" 2>/dev/null)
		total=$((total + ${n:-0}))
	done
	echo "$total"
}

runs_vmm_device() {
	case $(readlink "/proc/$1/exe") in */vmm-device) return 0 ;; *) return 1 ;; esac
}

# Boot 1: root on a rw ext4 disk whose /sbin/init spins (the spinning init of the test guest,
# so the VM stays up while we look), an MBR disk read-only with an id; rng on.
mkdir -p "$WORK/cpio" "$WORK/rootfs/sbin" "$WORK/rootfs/dev"
(cd "$WORK/cpio" && cpio -i --quiet <"$GUEST_DIR/initramfs-spin.cpio")
cp "$WORK/cpio/init" "$WORK/rootfs/sbin/init"
mkfs.ext4 -q -F -d "$WORK/rootfs" "$WORK/root.img" 32M
make_mbr_image "$WORK/mbr.img"
before_count=$(mount_count "$WORK/root.img")
mbr_sum=$(sha256sum <"$WORK/mbr.img")
cat >"$WORK/vm.toml" <<TOML
[vm]
cpus = 1
memory_mib = 256
kernel = "$GUEST_DIR/vmlinux"
cmdline = "$CMDLINE root=/dev/vda rw"

[[disk]]
path = "root.img"

[[disk]]
path = "mbr.img"
read_only = true
id = "mbr-disk"
TOML
start_vmm "$WORK/one" run --config "$WORK/vm.toml"
if wait_for "$WORK/one.out" 'virtio_blk virtio[0-9]+: \[vda\]' "$BOOT_LIMIT" "$VMM_PID"; then
	pass "the first disk is probed as vda"
else
	fail "the first disk is probed as vda"
	tail -n 30 "$WORK/one.out" "$WORK/one.err"
fi
switches_before=$(non_vcpu_switches "$VMM_PID")
wait_for "$WORK/one.out" 'EXT4-fs \(vda\): mounted filesystem' 120 &&
	pass "ext4 on vda mounted through the real driver" || fail "ext4 on vda mounted"
wait_for "$WORK/one.out" 'Run /sbin/init as init process' 120 &&
	pass "the kernel runs /sbin/init from the disk" || fail "the kernel runs /sbin/init from the disk"
switches_after=$(non_vcpu_switches "$VMM_PID")
check "main is off the data path: $((switches_after - switches_before)) wakeups of its non-vCPU threads while the guest mounts and reads the disk (< 5)" \
	[ $((switches_after - switches_before)) -lt 5 ]
devs=$(pgrep -P "$VMM_PID" -x vmm-device | wc -l)
check "one vmm-device per device: 3 (got $devs)" [ "$devs" -eq 3 ]
for pid in $(pgrep -P "$VMM_PID" -x vmm-device); do
	check "device $pid runs vmm-device" runs_vmm_device "$pid"
done
check "three virtio-pci functions (2 block, 1 rng)" \
	bash -c "[ \$(grep -cE 'pci 0000:00:0[0-9a-f]\.0: \[1af4:104[24]\]' '$WORK/one.out') -eq 3 ]"
check "the partition table of the second disk is read: vdb: vdb1 vdb2" \
	grep -q 'vdb: vdb1 vdb2' "$WORK/one.out"
kill -TERM "$VMM_PID"
if wait_exit "$VMM_PID" 30; then
	check "SIGTERM stops the VM, vmm exits 0 (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ]
else
	fail "SIGTERM stops the VM"
fi
after_count=$(mount_count "$WORK/root.img")
check "the rw mount wrote the image: mount count $before_count -> $after_count" \
	[ "$after_count" -gt "$before_count" ]
check "the read-only disk is unchanged" [ "$(sha256sum <"$WORK/mbr.img")" = "$mbr_sum" ]

# Boot 2: root on a read-only disk (a clean file system: the first one's journal needs a
# recovery after the panic); then kill -9 vmm and no device may survive it. The disk has no
# init, so the kernel panics: panic=0 keeps it there instead of racing the checks to a reboot.
mkfs.ext4 -q -F "$WORK/ro.img" 16M
root_sum=$(sha256sum <"$WORK/ro.img")
start_vmm "$WORK/two" run --kernel "$GUEST_DIR/vmlinux" --memory 256 --no-rng \
	--disk "$WORK/ro.img,ro" --cmdline "$CMDLINE root=/dev/vda ro panic=0"
if wait_for "$WORK/two.out" 'Mounted root \(ext4 filesystem\) readonly' "$BOOT_LIMIT" "$VMM_PID"; then
	pass "a read-only disk mounts read-only"
else
	fail "a read-only disk mounts read-only"
	tail -n 30 "$WORK/two.out" "$WORK/two.err"
fi
devs=$(pgrep -P "$VMM_PID" -x vmm-device | tr '\n' ' ')
check "--no-rng: one device process (got: $devs)" [ "$(echo $devs | wc -w)" -eq 1 ]
kill -KILL "$VMM_PID"
wait "$VMM_PID" 2>/dev/null
gone=0
for _ in $(seq 10); do
	alive=0
	for pid in $devs; do kill -0 "$pid" 2>/dev/null && alive=1; done
	[ $alive -eq 0 ] && { gone=1; break; }
	sleep 0.1
done
check "after kill -9 of vmm no vmm-device is left 1 s later" [ $gone -eq 1 ]
check "the read-only root image is unchanged" [ "$(sha256sum <"$WORK/ro.img")" = "$root_sum" ]

finish
