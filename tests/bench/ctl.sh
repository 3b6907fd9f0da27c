#!/bin/bash
# Control socket benchmark (not a test): what a request to a running VM costs, beside an anchor
# measured in the same run.
#
#   tests/bench/ctl.sh [-n REQUESTS] [-k NEW_CONNECTIONS] [-c CYCLES]
#
# Env: VMM, VMM_CTL (default ${BUILD:-build}/vmm and vmm-ctl, relative to where you are),
# GUEST_DIR (default tests/guest/out: vmlinux and initramfs-spin.cpio), BOOT_LIMIT,
# BALLOON_LIMIT and PY_LIMIT (seconds for the boot, for one balloon event and for python3 to
# start; default 400, 120 and 300), TMPDIR (the sockets live there; under tests/nested it must
# be /dev/shm: 9p shares cannot hold sockets).
#
# Boots the test kernel (2 vCPUs, 256 MiB, a disk, a balloon with statistics: the VM of
# tests/integration/control.sh) with a control socket, waits for `Run /init`, then measures:
#   - the round trip of STATUS: a small Python client sends the request's 8 bytes (struct msg_hdr,
#     type 0x0313, size 8, little-endian, no body: ipc/msg.h, ipc/msg_vm.h) and reads the
#     1448-byte RESP_STATUS, REQUESTS times on one connection (after 20 unmeasured), and
#     NEW_CONNECTIONS times on a connection of its own each (socket + connect + send + recv; the
#     close is not timed). Anchor: the same client against a trivial Python server on a
#     SOCK_SEQPACKET socket next to the VM's, answering each message with 1448 bytes: the floor
#     of the transport and of the client itself.
#   - `vmm-ctl balloon set 64` (and then `set 0`) to the balloon-resize event that
#     `vmm-ctl --json events` prints, stamped when its line arrives; median of CYCLES cycles.
#     Anchor: `vmm-ctl balloon set 0` while the balloon is at 0, which takes the same path
#     (vmm-ctl, main, the balloon device, main, the listener) without the guest's work.
# Prints a Markdown table (measure, vmm, anchor, ratio vmm / anchor), stops the VM with
# `vmm-ctl stop`. Every process and file it made goes at exit. Exits 77 without /dev/kvm.
set -euo pipefail

REQUESTS=1000
NEW_CONNS=200
CYCLES=3
while getopts "n:k:c:" o; do
	case $o in
	n) REQUESTS=$OPTARG ;;
	k) NEW_CONNS=$OPTARG ;;
	c) CYCLES=$OPTARG ;;
	*) echo "usage: $0 [-n REQUESTS] [-k NEW_CONNECTIONS] [-c CYCLES]" >&2; exit 2 ;;
	esac
done

if [ ! -e /dev/kvm ]; then
	echo "ctl.sh: no /dev/kvm on this host: nothing to measure" >&2
	echo "ctl.sh: (tests/nested/run.sh -- env TMPDIR=/dev/shm bash tests/bench/ctl.sh runs it in a nested KVM machine)" >&2
	exit 77
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
VMM=$(abspath "${VMM:-${BUILD:-build}/vmm}")
VMM_CTL=$(abspath "${VMM_CTL:-${BUILD:-build}/vmm-ctl}")
GUEST=$(abspath "${GUEST_DIR:-$ROOT/tests/guest/out}")
BOOT_LIMIT=${BOOT_LIMIT:-400}
BALLOON_LIMIT=${BALLOON_LIMIT:-120}
PY_LIMIT=${PY_LIMIT:-300}
CMDLINE="console=ttyS0 nopv noxsave clearcpuid=popcnt,smap,cx16 reboot=k panic=1"

for f in "$VMM" "$VMM_CTL"; do
	[ -x "$f" ] || { echo "ctl.sh: missing $f (build first: cmake --build ${BUILD:-build})" >&2; exit 1; }
done
for f in "$GUEST/vmlinux" "$GUEST/initramfs-spin.cpio"; do
	[ -f "$f" ] || { echo "ctl.sh: missing $f (the test guest: scripts/test.sh builds it)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "ctl.sh: python3 is missing" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmm-bench-ctl.XXXXXX")
