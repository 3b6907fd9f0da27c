#!/bin/bash
# vmm-ctl against a running test kernel (issue 5): every command with an effect the host or the
# guest kernel shows. One boot (2 vCPUs, a disk, rng, a balloon with statistics), many checks.
. "$(dirname "$0")/lib.sh"
require_kvm

: "${GUEST_DIR:?GUEST_DIR must point at the built test guest}" "${VMM_CTL:?VMM_CTL must point at vmm-ctl}"
require_file "$GUEST_DIR/vmlinux" "built by the guest target"
CMDLINE="console=ttyS0 nopv noxsave clearcpuid=popcnt,smap,cx16 reboot=k panic=1"
BOOT_LIMIT=${VMM_TEST_BOOT_SECONDS:-400}
SOCK=$WORK/ctl.sock

ctl() { "$VMM_CTL" --socket "$SOCK" "$@"; }
# json EXPR: evaluates a Python expression over the JSON document on stdin (as j)
json() { python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"; }
# Sum of utime and stime (clock ticks) of the vCPU threads.
vcpu_ticks() {
	local total=0 t
	for t in $(ctl --json vcpu-pids | json "' '.join(map(str, j['vcpu_tids']))"); do
		total=$((total + $(awk '{ print $14 + $15 }' "/proc/$VMM_PID/task/$t/stat")))
	done
	echo "$total"
}
# poll_json SECONDS CMD... -- EXPR: polls a vmm-ctl --json command until EXPR is True.
poll_json() {
	local limit=$1 start=$SECONDS expr
	shift
	expr=${*: -1}
	set -- "${@:1:$(($# - 1))}"
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		[ "$(ctl --json "$@" 2>/dev/null | json "$expr" 2>/dev/null)" = True ] && return 0
		sleep 0.2
	done
	return 1
}

truncate -s 16M "$WORK/disk.img"
cat >"$WORK/vm.toml" <<TOML
[vm]
name = "ctl-test"
cpus = 2
memory_mib = 256
kernel = "$GUEST_DIR/vmlinux"
initrd = "$GUEST_DIR/initramfs-spin.cpio"
cmdline = "$CMDLINE"
control_socket = "$SOCK"

[[disk]]
path = "disk.img"

[balloon]
enabled = true
stats_interval_s = 1
TOML
start_vmm "$WORK/vm" run --config "$WORK/vm.toml"
if wait_for "$WORK/vm.out" 'Run /init as init process' "$BOOT_LIMIT" "$VMM_PID"; then
	pass "the VM boots with a control socket"
else
	fail "the VM boots with a control socket"
	tail -n 30 "$WORK/vm.out" "$WORK/vm.err"
fi
check "the control socket is mode 0600" [ "$(stat -c %a "$SOCK")" = 600 ]

# events: a listener from the start
ctl --json events >"$WORK/events.out" 2>"$WORK/events.err" &
EVENTS_PID=$!
PIDS+=("$EVENTS_PID")

# status lists every device with its pid
ctl --json status >"$WORK/status.json"
check "status: running, 2 vCPUs, 256 MiB" \
	[ "$(json "j['state'], j['vcpus'], j['memory_bytes']" <"$WORK/status.json")" = "running 2 268435456" ]
for pid in $(pgrep -P "$VMM_PID" -x vmm-device); do
	check "status lists device process $pid" \
		grep -q "\"pid\": $pid," "$WORK/status.json"
done
check "status: blk0, rng0 and balloon0, jailed, driver ready (DRIVER_OK)" \
	[ "$(json "' '.join(sorted(d['name'] for d in j['devices'] if d['jailed'] and d['driver_ok']))" <"$WORK/status.json")" = "balloon0 blk0 rng0" ]
ctl status >"$WORK/status.txt"
check "status as text names the VM" grep -q ctl-test "$WORK/status.txt"

# vcpu-pids: threads of vmm
tids=$(ctl --json vcpu-pids | json "' '.join(map(str, j['vcpu_tids']))")
check "vcpu-pids: two tids ($tids)" [ "$(echo $tids | wc -w)" -eq 2 ]
for t in $tids; do
	check "vCPU thread $t exists under /proc/$VMM_PID/task" [ -d "/proc/$VMM_PID/task/$t" ]
done

# suspend: the vCPUs' CPU time stops growing; resume: it grows again (the spinning /init keeps
# them busy). One second is the measurement interval, not a wait for an event.
check "suspend: exit 0" ctl suspend
before=$(vcpu_ticks); sleep 1; after=$(vcpu_ticks)
check "suspended vCPUs use no CPU time ($before -> $after ticks)" [ $((after - before)) -le 1 ]
check "status says vcpus-suspended" \
	[ "$(ctl --json status | json "j['state']")" = vcpus-suspended ]
check "resume: exit 0" ctl resume
before=$(vcpu_ticks); sleep 1; after=$(vcpu_ticks)
check "resumed vCPUs run again ($before -> $after ticks)" [ $((after - before)) -gt 10 ]
check "suspend-vm: exit 0" ctl suspend-vm
check "status says suspended" [ "$(ctl --json status | json "j['state']")" = suspended ]
check "resume-vm: exit 0" ctl resume-vm
ctl resume >/dev/null 2>&1
check "resume of a running VM is refused: exit 1" [ $? -eq 1 ]

# balloon: inflate to 64 MiB, the guest driver gets there, main releases the pages
check "balloon set 64: exit 0" ctl balloon set 64
if poll_json 120 balloon stats -- "j['actual'] == 64 << 20"; then
	pass "the guest inflated the balloon to 64 MiB (balloon stats: actual)"
else
	fail "the guest inflated the balloon to 64 MiB"
	ctl balloon stats
fi
check "main logged the released guest RAM" grep -q 'balloon0: released [0-9]* KiB of guest RAM' "$WORK/vm.err"
check "balloon stats shows the guest's statistics (total-memory)" \
	poll_json 30 balloon stats -- "(j['stats']['total-memory'] or 0) > 100 << 20"
check "balloon set 0: exit 0" ctl balloon set 0
check "the guest deflated the balloon to 0" poll_json 120 balloon stats -- "j['actual'] == 0"

# disk resize: the guest kernel sees the new capacity
check "disk resize 0 32M: exit 0" ctl disk resize 0 32M
wait_for "$WORK/vm.out" 'vda: detected capacity change from 32768 to 65536' 60 &&
	pass "the guest kernel sees vda grow to 32 MiB" || fail "the guest kernel sees vda grow"
check "the image is 32 MiB now" [ "$(stat -c %s "$WORK/disk.img")" -eq $((32 << 20)) ]
ctl disk resize 0 16M >/dev/null 2>"$WORK/shrink.err"
check "shrinking without --allow-shrink is refused: exit 1" [ $? -eq 1 ]
ctl disk resize 7 32M >/dev/null 2>&1
check "resizing a disk that is not there: exit 1" [ $? -eq 1 ]

# garbage on the socket: an error answer or a closed connection; the VM runs on
python3 - "$SOCK" <<'PY'
import socket, sys
for junk in (b"\x00", b"\xff" * 64, b"\x06\x03\x00\x00\x10\x00\x00\x00" + b"\x00" * 8, b"A" * 4000):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1]); s.send(junk); s.settimeout(5)
    try: s.recv(4096)
    except Exception: pass
    s.close()
