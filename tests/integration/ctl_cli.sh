#!/bin/bash
# vmm-ctl against fake_vm (canned answers on a control socket, no KVM): each command's output
# and exit status, text and --json, options before and after the command, the VM's refusals,
# usage errors, no VM at the socket, answers that make no sense, `events` until SIGTERM, and
# hotplug-net with real taps in a network namespace of the test's own.
. "$(dirname "$0")/lib.sh"

: "${VMM_CTL:?VMM_CTL must point at the vmm-ctl binary}"
: "${FAKE_VM:?FAKE_VM must point at the fake_vm binary}"

S=$WORK/vm.sock
NETNS=vmm-test-ctl-$$

# The namespace goes with its taps; the processes in it first.
cleanup_ctl() {
	cleanup
	ip netns del "$NETNS" 2>/dev/null
}
trap cleanup_ctl EXIT

# start_fake SOCKET [MODE]: a fake VM in the background, its requests logged to SOCKET.log
# (appended to: the checks empty it between commands).
start_fake() {
	"$FAKE_VM" "$1" "${2:-normal}" >>"$1.log" 2>&1 </dev/null &
	PIDS+=("$!")
	local i
	for i in $(seq 50); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	say "FAIL: fake_vm did not listen at $1"
	exit 1
}

# ctl CODE ARGS...: runs vmm-ctl, stdout in $WORK/out and stderr in $WORK/err; checks the code.
ctl() {
	local want=$1
	shift
	timeout 30 "$VMM_CTL" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	local code=$?
	check "vmm-ctl $* -> exit $want (got $code)" [ "$code" -eq "$want" ]
	if [ "$code" -ne "$want" ]; then
		sed 's/^/    err: /' "$WORK/err"
	fi
	check "vmm-ctl $* -> no sanitizer report or crash" \
		bash -c "! grep -Eq 'AddressSanitizer|runtime error|Segmentation' '$WORK/err'"
}

# same WHAT FILE TEXT: FILE holds exactly TEXT (give '' for an empty file).
same() {
	local what=$1 file=$2 want=$3
	if [ "$(cat "$file")" == "$want" ]; then
		pass "$what"
	else
		fail "$what"
		diff -u <(printf '%s\n' "$want") "$file" | sed 's/^/    /'
	fi
}

# json WHAT PYTHON_EXPR: every line of $WORK/out is a JSON object, and EXPR holds for the list
# of them (named o).
json() {
	local what=$1 expr=$2
	if python3 -c "
import json, sys
o = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert o and all(isinstance(x, dict) for x in o), o
assert ($expr), o
" "$WORK/out" 2>"$WORK/pyerr"; then
		pass "$what"
	else
		fail "$what"
		sed 's/^/    /' "$WORK/pyerr" "$WORK/out"
	fi
}

logged() {
	grep -qxF -- "$2" "$1.log"
}

start_fake "$S"

# ---- status ----

ctl 0 --socket "$S" status
same "status: text" "$WORK/out" "name:    fake
state:   running
pid:     4121
uptime:  1h02m03.456s
vcpus:   2
memory:  256 MiB
devices: 2
  NAME  TYPE     BACKEND  PID   JAILED  ALIVE  FEATURES     DRIVER_OK  NEEDS_RESET  PCI
  blk0  block    -        4122  yes     yes    0x130000044  yes        no           00:02.0
  rng0  entropy  -        -     no      no     0x0          no         yes          00:03.0"
same "status: nothing on stderr" "$WORK/err" ''
check "status: the request reached the VM" logged "$S" STATUS

ctl 0 --socket "$S" --json status
json "status --json: the VM" "o[0]['name'] == 'fake' and o[0]['state'] == 'running' and
	o[0]['pid'] == 4121 and o[0]['uptime_ms'] == 3723456 and o[0]['vcpus'] == 2 and
	o[0]['memory_bytes'] == 256 << 20 and len(o) == 1"