SOCK=$WORK/ctl.sock
VMM_PID='' EVENTS_PID='' ECHO_PID=''
cleanup() {
	local rc=$? pid devs=
	trap - EXIT INT TERM
	# vmm's device processes are children of vmm: by pid, before vmm goes
	[ -n "$VMM_PID" ] && devs=$(pgrep -P "$VMM_PID" 2>/dev/null || true)
	for pid in $EVENTS_PID $ECHO_PID $VMM_PID $devs; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "ctl.sh: $*" >&2; }
die() {
	say "$*"
	exit 1
}
ctl() { "$VMM_CTL" --socket "$SOCK" "$@"; }

# wait_line FILE REGEX SECONDS [PID]: a bounded poll for a line; fails early if PID exits.
wait_line() {
	local file=$1 re=$2 limit=$3 pid=${4:-} start=$SECONDS
	until grep -Eq -- "$re" "$file" 2>/dev/null; do
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
		[ $((SECONDS - start)) -lt "$limit" ] || return 1
		sleep 0.1
	done
}

# wait_gone PID SECONDS: a bounded wait for a child; its exit code in EXIT_CODE.
wait_gone() {
	local pid=$1 limit=$2 start=$SECONDS
	EXIT_CODE=
	while kill -0 "$pid" 2>/dev/null; do
		[ $((SECONDS - start)) -lt "$limit" ] || return 1
		sleep 0.1
	done
	EXIT_CODE=0
	wait "$pid" || EXIT_CODE=$?
}

cat >"$WORK/ctlbench.py" <<'PY'
"""The client side of tests/bench/ctl.sh: echo-server, status and balloon."""
import json
import math
import os
import select
import socket
import struct
import subprocess
import sys
import time

# struct msg_hdr (ipc/msg.h): u32 type, u32 size of the whole message, little-endian.
# STATUS (ipc/msg_vm.h) has no body; RESP_STATUS's body is struct msg_vm_status, 96 + 56 * 24.
STATUS = struct.pack("<II", 0x0313, 8)
RESP_STATUS = 0x0386
RESP_LEN = 8 + 96 + 56 * 24
RCVTIMEO = struct.pack("ll", 30, 0)  # a VM that does not answer ends the run, not hangs it
now = time.perf_counter_ns


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def pct(v, p):
    """The nearest-rank percentile."""
    s = sorted(v)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def check(ans):
    if len(ans) != RESP_LEN or struct.unpack_from("<II", ans) != (RESP_STATUS, RESP_LEN):
        sys.exit(f"ctlbench: unexpected answer: {len(ans)} bytes, header {ans[:8].hex()}")


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, RCVTIMEO)
    s.connect(path)
    return s


def echo_server(path):
    """Answers each message with a RESP_STATUS-sized one, one connection at a time."""
    ans = struct.pack("<II", RESP_STATUS, RESP_LEN) + bytes(RESP_LEN - 8)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    lsock.bind(path)
    lsock.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = lsock.accept()
        while c.recv(4096):
            c.send(ans)
        c.close()


def one_connection(path, n, warm=20):
    s = connect(path)
    for _ in range(warm):
        s.send(STATUS)
        check(s.recv(4096))
    out = []
    for _ in range(n):
        t0 = now()
        s.send(STATUS)
        a = s.recv(4096)
        out.append(now() - t0)
        check(a)
    s.close()
    return out


def new_connections(path, n, warm=5):
    out = []
    for i in range(warm + n):
        t0 = now()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, RCVTIMEO)
        s.connect(path)
        s.send(STATUS)
        a = s.recv(4096)
        t = now() - t0
        s.close()
        check(a)
        if i >= warm:
            out.append(t)
    return out


def row(what, vmm, anchor, fmt="{:.1f}"):
    print(f"| {what} | {fmt.format(vmm)} | {fmt.format(anchor)} | {vmm / anchor:.2f} |")


def status(vm_sock, echo_sock, n, k):
    us = 1e3
    # vmm and the anchor alternate, each phase back to back
    vm1 = one_connection(vm_sock, n)
    an1 = one_connection(echo_sock, n)
    vmk = new_connections(vm_sock, k)
    ank = new_connections(echo_sock, k)
    row(f"`status` round trip, one connection, {n} requests: median (µs)",
        median(vm1) / us, median(an1) / us)
    row(f"`status` round trip, one connection, {n} requests: p99 (µs)",
        pct(vm1, 99) / us, pct(an1, 99) / us)
    row(f"`status` round trip, a new connection each, {k} requests: median (µs)",
        median(vmk) / us, median(ank) / us)
    row(f"`status` round trip, a new connection each, {k} requests: p99 (µs)",
        pct(vmk, 99) / us, pct(ank, 99) / us)