PY
check "after garbage on the socket the VM answers status" ctl status
check "and still runs" kill -0 "$VMM_PID"

# events: kill -9 of a device process shows up
rng=$(ctl --json status | json "[d['pid'] for d in j['devices'] if d['name'] == 'rng0'][0]")
kill -KILL "$rng"
if wait_for "$WORK/events.out" '"event": "device-exit".*"device": "rng0"' 30; then
	pass "events prints the exit of rng0, killed with kill -9"
else
	fail "events prints the exit of rng0"
	cat "$WORK/events.out" "$WORK/events.err"
fi
check "events also saw the balloon reach its target" grep -q '"event": "balloon-resize"' "$WORK/events.out"
check "events also saw the disk resized" grep -q '"event": "disk-resize"' "$WORK/events.out"

# stop: orderly, exit 0, nothing left
devs=$(pgrep -P "$VMM_PID" -x vmm-device)
check "stop: exit 0" ctl stop
if wait_exit "$VMM_PID" 30; then
	check "vmm exits 0 after stop (got $EXIT_CODE)" [ "$EXIT_CODE" -eq 0 ]
else
	fail "vmm exits after stop"
fi
left=0
for pid in $devs; do kill -0 "$pid" 2>/dev/null && left=1; done
check "no device process is left" [ $left -eq 0 ]
ctl status >/dev/null 2>&1
check "vmm-ctl with no VM there: exit 3" [ $? -eq 3 ]
kill -TERM "$EVENTS_PID"
wait_exit "$EVENTS_PID" 10 && check "events exits 0 on SIGTERM" [ "$EXIT_CODE" -eq 0 ] ||
	fail "events exits on SIGTERM"

finish