json "status --json: its devices" "[d['name'] for d in o[0]['devices']] == ['blk0', 'rng0'] and
	o[0]['devices'][0] == {'name': 'blk0', 'type': 'block', 'pid': 4122, 'jailed': True,
	'alive': True, 'features': '0x130000044', 'driver_ok': True, 'needs_reset': False,
	'backend': None, 'pci': '00:02.0', 'virtio_type': 2} and o[0]['devices'][1]['pid'] is None and
	o[0]['devices'][1]['needs_reset'] is True"
cp "$WORK/out" "$WORK/status.json"

# global options anywhere, with or without '='
ctl 0 status --socket "$S" --json
check "status: options after the command" cmp -s "$WORK/out" "$WORK/status.json"
ctl 0 --json status --socket="$S"
check "status: options on both sides, --socket=PATH" cmp -s "$WORK/out" "$WORK/status.json"

# ---- commands answered by OK ----

for c in stop:EXIT suspend:SUSPEND_VCPUS resume:RESUME_VCPUS suspend-vm:SUSPEND_VM \
	resume-vm:RESUME_VM ctrl-alt-del:CTRL_ALT_DEL; do
	name=${c%%:*}
	: >"$S.log"
	ctl 0 --socket "$S" "$name"
	same "$name: prints nothing" "$WORK/out" ''
	same "$name: nothing on stderr" "$WORK/err" ''
	check "$name: sends ${c#*:}" logged "$S" "${c#*:}"
	ctl 0 "$name" --json --socket "$S"
	json "$name --json: ok" "o == [{'command': '$name', 'ok': True}]"
done

# ---- vcpu-pids ----

ctl 0 --socket "$S" vcpu-pids
same "vcpu-pids: text" "$WORK/out" "pid 4121
vcpu0 4123
vcpu1 4124"
ctl 0 --socket "$S" vcpu-pids --json
json "vcpu-pids --json" "o == [{'pid': 4121, 'vcpu_tids': [4123, 4124]}]"

# ---- balloon ----

for c in 512:536870912 1G:1073741824 4K:4096 0:0 2048m:2147483648; do
	: >"$S.log"
	ctl 0 --socket "$S" balloon set "${c%%:*}"
	check "balloon set ${c%%:*}: target ${c#*:} bytes" logged "$S" "BALLOON op=0 target=${c#*:}"
	same "balloon set ${c%%:*}: prints nothing" "$WORK/out" ''
done
ctl 0 --socket "$S" --json balloon set 256
json "balloon set --json: ok" "o == [{'command': 'balloon set', 'ok': True}]"

ctl 0 --socket "$S" balloon stats
same "balloon stats: text" "$WORK/out" "actual               512 MiB
swap-in              0 B
swap-out             0 B
major-faults         12
minor-faults         3456
free-memory          200 MiB
total-memory         1.8 GiB
available-memory     -
disk-caches          -
hugetlb-allocations  0
hugetlb-failures     0"
check "balloon stats: sends op STATS" logged "$S" "BALLOON op=1 target=0"
ctl 0 balloon stats --json --socket "$S"
json "balloon stats --json" "o[0]['actual'] == 512 << 20 and o[0]['stats']['major-faults'] == 12
	and o[0]['stats']['available-memory'] is None and len(o[0]['stats']) == 10 and
	o[0]['stats']['total-memory'] == (2 << 30) - (200 << 20) + (300 << 10)"

# ---- disk ----

: >"$S.log"
ctl 0 --socket "$S" disk resize 1 2G
check "disk resize 1 2G: sent" logged "$S" "DISK index=1 op=0 size=2147483648"
ctl 0 --socket "$S" disk resize 0 1048576
check "disk resize, bytes: sent, grow only" logged "$S" "DISK index=0 op=0 size=1048576"
ctl 0 --allow-shrink --socket "$S" disk resize 0 512
check "disk resize --allow-shrink: sent, shrink allowed" logged "$S" "DISK index=0 op=1 size=512"

ctl 1 --socket "$S" disk resize 5 1G
same "disk resize refused: the VM's reason" "$WORK/err" \
	"vmm-ctl: disk resize: no disk 5 (No such file or directory)"
same "disk resize refused: nothing on stdout" "$WORK/out" ''
ctl 1 --socket "$S" --json disk resize 5 1G
json "disk resize refused --json" "o == [{'command': 'disk resize', 'ok': False, 'errno': 2,
	'error': 'No such file or directory', 'message': 'no disk 5'}]"
