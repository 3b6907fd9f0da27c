#!/bin/bash
# virtio-net (issue 6) with the test kernel: a NIC on a tap that vmm configures, the guest
# kernel's own IP autoconfiguration, and ping from the host side. Everything happens in a
# network namespace this test creates, on link-local addresses only; the jailed net device
# process is checked like every other device (tests/integration/jail.sh).
. "$(dirname "$0")/lib.sh"
require_kvm

: "${GUEST_DIR:?GUEST_DIR must point at the built test guest}"
require_file "$GUEST_DIR/vmlinux" "built by the guest target"
: "${VMM_CTL:?VMM_CTL must point at the vmm-ctl binary}"
BOOT_LIMIT=${VMM_TEST_BOOT_SECONDS:-400}
NS=vmm-test-net-$$
HOST_IP=169.254.100.1
GUEST_IP=169.254.100.2
CMDLINE="console=ttyS0 nopv noxsave clearcpuid=popcnt,smap,cx16 reboot=k panic=1"
CMDLINE="$CMDLINE ip=$GUEST_IP::$HOST_IP:255.255.255.0::eth0:off"

# The namespace goes with everything in it (the taps); processes first.
cleanup_net() {
	cleanup
	ip netns del "$NS" 2>/dev/null
}
trap cleanup_net EXIT

in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" || { say "FAIL: ip netns add $NS"; exit 1; }
in_ns ip link set lo up
for t in tap0 tap1 tap2 tap3; do
	in_ns ip tuntap add dev $t mode tap || { say "FAIL: ip tuntap add $t (tun module?)"; exit 1; }
done

cat >"$WORK/vm.toml" <<TOML
[vm]
name = "nettest"
memory_mib = 256
kernel = "$GUEST_DIR/vmlinux"
initrd = "$GUEST_DIR/initramfs-spin.cpio"
cmdline = "$CMDLINE"
control_socket = "$WORK/vm.sock"

[[net]]
tap = "tap0"
mac = "52:54:00:12:34:56"
host_ip = "$HOST_IP/24"
mtu = 1500

[pci]
hotplug_slots = 2
TOML
# vmm runs inside the test's namespace, where its tap is.
ip netns exec "$NS" "$VMM" run --config "$WORK/vm.toml" --jail >"$WORK/one.out" 2>"$WORK/one.err" </dev/null &
VMM_PID=$!
PIDS+=("$VMM_PID")
show_on_failure "$WORK/one.out" "the guest's console"
show_on_failure "$WORK/one.err" "vmm's log"

if wait_for "$WORK/one.out" 'IP-Config: Complete' "$BOOT_LIMIT" "$VMM_PID"; then
	pass "the guest kernel configured eth0 on the virtio NIC"
else
	fail "the guest kernel configured eth0 on the virtio NIC"
	tail -n 40 "$WORK/one.out" "$WORK/one.err"
fi
check "the guest found the NIC as virtio-net with its MAC" \
	grep -Eq 'device=eth0, hwaddr=52:54:00:12:34:56, ipaddr=169\.254\.100\.2' "$WORK/one.out"
check "vmm brought tap0 up with MTU 1500 and the host address" \
	bash -c "ip netns exec $NS ip -o addr show dev tap0 | grep -q 'inet $HOST_IP/24' &&
		ip netns exec $NS ip -o link show dev tap0 | grep -q 'mtu 1500' &&
		ip netns exec $NS ip -o link show dev tap0 | grep -q '[<,]UP[,>]'"

# The guest kernel answers ICMP echo itself (no userspace needed).
if in_ns ping -c 3 -i 1 -w 180 "$GUEST_IP" >"$WORK/ping.out" 2>&1 &&
	grep -q '3 packets transmitted, 3 received' "$WORK/ping.out"; then
	pass "ping -c 3 $GUEST_IP: three replies from the guest kernel"
else
	fail "ping -c 3 $GUEST_IP: three replies from the guest kernel"
	cat "$WORK/ping.out"