class Events:
    """The lines of `vmm-ctl --json events`, each stamped when it arrived."""

    def __init__(self, fifo):
        self.fd = os.open(fifo, os.O_RDONLY)  # the events process waits to open it for writing
        self.partial = b""
        self.lines = []

    def read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not r:
            return False
        data = os.read(self.fd, 65536)
        t = now()
        if not data:
            sys.exit("ctlbench: vmm-ctl events ended")
        parts = (self.partial + data).split(b"\n")
        self.partial = parts.pop()
        self.lines += [(t, json.loads(p)) for p in parts if p.strip()]
        return True

    def drain(self, quiet):
        """Drops what came so far, and what comes until `quiet` seconds pass without a line."""
        while self.read(quiet):
            pass
        self.lines = []

    def take(self, value):
        """The arrival of the first balloon-resize event at value bytes so far, or None."""
        while self.lines:
            t, e = self.lines.pop(0)
            if e.get("event") == "balloon-resize" and e.get("value") == value:
                return t
        return None

    def resize(self, value, limit):
        """The arrival of the next balloon-resize event at value bytes, or None."""
        deadline = time.monotonic() + limit
        while (t := self.take(value)) is None:
            if not self.read(deadline - time.monotonic()):
                return None
        return t


def balloon(ctl, vm_sock, fifo, cycles, limit):
    ev = Events(fifo)
    base = [ctl, "--socket", vm_sock]

    def timed(mib):
        """ms from starting `vmm-ctl balloon set MIB` to its event, and to vmm-ctl's exit."""
        ev.drain(0)
        t0 = now()
        p = subprocess.Popen(base + ["balloon", "set", str(mib)], stdout=subprocess.DEVNULL)
        pidfd = os.pidfd_open(p.pid)  # readable once vmm-ctl has exited
        t_event = t_exit = None
        deadline = time.monotonic() + limit
        while t_event is None or t_exit is None:
            fds = ([ev.fd] if t_event is None else []) + ([pidfd] if t_exit is None else [])
            r, _, _ = select.select(fds, [], [], max(deadline - time.monotonic(), 0))
            if not r:
                p.kill()
                sys.exit(f"ctlbench: balloon set {mib}: no balloon-resize event or no exit "
                         f"within {limit} s")
            if pidfd in r:
                t_exit = now()
            if ev.fd in r:
                ev.read(0)
                t_event = ev.take(mib << 20)
        os.close(pidfd)
        if p.wait() != 0:
            sys.exit(f"ctlbench: vmm-ctl balloon set {mib} failed")
        return (t_event - t0) / 1e6, (t_exit - t0) / 1e6

    # the listener is registered once an event reaches it: set 0 at 0 until one does
    for _ in range(60):
        subprocess.run(base + ["balloon", "set", "0"], stdout=subprocess.DEVNULL, check=True,
                       timeout=30)
        if ev.resize(0, 1) is not None:
            break
    else:
        sys.exit("ctlbench: vmm-ctl events heard nothing")
    ev.drain(1)
    at_target = [timed(0) for _ in range(cycles)]
    inflate, deflate = [], []
    for _ in range(cycles):
        inflate.append(timed(64))
        deflate.append(timed(0))
    anchor = median(a[0] for a in at_target)
    row(f"`vmm-ctl balloon set 64` -> balloon-resize event, median of {cycles} (ms)",
        median(a[0] for a in inflate), anchor)
    row(f"`vmm-ctl balloon set 0` (from 64) -> balloon-resize event, median of {cycles} (ms)",
        median(a[0] for a in deflate), anchor)
    ack = [median(a[1] for a in x) for x in (inflate, deflate, at_target)]
    print(f"vmm-ctl itself exited after (median): inflate {ack[0]:.1f} ms, "
          f"deflate {ack[1]:.1f} ms, at target {ack[2]:.1f} ms", file=sys.stderr)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "echo-server":
        echo_server(args[0])
    elif cmd == "status":
        status(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "balloon":
        balloon(args[0], args[1], args[2], int(args[3]), float(args[4]))
PY

truncate -s 16M "$WORK/disk.img"
cat >"$WORK/vm.toml" <<TOML
[vm]
name = "ctl-bench"
cpus = 2
memory_mib = 256
kernel = "$GUEST/vmlinux"
initrd = "$GUEST/initramfs-spin.cpio"
cmdline = "$CMDLINE"
control_socket = "$SOCK"

[[disk]]
path = "disk.img"

[balloon]
enabled = true
stats_interval_s = 1
TOML

# The anchor server starts while the guest boots: Python takes its time to start in
# tests/nested (about 25 s: the interpreter is read through 9p, under emulation).
python3 "$WORK/ctlbench.py" echo-server "$WORK/echo.sock" >"$WORK/echo.out" 2>"$WORK/echo.err" &
ECHO_PID=$!
say "booting the test kernel"
t0=$SECONDS
"$VMM" run --config "$WORK/vm.toml" >"$WORK/vm.out" 2>"$WORK/vm.err" </dev/null &
VMM_PID=$!
if ! wait_line "$WORK/vm.out" 'Run /init as init process' "$BOOT_LIMIT" "$VMM_PID"; then
	say "the guest did not reach 'Run /init' within ${BOOT_LIMIT}s (or vmm exited)"
	tail -n 20 "$WORK/vm.out" "$WORK/vm.err" >&2
	exit 1
fi
boot_s=$((SECONDS - t0))
# the balloon's driver is up (DRIVER_OK) before its first target
start=$SECONDS
until ctl --json status 2>/dev/null | grep -Eq '"name": "balloon0"[^}]*"driver_ok": true'; do
	[ $((SECONDS - start)) -lt 60 ] || die "the balloon driver did not set DRIVER_OK within 60 s"
	sleep 0.2
done

# (1) STATUS round trips, and the anchor server's
wait_line "$WORK/echo.out" '^ready$' "$PY_LIMIT" "$ECHO_PID" ||
	{ cat "$WORK/echo.err" >&2; die "the anchor server did not start within ${PY_LIMIT}s"; }
say "status: $REQUESTS requests on one connection, $NEW_CONNS on a new connection each"
python3 "$WORK/ctlbench.py" status "$SOCK" "$WORK/echo.sock" "$REQUESTS" "$NEW_CONNS" >"$WORK/rows"
kill -TERM "$ECHO_PID" 2>/dev/null || true
wait_gone "$ECHO_PID" 10 || true
ECHO_PID=

# (2) balloon set -> balloon-resize event, with a listener from before the first
mkfifo "$WORK/events.fifo"
ctl --json events >"$WORK/events.fifo" 2>"$WORK/events.err" &
EVENTS_PID=$!
say "balloon: $CYCLES cycles of set 64 / set 0"
python3 "$WORK/ctlbench.py" balloon "$VMM_CTL" "$SOCK" "$WORK/events.fifo" "$CYCLES" \
	"$BALLOON_LIMIT" >>"$WORK/rows" 2>"$WORK/balloon.err" || { cat "$WORK/balloon.err" >&2; exit 1; }
kill -TERM "$EVENTS_PID" 2>/dev/null || true
wait_gone "$EVENTS_PID" 10 || say "vmm-ctl events did not exit on SIGTERM"
EVENTS_PID=

ctl stop || die "vmm-ctl stop failed"
wait_gone "$VMM_PID" 60 || die "vmm did not exit within 60 s of vmm-ctl stop"
[ "$EXIT_CODE" -eq 0 ] || say "vmm exited $EXIT_CODE after vmm-ctl stop"
VMM_PID=

echo "Control socket benchmark, $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs,"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); guest at \`Run /init\` after ${boot_s} s"
[ "${VMM_NESTED:-}" = 1 ] &&
	echo "Inside tests/nested: L1 is QEMU TCG, so vmm, its guest and the anchors all run emulated."
echo
echo "| measure | vmm | anchor | ratio |"
echo "| --- | --- | --- | --- |"
cat "$WORK/rows"
echo
echo "Anchors: for \`status\`, the same Python client against a Python server on a SOCK_SEQPACKET"
echo "socket that answers each message with 1448 bytes (RESP_STATUS's size); for the balloon,"
echo "\`vmm-ctl balloon set 0\` with the balloon already at 0 (the same path, no guest work)."
cat "$WORK/balloon.err"
exit 0