same "disk resize refused --json: the reason on stderr too" "$WORK/err" \
	"vmm-ctl: disk resize: no disk 5 (No such file or directory)"

# ---- usage errors: exit 2, nothing sent ----

: >"$S.log"
usage() {
	local want_err=$1
	shift
	ctl 2 "$@"
	same "usage: $*: message" "$WORK/err" "$want_err"
	same "usage: $*: nothing on stdout" "$WORK/out" ''
}
usage "vmm-ctl: no command given (try 'vmm-ctl --help')" --socket "$S"
usage "vmm-ctl: no command given (try 'vmm-ctl --help')"
usage "vmm-ctl: unknown command 'frobnicate' (try 'vmm-ctl --help')" --socket "$S" frobnicate
usage "vmm-ctl: unknown option '--bogus' (try 'vmm-ctl --help')" --socket "$S" status --bogus
usage "vmm-ctl: --socket: missing value (--socket PATH)" status --socket
usage "vmm-ctl: --socket: empty value" status --socket=
usage "vmm-ctl: --json: takes no value" status --json=yes --socket "$S"
usage "vmm-ctl: give --socket or --name, not both" --socket "$S" --name web status
usage "vmm-ctl: status: takes no arguments" --socket "$S" status now
usage "vmm-ctl: unknown command 'balloon' (try 'vmm-ctl --help')" --socket "$S" balloon
usage "vmm-ctl: unknown command 'balloon grow' (try 'vmm-ctl --help')" --socket "$S" balloon grow 1
usage "vmm-ctl: balloon set: expects SIZE" --socket "$S" balloon set
usage "vmm-ctl: balloon set: expects SIZE" --socket "$S" balloon set 1 2
usage "vmm-ctl: balloon set: '1K' is not a whole number of 4 KiB pages" --socket "$S" \
	balloon set 1K
usage "vmm-ctl: balloon set: 'lots' is not a size (MiB, or a number with K, M or G)" \
	--socket "$S" balloon set lots
usage "vmm-ctl: balloon set: '99999999999999G' is too large" --socket "$S" balloon set \
	99999999999999G
usage "vmm-ctl: disk resize: expects INDEX SIZE" --socket "$S" disk resize 1
usage "vmm-ctl: disk resize: '1000' is not a whole number of 512-byte sectors" --socket "$S" \
	disk resize 1 1000
usage "vmm-ctl: disk resize: the size must not be 0" --socket "$S" disk resize 1 0
usage "vmm-ctl: disk resize: INDEX '32' is not 0..31" --socket "$S" disk resize 32 1G
usage "vmm-ctl: disk resize: INDEX '1K' is not 0..31" --socket "$S" disk resize 1K 1G
usage "vmm-ctl: --allow-shrink: only for disk resize" --socket "$S" status --allow-shrink
usage "vmm-ctl: --name: 'a/b' is not a VM name" --name a/b status
usage "vmm-ctl: hotplug-net add: expects TAP" --socket "$S" hotplug-net add
usage "vmm-ctl: hotplug-net remove: expects TAP" --socket "$S" hotplug-net remove
usage "vmm-ctl: hotplug-net add: expects TAP" --socket "$S" hotplug-net add tap0 tap1
usage "vmm-ctl: unknown command 'hotplug-net' (try 'vmm-ctl --help')" --socket "$S" hotplug-net
usage "vmm-ctl: unknown command 'hotplug-net plug' (try 'vmm-ctl --help')" --socket "$S" \
	hotplug-net plug tap0
usage "vmm-ctl: hotplug-net add: '' is not a network interface name" --socket "$S" \
	hotplug-net add ''
usage "vmm-ctl: hotplug-net remove: '0123456789abcdef' is not a network interface name" \
	--socket "$S" hotplug-net remove 0123456789abcdef
usage "vmm-ctl: --force: only for hotplug-net remove" --socket "$S" hotplug-net add tap0 --force
usage "vmm-ctl: --force: only for hotplug-net remove" --socket "$S" --force status
check "usage errors: nothing reached the VM" [ ! -s "$S.log" ]

