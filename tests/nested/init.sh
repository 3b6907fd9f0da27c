#!/bin/busybox sh
# shellcheck shell=dash disable=SC2013
# /init of the L1 initramfs built by tests/nested/run.sh (runs inside the
# QEMU-TCG guest, as PID 1, with busybox only).
#
# Console protocol (ttyS0 = kernel console, saved to console.log by run.sh):
#   @@VMM_NESTED_READY uptime=<s>@@        about to run the command
#   @@VMM_NESTED_ALIVE uptime=<s>@@        every 10 s while it runs (run.sh's watchdog)
#   @@VMM_NESTED_EXIT=<rc> uptime=<s>@@    command finished with <rc>
# The command's stdout goes to ttyS1, its stderr to ttyS2.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

con=/dev/ttyS0
log() { echo "vmm-nested-init: $*" >$con; }
stamp() { read -r up _ </proc/uptime; echo "vmm-nested-time: $1 $up" >$con; }
stamp init
finish() {
	read -r up _ </proc/uptime
	echo "@@VMM_NESTED_EXIT=$1 uptime=$up@@" >$con
	sync
	poweroff -f
	echo o >/proc/sysrq-trigger
	exit "$1" # PID 1 exiting panics; with panic=-1 and -no-reboot QEMU quits
}
fail() {
	log "FAIL: $*"
	finish 125
}

job=
cwd=
for a in $(cat /proc/cmdline); do
	case $a in vmm_nested.job=*) job=${a#*=} ;; vmm_nested.cwd=*) cwd=${a#*=} ;; esac
done
[ -n "$job" ] || fail "no vmm_nested.job= on the kernel command line"

# Modules, in dependency order (computed from modules.dep by run.sh).
while read -r m; do
	insmod "/modules/$m" 2>$con || log "insmod $m failed"
done </modules/order
stamp modules

# /dev/kvm: devtmpfs creates it; otherwise make the node from sysfs.
if [ ! -c /dev/kvm ]; then
	if [ -r /sys/class/misc/kvm/dev ]; then
		IFS=: read -r maj min </sys/class/misc/kvm/dev
		mknod -m 666 /dev/kvm c "$maj" "$min"
	fi
fi
[ -c /dev/kvm ] || fail "/dev/kvm missing (svm: $(grep -c -w svm /proc/cpuinfo) cpus)"

mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

o=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /host
mount -t 9p -o $o,cache=loose,ro hostroot /host || fail "cannot mount host root"
mount -t 9p -o $o,cache=mmap hostwork /host/work || log "cannot mount /work"
mount -t 9p -o $o,cache=mmap hosttmp /host/tmp || fail "cannot mount /tmp"
if [ -n "$cwd" ]; then
	mount -t 9p -o $o,cache=mmap hostcwd "/host$cwd" || fail "cannot mount $cwd"
fi
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup 2>/dev/null
mount -o rbind /dev /host/dev || fail "cannot bind /dev"
mount -t tmpfs -o mode=755 tmpfs /host/run
stamp mounts

[ -f "/host$job/cmd.sh" ] || fail "missing $job/cmd.sh"
stty -F /dev/ttyS1 raw -echo 2>/dev/null
stty -F /dev/ttyS2 raw -echo 2>/dev/null

# Signs of life for run.sh's watchdog: a line every 10 s while the command runs (a machine
# whose CPUs are stuck stops printing them). Its kernel symbols, for run.sh to say where the
# CPUs were stuck (nokaslr: the addresses hold for the whole run).
(while sleep 10; do
	read -r up _ </proc/uptime
	echo "@@VMM_NESTED_ALIVE uptime=$up@@" >$con
done) &
(grep " [tT] " /proc/kallsyms >"/host$job/kallsyms" 2>$con) &

read -r up _ </proc/uptime
echo "@@VMM_NESTED_READY uptime=$up@@" >$con
chroot /host /bin/bash "$job/cmd.sh" </dev/null >/dev/ttyS1 2>/dev/ttyS2
finish $?