fi

# status: the NIC, its tap, its jailed process, the driver ready.
"$VMM_CTL" --socket "$WORK/vm.sock" --json status >"$WORK/status.json" 2>&1
check "status lists net0 on tap0, jailed, alive, DRIVER_OK" python3 -c "
import json, sys
s = json.load(open('$WORK/status.json'))
n = [d for d in s['devices'] if d['name'] == 'net0']
sys.exit(not (n and n[0]['type'] == 'net' and n[0]['backend'] == 'tap0' and n[0]['jailed']
	      and n[0]['alive'] and n[0]['driver_ok'] and not n[0]['needs_reset']))"

# The net device process meets the jail tests of the jail issue.
pid=$(python3 -c "
import json
s = json.load(open('$WORK/status.json'))
print([d for d in s['devices'] if d['name'] == 'net0'][0]['pid'] or '')" 2>/dev/null)
if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
	check_jailed net0 "$pid"
	check "net0: no network interface but lo in its namespace" \
		[ "$(nsenter -t "$pid" -n ip -o link | awk -F': ' '{ print $2 }' | tr '\n' ' ')" = "lo " ]
	bad=
	log=$(readlink "/proc/$VMM_PID/fd/2")
	for fd in /proc/"$pid"/fd/*; do
		link=$(readlink "$fd")
		case $link in
		# (under tests/nested the host's files show with the chroot's prefix)
		*/dev/null | socket:* | "/memfd:vmm-guest-ram (deleted)" | "$log" | \
			anon_inode:\[eventfd\] | anon_inode:\[eventpoll\] | */dev/net/tun) ;;
		*) bad="$bad $fd->$link" ;;
		esac
	done
	check "net0: holds only its tap and what it was handed or made${bad:+ (not$bad)}" [ -z "$bad" ]
	check "net0: holds exactly one tap" [ "$(for fd in /proc/"$pid"/fd/*; do readlink "$fd"; done | grep -c '/dev/net/tun$')" = 1 ]
else
	fail "net0 has a live process in status ($pid)"
fi

# ---- hot-plug (vmm-ctl runs in the namespace too: it opens the tap itself) ----
ctl() { in_ns "$VMM_CTL" --socket "$WORK/vm.sock" "$@"; }
console_count() { grep -Ec "$1" "$WORK/one.out"; }
nic_pid() {
	ctl --json status 2>/dev/null | python3 -c "
import json, sys
s = json.load(sys.stdin)
n = [d for d in s['devices'] if d['backend'] == '$1']
print(n[0]['pid'] if n and n[0]['pid'] else '')" 2>/dev/null
}
driver_ok() {
	ctl --json status 2>/dev/null | python3 -c "
import json, sys
s = json.load(sys.stdin)
n = [d for d in s['devices'] if d['backend'] == '$1']
sys.exit(not (n and n[0]['driver_ok'] and n[0]['alive'] and n[0]['pci'].endswith(':00.0')
	      and not n[0]['pci'].startswith('00:')))" 2>/dev/null
}
# bounded poll for a condition; gives up at once when vmm is gone
until_ok() {
	local limit=$1 start=$SECONDS
	shift
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		"$@" && return 0
		kill -0 "$VMM_PID" 2>/dev/null || { say "vmm (pid $VMM_PID) has exited"; return 1; }
		sleep 0.5
	done
	return 1
}

# a listener for the hot-plug events, from before the first add
ctl events >"$WORK/events.out" 2>"$WORK/events.err" &
PIDS+=("$!")
# (vmm-ctl registers it in the background: the add must not come first)
check "events: the listener is registered" \
	wait_for "$WORK/one.err" 'control socket: listener .*vmm-ctl-events.* registered' 30 "$VMM_PID"
present_before=$(console_count 'Card present')
if ctl hotplug-net add tap1 >"$WORK/add.out" 2>&1; then
	pass "hotplug-net add tap1: $(tr '\n' ' ' <"$WORK/add.out")"