ctl 0 --help
check "--help: the synopsis" grep -q '^usage: vmm-ctl ' "$WORK/out"
check "--help: every command" bash -c "for c in status stop suspend resume suspend-vm resume-vm \
	vcpu-pids 'balloon set SIZE' 'balloon stats' 'disk resize INDEX SIZE' ctrl-alt-del \
	events 'hotplug-net add TAP' 'hotplug-net remove TAP'; do
	grep -q \"^  \$c \" '$WORK/out' || exit 1; done"
ctl 0 status --help
ctl 0 --version
check "--version" grep -Eq '^vmm-ctl [0-9]+\.[0-9]+' "$WORK/out"

# ---- no VM at the socket: exit 3 ----

ctl 3 --socket "$WORK/none.sock" status
same "no VM: message" "$WORK/err" "vmm-ctl: no VM at $WORK/none.sock"
# a socket file nobody listens on (a VM that died)
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])" \
	"$WORK/stale.sock"
ctl 3 --socket "$WORK/stale.sock" stop
same "stale socket: message" "$WORK/err" "vmm-ctl: no VM at $WORK/stale.sock"
ctl 3 --socket "$WORK/none.sock" events
check "events, no VM: no listener socket left" \
	bash -c "! ls '$WORK' | grep -q vmm-ctl-events"

# --name: the default path of the rule in ipc/ctl_path.h
name=ctl-test-$$
if [ "$(id -u)" -eq 0 ]; then
	want=/run/vmm/$name.sock
else
	want=$WORK/xdg/vmm/$name.sock
	mkdir -p "$WORK/xdg/vmm"
fi
XDG_RUNTIME_DIR=$WORK/xdg ctl 3 --name "$name" status
same "--name: the default socket" "$WORK/err" "vmm-ctl: no VM at $want"
if [ "$(id -u)" -ne 0 ]; then
	start_fake "$want"
	XDG_RUNTIME_DIR=$WORK/xdg ctl 0 status --name "$name"
	check "--name: found the VM" grep -q '^name:    fake$' "$WORK/out"
	XDG_RUNTIME_DIR='' ctl 3 --name "$name" status
	same "--name without XDG_RUNTIME_DIR" "$WORK/err" \
		"vmm-ctl: no VM at /tmp/vmm-$(id -u)/$name.sock"
fi

# ---- answers that make no sense: exit 1 ----

start_fake "$WORK/garbage.sock" garbage
ctl 1 --socket "$WORK/garbage.sock" status
same "garbage answer" "$WORK/err" "vmm-ctl: status: malformed answer"
start_fake "$WORK/wrong.sock" wrong
ctl 1 --socket "$WORK/wrong.sock" status
same "answer of another type" "$WORK/err" "vmm-ctl: status: malformed answer (VCPU_PID_TID)"
ctl 1 --socket "$WORK/wrong.sock" stop
start_fake "$WORK/hangup.sock" hangup
ctl 1 --socket "$WORK/hangup.sock" stop
same "no answer, connection closed" "$WORK/err" \
	"vmm-ctl: stop: the VM closed the connection without answering"
start_fake "$WORK/silent.sock" silent
start=$SECONDS
ctl 1 --socket "$WORK/silent.sock" status
took=$((SECONDS - start))
same "no answer at all" "$WORK/err" "vmm-ctl: status: no answer within 10 s"
check "no answer: gave up after 10 s (took $took s)" [ "$took" -ge 9 -a "$took" -le 15 ]

# ---- events ----

# events_run SIGNAL SOCKET ARGS...: vmm-ctl events (run in $WORK) until it printed two lines,
# then SIGNAL; the listener's socket is next to the control socket, by an absolute path.
events_run() {
	local sig=$1 sock=$2
	shift 2
	: >"$S.log"
	(cd "$WORK" && exec "$VMM_CTL" --socket "$sock" events "$@" >out 2>err </dev/null) &
	local pid=$!
	PIDS+=("$pid")
	check "events $*: two events" wait_for "$WORK/out" '^(2000 vm-state|.*"vm-state")' 10
	kill -"$sig" "$pid"
	wait_exit "$pid" 10
	check "events $*: SIG$sig -> exit 0 (got $EXIT_CODE)" [ "$EXIT_CODE" = 0 ]
	same "events $*: nothing on stderr" "$WORK/err" ''
	local path
	path=$(sed -n 's/^REGISTER_LISTENER events=0x7f path=//p' "$S.log")
	check "events $*: registered for every event, next to the control socket" \
		[ "$(dirname "$path")" = "$WORK" ]
	check "events $*: unregistered the same path" logged "$S" "UNREGISTER path=$path"
	check "events $*: its socket is gone" [ ! -e "$path" ]
	check "events $*: no listener socket left" bash -c "! ls '$WORK' | grep -q vmm-ctl-events"
}

