#!/bin/bash
# The jail (issue 4), seen from the host while the test kernel runs: every device process is
# in its own namespaces, on an empty root, as nobody, with no capabilities and its seccomp
# filter; main and its vCPU threads run under theirs; a forbidden syscall kills only that
# device, reported with its name; a broken policy stops the VM before it starts.
. "$(dirname "$0")/lib.sh"
require_kvm

: "${GUEST_DIR:?GUEST_DIR must point at the built test guest}"
require_file "$GUEST_DIR/vmlinux" "built by the guest target"
CMDLINE="console=ttyS0 nopv noxsave clearcpuid=popcnt,smap,cx16 reboot=k panic=1"
BOOT_LIMIT=${VMM_TEST_BOOT_SECONDS:-400}


# Every fd of a device is one of what main handed it (tubes, guest memory, its backend,
# /dev/null, vmm's own stderr for its log) or what it made itself (eventfds and its epoll):
# never KVM, never another device's backend.
fds_ok() {
	local pid=$1 backend=$2 fd link log
	log=$(readlink "/proc/$VMM_PID/fd/2")
	for fd in /proc/"$pid"/fd/*; do
		link=$(readlink "$fd")
		case $link in
		/dev/null | socket:* | "/memfd:vmm-guest-ram (deleted)" | "$log" | \
			anon_inode:\[eventfd\] | anon_inode:\[eventpoll\] | "$backend") ;;
		*)
			say "device $pid holds $fd -> $link"
			return 1
			;;
		esac
	done
}

truncate -s 16M "$WORK/disk.img"
start_vmm "$WORK/one" run --kernel "$GUEST_DIR/vmlinux" --initrd "$GUEST_DIR/initramfs-spin.cpio" \
	--memory 256 --cpus 2 --disk "$WORK/disk.img" --cmdline "$CMDLINE" --jail
if wait_for "$WORK/one.out" 'Run /init as init process' "$BOOT_LIMIT" "$VMM_PID"; then
	pass "a jailed VM boots to /init"
else
	fail "a jailed VM boots to /init"
	tail -n 30 "$WORK/one.out" "$WORK/one.err"
fi
devs=$(pgrep -P "$VMM_PID" -x vmm-device)
check "two device processes (block, rng): $(echo $devs)" [ "$(echo $devs | wc -w)" -eq 2 ]
for pid in $devs; do
	name=$(tr '\0' ' ' <"/proc/$pid/cmdline" | awk '{ for (i = 1; i < NF; i++) if ($i == "--name") print $(i + 1) }')
	check_jailed "$name" "$pid"
	backend=$([ "$name" = rng0 ] && echo /dev/urandom || echo "$WORK/disk.img")
	check "$name: holds only the fds it was handed or made" fds_ok "$pid" "$backend"
	check "$name: RLIMIT_NOFILE 128, no core files" \
		bash -c "grep -Eq '^Max open files +128 +128' /proc/$pid/limits && grep -Eq '^Max core file size +0 +0' /proc/$pid/limits"
done
check "main: Seccomp: 2" [ "$(status_field "$VMM_PID" Seccomp)" = 2 ]
check "main: NoNewPrivs: 1" [ "$(status_field "$VMM_PID" NoNewPrivs)" = 1 ]
check "main keeps only CAP_KILL (to stop devices under another uid)" \
	[ "$(status_field "$VMM_PID" CapEff)" = 0000000000000020 ]
check "main: bounding set CAP_KILL only" [ "$(status_field "$VMM_PID" CapBnd)" = 0000000000000020 ]
# the jail warden (main/warden.c): only what a device needs to jail itself after exec
warden=$(pgrep -P "$VMM_PID" -x vmm-warden)
check "one jail warden, a child of vmm ($warden)" [ "$(echo $warden | wc -w)" = 1 ]
check "the warden keeps only CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP" \
	bash -c "[ '$(status_field "${warden:-0}" CapEff 2>/dev/null)' = 00000000002001c0 ] &&
		[ '$(status_field "${warden:-0}" CapBnd 2>/dev/null)' = 00000000002001c0 ]"
check "the warden holds 3 fds (its socket to vmm, /dev/null, vmm's stderr for the devices' logs)" \
	[ "$(ls "/proc/${warden:-0}/fd" 2>/dev/null | wc -l)" = 3 ]
vcpus=0
for t in /proc/"$VMM_PID"/task/*; do
	case $(cat "$t/comm") in
	vcpu*)
		vcpus=$((vcpus + 1))
		check "$(cat "$t/comm"): vmm.policy and vcpu.policy (2 filters)" \
			[ "$(awk '$1 == "Seccomp_filters:" { print $2 }' "$t/status")" = 2 ]
		;;
	esac
done
check "two vCPU threads looked at ($vcpus)" [ "$vcpus" -eq 2 ]
kill -TERM "$VMM_PID"
if wait_exit "$VMM_PID" 30; then
	check "SIGTERM stops the jailed VM, vmm exits 0 (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ]
else
	fail "SIGTERM stops the jailed VM"
fi
check "no seccomp violation was reported" bash -c "! grep -q 'seccomp' '$WORK/one.err'"

# A device made to call a forbidden syscall (a test-only hook, in VMM_TEST_HOOKS builds) at
# its first kick: killed, reported with the syscall's name; the guest goes on.
if [ "${VMM_TEST_HOOKS:-OFF}" = ON ]; then
	VMM_TEST_DEVICE_HOOK=rng0:forbidden-syscall start_vmm "$WORK/two" run \
		--kernel "$GUEST_DIR/vmlinux" --initrd "$GUEST_DIR/initramfs-spin.cpio" --memory 256 \
		--cmdline "$CMDLINE"
	if wait_for "$WORK/two.err" 'device rng0 \(pid [0-9]+\) was killed by its seccomp filter: forbidden syscall openat \(257\)' "$BOOT_LIMIT"; then
		pass "rng0 calling openat is killed and reported with the syscall's name"
	else
		fail "rng0 calling openat is killed and reported"
		tail -n 20 "$WORK/two.err"
	fi
	wait_for "$WORK/two.out" 'Run /init as init process' "$BOOT_LIMIT" "$VMM_PID" &&
		pass "the guest goes on booting after its rng device died" ||
		fail "the guest goes on booting after its rng device died"
	check "vmm is still running" kill -0 "$VMM_PID"
	kill -TERM "$VMM_PID"
	wait_exit "$VMM_PID" 30 && check "then SIGTERM: exit 0 (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ] ||
		fail "SIGTERM after a device death"
else
	fail "this build has no test hooks (configure with -DVMM_TEST_HOOKS=ON to run every check)"
fi

# vmm policy learn over a test-kernel boot (the panic initramfs: the kernel boots, its /init
# dies, it reboots, vmm exits): no device made a syscall its policy lacks.
truncate -s 16M "$WORK/learn.img"
start_vmm "$WORK/learn" policy learn --kernel "$GUEST_DIR/vmlinux" \
	--initrd "$GUEST_DIR/initramfs-panic.cpio" --memory 256 --disk "$WORK/learn.img" \
	--cmdline "$CMDLINE"
if wait_exit "$VMM_PID" "$BOOT_LIMIT"; then
	check "vmm policy learn over a boot: exit 0, nothing missing (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ]
else
	fail "vmm policy learn over a boot ends when the guest reboots"
fi
for dev in blk0 rng0; do
	check "learn reports on $dev" \
		grep -Eq "^$dev \(.*\.policy\):\$" "$WORK/learn.out"
done
check "learn: every device's summary says 0 missing" \
	bash -c "[ \$(grep -c '^  0 missing, ' '$WORK/learn.out') -eq 2 ]"
grep -E '^(  missing|[a-z]+[0-9] \(|  [0-9]+ missing)' "$WORK/learn.out" | sed "s/^/$TEST_NAME: learn: /"

# A policy with a syntax error: FILE:LINE:COL, and the VM does not start.
cp -r "${VMM_POLICY_DIR:-$SRC_DIR/policies/x86_64}" "$WORK/pol"
echo 'read: arg0 ==' >>"$WORK/pol/rng.policy"
line=$(wc -l <"$WORK/pol/rng.policy")
cat >"$WORK/bad.toml" <<TOML
[vm]
kernel = "$GUEST_DIR/vmlinux"
[jail]
policy_dir = "$WORK/pol"
TOML
"$VMM" run --config "$WORK/bad.toml" >"$WORK/bad.out" 2>"$WORK/bad.err" </dev/null &
bad_pid=$!
PIDS+=("$bad_pid")
wait_exit "$bad_pid" 60
code=${EXIT_CODE:-timeout}
check "a broken policy stops the VM (exit $code)" [ "$code" -ne 0 ]
check "and names it as FILE:LINE:COL" grep -Eq "$WORK/pol/rng.policy:$line:[0-9]+: " "$WORK/bad.err"
no_device_of() { ! pgrep -f "vmm-device --type rng --name rng0 --parent $1 " >/dev/null; }
check "no device process of it was left" no_device_of "$bad_pid"

finish