else
	fail "hotplug-net add tap1: $(cat "$WORK/add.out")"
	tail -n 20 "$WORK/one.err"
fi
if ! kill -0 "$VMM_PID" 2>/dev/null; then
	fail "vmm survives hotplug-net add"
	finish
fi
check "the guest's console shows the slot's card present" 	until_ok 120 bash -c "[ \$(grep -Ec 'Card present' '$WORK/one.out') -gt $present_before ]"
check "the guest's console shows the new virtio device enabled" 	wait_for "$WORK/one.out" 'virtio-pci 0000:0[1-9]:00\.0: enabling device' 120 "$VMM_PID"
check "status: the new NIC on tap1 behind a root port, DRIVER_OK" until_ok 120 driver_ok tap1
pid1=$(nic_pid tap1)
check "events: net-hotplug net1 added (tap1)" wait_for "$WORK/events.out" ' net-hotplug net1 added \(tap1\)$' 30
check "the hot-plugged NIC's device is jailed like the others (Seccomp 2, no caps, nobody)" 	bash -c "[ -n '$pid1' ] && grep -q '^Seccomp:.2' /proc/$pid1/status &&
		grep -q '^CapEff:.0000000000000000' /proc/$pid1/status &&
		grep -Eq '^Uid:.65534.65534.65534.65534' /proc/$pid1/status"

# errors: each has its message, the guest keeps running
expect_err() {
	local what=$1 re=$2
	shift 2
	if ctl "$@" >"$WORK/err.out" 2>&1; then
		fail "$what: succeeded"
	elif grep -Eq "$re" "$WORK/err.out"; then
		pass "$what: $(head -n 1 "$WORK/err.out")"
	else
		fail "$what: $(cat "$WORK/err.out")"
	fi
}
expect_err "add of a tap already in use" "in use|busy" hotplug-net add tap1
expect_err "add of the boot NIC's tap" "in use|busy" hotplug-net add tap0
expect_err "add of an unknown tap" "tapX: no such network interface" hotplug-net add tapX
expect_err "remove of a tap that is not hot-plugged" "not hot-plugged|no hot-plugged" hotplug-net remove tap0
ctl hotplug-net add tap2 >/dev/null 2>&1 || fail "hotplug-net add tap2 (the second slot)"
expect_err "add with no free slot" "no free hot-plug slot" hotplug-net add tap3
check "the guest still answers ping after the errors" in_ns ping -c 1 -w 60 "$GUEST_IP"

gone_before=$(console_count 'Card not present|Powering off due to button press')
buttons_before=$(console_count 'Attention button pressed')
ctl hotplug-net remove tap1 >"$WORK/rm.out" 2>&1 &
rm_pid=$!
PIDS+=("$rm_pid")
# while the guest takes its time (Linux waits 5 s after the button), vmm answers other requests
if until_ok 60 bash -c "[ \$(grep -Ec 'Attention button pressed' '$WORK/one.out') -gt $buttons_before ]"; then
	st_ok=no rm_waiting=no
	ctl status >"$WORK/st-during.out" 2>&1 && st_ok=yes
	kill -0 "$rm_pid" 2>/dev/null && rm_waiting=yes
	check "status answers while the remove waits for the guest (answered: $st_ok, the remove still waiting after it: $rm_waiting)" \
		[ "$st_ok $rm_waiting" = "yes yes" ]
else
	fail "the guest's console shows the attention button pressed"
fi
if wait_exit "$rm_pid" 90 && [ "$EXIT_CODE" = 0 ]; then
	pass "hotplug-net remove tap1"
else
	fail "hotplug-net remove tap1: $(cat "$WORK/rm.out")"