events_run TERM "$S"
same "events: text" "$WORK/out" '1500 device-exit blk0 pid=4122 status=-9 (killed by signal 9)
2000 vm-state - state=vcpus-suspended (vCPUs "parked" \ tab?here)'

events_run INT vm.sock --json
json "events --json" "o == [
	{'event': 'device-exit', 'time_ms': 1500, 'device': 'blk0', 'pid': 4122, 'status': -9,
	 'value': 0, 'text': 'killed by signal 9'},
	{'event': 'vm-state', 'time_ms': 2000, 'device': None, 'pid': 0, 'status': 0, 'value': 1,
	 'text': 'vCPUs \"parked\" \\\\ tab\there'}]"

# a VM that stops ends the listening: exit 0, no UNREGISTER (the VM is gone), no socket left
T=$WORK/stopping.sock
start_fake "$T" stopping
timeout 10 "$VMM_CTL" events --socket "$T" >"$WORK/out" 2>"$WORK/err" </dev/null
code=$?
check "events: the VM stopping ends it, exit 0 (got $code)" [ "$code" -eq 0 ]
same "events: the VM stopping: printed" "$WORK/out" "9000 vm-state - state=stopping"
same "events: the VM stopping: nothing on stderr" "$WORK/err" ''
check "events: the VM stopping: registered" grep -q '^REGISTER_LISTENER ' "$T.log"
check "events: the VM stopping: not unregistered" bash -c "! grep -q '^UNREGISTER' '$T.log'"
check "events: the VM stopping: no listener socket left" \
	bash -c "! ls '$WORK' | grep -q vmm-ctl-events"

# ---- hotplug-net ----