fi
check "the guest's console shows the card going" 	bash -c "[ \$(grep -Ec 'Card not present|Powering off due to button press' '$WORK/one.out') -gt $gone_before ]"
check "events: net-hotplug net1 removed (tap1)" wait_for "$WORK/events.out" ' net-hotplug net1 removed \(tap1\)$' 30
check "tap1's device process is gone" bash -c "[ -n '$pid1' ] && ! kill -0 $pid1 2>/dev/null"
check "status no longer lists tap1" bash -c "ip netns exec $NS '$VMM_CTL' --socket '$WORK/vm.sock' --json status >'$WORK/st.json' &&
	! grep -q tap1 '$WORK/st.json'"
ctl hotplug-net remove tap2 >/dev/null 2>&1 || fail "hotplug-net remove tap2"

# the slot is reusable, many times: no leaked process, fd or slot
fds_before=$(ls /proc/"$VMM_PID"/fd | wc -l)
procs_before=$(pgrep -P "$VMM_PID" | wc -l)
cycles=${VMM_TEST_HOTPLUG_CYCLES:-20}
ok=0
for i in $(seq 1 "$cycles"); do
	ctl hotplug-net add tap1 >/dev/null 2>"$WORK/cyc.err" || { say "cycle $i add: $(cat "$WORK/cyc.err")"; break; }
	until_ok 120 driver_ok tap1 || {
		say "cycle $i: no DRIVER_OK; the guest's last hot-plug lines:"
		grep -E 'pciehp|virtio|pci 0000:0[1-9]|Slot' "$WORK/one.out" | tail -n 25
		tail -n 10 "$WORK/one.err"
		break
	}
	ctl hotplug-net remove tap1 >/dev/null 2>"$WORK/cyc.err" || { say "cycle $i remove: $(cat "$WORK/cyc.err")"; break; }
	ok=$i
done
check "add and remove tap1 $cycles times in a row ($ok done)" [ "$ok" = "$cycles" ]
check "vmm still runs" kill -0 "$VMM_PID"
fds_after=$(ls /proc/"$VMM_PID"/fd 2>/dev/null | wc -l)
procs_after=$(pgrep -P "$VMM_PID" | wc -l)
check "no leaked fd in vmm ($fds_before before, $fds_after after)" \
	bash -c "kill -0 $VMM_PID && [ $fds_before -gt 0 ] && [ $fds_after = $fds_before ]"
check "no leaked process (children of vmm: $procs_before before, $procs_after after)" \
	bash -c "kill -0 $VMM_PID && [ $procs_before -gt 0 ] && [ $procs_after = $procs_before ]"
check "the guest still answers ping after the cycles" in_ns ping -c 1 -w 60 "$GUEST_IP"

# stop while a remove waits for the guest: the remove gives up at once, vmm stops in order
buttons_before=$(console_count 'Attention button pressed')
ctl hotplug-net add tap1 >/dev/null 2>&1 && until_ok 120 driver_ok tap1 ||
	fail "hotplug-net add tap1 before the stop"
ctl hotplug-net remove tap1 >"$WORK/rm.out" 2>&1 &
rm_pid=$!
PIDS+=("$rm_pid")
until_ok 60 bash -c "[ \$(grep -Ec 'Attention button pressed' '$WORK/one.out') -gt $buttons_before ]" ||
	fail "the guest's console shows the attention button pressed (before the stop)"
"$VMM_CTL" --socket "$WORK/vm.sock" stop >/dev/null 2>&1
if wait_exit "$VMM_PID" 60; then
	check "vmm-ctl stop during a remove: vmm exits 0 ($EXIT_CODE)" [ "$EXIT_CODE" = 0 ]
else
	fail "vmm exits after vmm-ctl stop during a remove"
fi
if wait_exit "$rm_pid" 10; then
	check "the remove that was waiting says the VM is stopping: $(head -n 1 "$WORK/rm.out")" \
		bash -c "[ $EXIT_CODE != 0 ] && grep -q 'the VM is stopping' '$WORK/rm.out'"
else
	fail "the remove that was waiting ends when vmm stops"
fi
check "no vmm-device process is left" bash -c "! pgrep -P $VMM_PID -x vmm-device"
finish