# vmm-ctl opens the tap itself (an existing one only), brings it up and sends its fd; fake_vm
# logs what the fd is. Both run in a network namespace of the test's own, with its own taps.
hotplug_net() {
	local N=$WORK/net.sock holder
	in_ns() { ip netns exec "$NETNS" "$@"; }
	tap_up() { in_ns ip -o link show dev "$1" | grep -q '[<,]UP[,>]'; }
	tap_down() { ! tap_up "$1"; }
	printf '#!/bin/sh\nexec ip netns exec %q %q "$@"\n' "$NETNS" "$VMM_CTL" >"$WORK/ctl-in-ns"
	printf '#!/bin/sh\nexec ip netns exec %q %q "$@"\n' "$NETNS" "$FAKE_VM" >"$WORK/fake-in-ns"
	chmod +x "$WORK/ctl-in-ns" "$WORK/fake-in-ns"
	nsctl() { VMM_CTL=$WORK/ctl-in-ns ctl "$@"; }

	ip netns add "$NETNS" || { fail "ip netns add $NETNS"; return; }
	in_ns ip tuntap add dev vt0 mode tap || { fail "ip tuntap add vt0"; return; }
	in_ns ip tuntap add dev vt1 mode tap || { fail "ip tuntap add vt1"; return; }
	FAKE_VM=$WORK/fake-in-ns start_fake "$N"
	check "hotplug-net: the tap starts down" tap_down vt0

	: >"$N.log"
	nsctl 0 --socket "$N" hotplug-net add vt0
	same "hotplug-net add: text" "$WORK/out" "device: net1
pci:    01:00.0"
	same "hotplug-net add: nothing on stderr" "$WORK/err" ''
	same "hotplug-net add: the VM got the tap's fd, opened with a vnet header" "$N.log" \
		"HOTPLUG_NET op=0 flags=0 tap=vt0 fds=1 fd_tap=vt0 fd_mode=tap,no_pi,vnet_hdr \
vnet_hdr=12"
	check "hotplug-net add: the tap is up" tap_up vt0

	# the VM's refusal: exit 1, its reason
	nsctl 1 --socket "$N" hotplug-net add vt0
	same "hotplug-net add refused: the VM's reason" "$WORK/err" \
		"vmm-ctl: hotplug-net add: vt0 is already net1 (File exists)"
	same "hotplug-net add refused: nothing on stdout" "$WORK/out" ''

	: >"$N.log"
	nsctl 0 --socket "$N" hotplug-net remove vt0
	same "hotplug-net remove: prints nothing" "$WORK/out" ''
	same "hotplug-net remove: nothing on stderr" "$WORK/err" ''
	same "hotplug-net remove: op REMOVE, no flags, no fd" "$N.log" \
		"HOTPLUG_NET op=1 flags=0 tap=vt0 fds=0"

	# vmm-ctl and the fake let go of the tap: it can be added again
	nsctl 0 --json --socket "$N" hotplug-net add vt0
	json "hotplug-net add --json" \
		"o == [{'command': 'hotplug-net add', 'device': 'net1', 'pci': '01:00.0'}]"
	nsctl 0 --socket "$N" hotplug-net add vt1 --json
	json "hotplug-net add --json: a second NIC" \
		"o == [{'command': 'hotplug-net add', 'device': 'net2', 'pci': '02:00.0'}]"
	check "hotplug-net add: the second tap is up" tap_up vt1
	: >"$N.log"
	nsctl 0 --socket "$N" hotplug-net remove vt0 --force
	same "hotplug-net remove --force: prints nothing" "$WORK/out" ''
	same "hotplug-net remove --force: op REMOVE, flag FORCE, no fd" "$N.log" \
		"HOTPLUG_NET op=1 flags=1 tap=vt0 fds=0"
	nsctl 0 --force --json --socket "$N" hotplug-net remove vt1
	json "hotplug-net remove --force --json: ok" \
		"o == [{'command': 'hotplug-net remove', 'ok': True}]"
	nsctl 1 --socket "$N" hotplug-net remove vt0
	same "hotplug-net remove of a tap without a NIC: the VM's reason" "$WORK/err" \
		"vmm-ctl: hotplug-net remove: no NIC on tap vt0 (No such device)"
	nsctl 1 --json --socket "$N" hotplug-net remove vt0
	json "hotplug-net remove refused --json" "o == [{'command': 'hotplug-net remove',
		'ok': False, 'errno': 19, 'error': 'No such device',
		'message': 'no NIC on tap vt0'}]"

	# what vmm-ctl cannot open: exit 1, and nothing sent
	: >"$N.log"
	nsctl 1 --socket "$N" hotplug-net add nosuch0
	same "hotplug-net add, no such interface" "$WORK/err" \
		"vmm-ctl: hotplug-net add: nosuch0: no such network interface"
	nsctl 1 --socket "$N" hotplug-net add lo
	same "hotplug-net add, not a tap" "$WORK/err" \
		"vmm-ctl: hotplug-net add: lo: not a tap (it is a plain link)"
	in_ns python3 -c '
import fcntl, os, signal, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x1002))  # TUNSETIFF
print("holding", flush=True)
signal.pause()' vt1 >"$WORK/holder" 2>&1 </dev/null &
	holder=$!
	PIDS+=("$holder")
	check "hotplug-net: another process holds vt1" wait_for "$WORK/holder" '^holding' 10
	nsctl 1 --socket "$N" hotplug-net add vt1
	same "hotplug-net add, a tap in use" "$WORK/err" \
		"vmm-ctl: hotplug-net add: vt1: Device or resource busy (in use by another process)"
	kill -KILL "$holder"
	wait "$holder" 2>/dev/null
	unset 'PIDS[-1]'
	check "hotplug-net add that fails: nothing reached the VM" [ ! -s "$N.log" ]
}

if [ "$(id -u)" -eq 0 ]; then
	hotplug_net
else
	say "SKIPPED hotplug-net checks: making taps in a network namespace needs root"
fi

finish
