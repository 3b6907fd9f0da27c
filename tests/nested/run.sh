#!/usr/bin/env bash
# Run a command inside an "L1" Linux VM that has a real /dev/kvm, on a host
# without one: QEMU TCG emulates an AMD CPU with SVM, L1 loads kvm/kvm_amd,
# chroots into the host's root filesystem (9p, read-only; /work and /tmp
# read-write) and runs the command in the caller's current directory.
#
#   tests/nested/run.sh [options] -- COMMAND [ARGS...]
#
# Exits with COMMAND's exit code (124 on timeout, 125 on harness failure).
# Slow (TCG). scripts/test.sh uses it for the guest tests on hosts without
# /dev/kvm. See tests/nested/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VMM_NESTED_CACHE:-/var/cache/vmm-nested}
timeout_s=${VMM_NESTED_TIMEOUT:-600}
stall_s=${VMM_NESTED_STALL:-300}
cpu=${VMM_NESTED_CPU:-max}
mem=${VMM_NESTED_MEM:-8192}
smp=${VMM_NESTED_SMP:-2}
verbose=0
show_time=0
prepare_only=0

# Kernel modules wanted in L1 (their dependencies are added from modules.dep).
want_modules=(kvm kvm_amd virtio_pci 9pnet_virtio 9p tun)

usage() {
	cat <<EOF
usage: $0 [--timeout SECS] [--stall SECS] [--cpu MODEL] [--time] [--verbose] -- COMMAND [ARGS...]
       $0 --prepare     build the kernel/initramfs cache only
  --timeout SECS  kill L1 after SECS seconds (default $timeout_s), exit 124
  --stall SECS    kill L1 when it showed no sign of life (its console is silent: it prints a
                  line every 10 s) for SECS seconds (default $stall_s), exit 124
  --cpu MODEL     QEMU -cpu (default $cpu; needs svm, e.g. EPYC, qemu64,+svm)
  --time          print boot/command/total timings to stderr
  --verbose       copy L1's console (kernel log, init messages) to stderr
env: VMM_NESTED_CACHE (default /var/cache/vmm-nested), VMM_NESTED_KVER
     (kernel ABI, e.g. 6.1.0-57-amd64), VMM_NESTED_ENV (extra variable names
     to pass into L1; PATH HOME USER LANG LC_ALL TERM are always passed),
     VMM_NESTED_KEEP=1 (keep the /tmp/vmm-nested.* job directory)
EOF
}

say() { echo "vmm-nested: $*" >&2; }
die() {
	say "error: $*"
	exit 125
}

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--timeout=*) timeout_s=${1#*=}; shift ;;
	--stall) stall_s=${2:?}; shift 2 ;;
	--stall=*) stall_s=${1#*=}; shift ;;
	--cpu) cpu=${2:?}; shift 2 ;;
	--cpu=*) cpu=${1#*=}; shift ;;
	--time) show_time=1; shift ;;
	-v | --verbose) verbose=1; shift ;;
	--prepare) prepare_only=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; exit 125 ;;
	esac
done
[ $# -gt 0 ] || [ $prepare_only = 1 ] || { usage >&2; exit 125; }
[[ $timeout_s =~ ^[0-9]+$ ]] || die "bad --timeout: $timeout_s"
[[ $stall_s =~ ^[1-9][0-9]*$ ]] || die "bad --stall: $stall_s"

# ---------------------------------------------------------------- cache ----

apt_download() { # PKG into the current directory
	apt-get download "$1" >/dev/null 2>&1 && return 0
	say "apt-get download $1 failed; running apt-get update"
	apt-get update >/dev/null 2>&1 || true
	apt-get download "$1" >/dev/null || die "cannot download $1"
}

resolve_kver() {
	if [ -n "${VMM_NESTED_KVER:-}" ]; then
		kver=$VMM_NESTED_KVER
	elif [ -s "$cache/kver" ]; then
		kver=$(cat "$cache/kver")
	else
		local dep
		dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: linux-image-\(.*-amd64\)$/\1/p' | head -n1)
		if [ -z "$dep" ]; then
			apt-get update >/dev/null 2>&1 || true
			dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
				sed -n 's/^ *Depends: linux-image-\(.*-amd64\)$/\1/p' | head -n1)
		fi
		[ -n "$dep" ] || die "cannot find the Debian kernel (apt-cache depends linux-image-amd64)"
		kver=$dep
		echo "$kver" >"$cache/kver"
	fi
}

fetch_kernel() { # -> $cache/$kver/{vmlinuz,vmlinux?,config,linux-image.deb}
	local d=$cache/$kver
	[ -s "$d/vmlinuz" ] && [ -s "$d/linux-image.deb" ] && return 0
	say "downloading linux-image-$kver"
	rm -rf "$d.tmp" && mkdir -p "$d.tmp"
	(cd "$d.tmp" && apt_download "linux-image-$kver") || exit 125
	mv "$d.tmp"/linux-image-*.deb "$d.tmp/linux-image.deb"
	dpkg-deb --fsys-tarfile "$d.tmp/linux-image.deb" |
		tar -xO "./boot/vmlinuz-$kver" >"$d.tmp/vmlinuz"
	dpkg-deb --fsys-tarfile "$d.tmp/linux-image.deb" |
		tar -xO "./boot/config-$kver" >"$d.tmp/config"
	# Decompressing the xz bzImage takes ~5 s under TCG. With CONFIG_PVH,
	# QEMU boots the uncompressed ELF vmlinux directly: extract it once.
	if grep -q '^CONFIG_PVH=y' "$d.tmp/config"; then
		local off
		off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$d.tmp/vmlinuz" | head -n1 | cut -d: -f1)
		if [ -n "$off" ]; then
			# xz complains about the bzImage bytes after the stream: ignore.
			tail -c +$((off + 1)) "$d.tmp/vmlinuz" | xz -dc >"$d.tmp/vmlinux" 2>/dev/null || true
			[ "$(head -c 4 "$d.tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
				rm -f "$d.tmp/vmlinux"
		fi
	fi
	rm -rf "$d" && mv "$d.tmp" "$d"
}

fetch_busybox() { # -> $busybox (a static busybox)
	if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
		busybox=$(command -v busybox)
		return 0
	fi
	busybox=$cache/busybox-static/bin/busybox
	[ -x "$busybox" ] && return 0
	say "downloading busybox-static"
	rm -rf "$cache/busybox-static" "$cache/bb.tmp" && mkdir -p "$cache/bb.tmp"
	(cd "$cache/bb.tmp" && apt_download busybox-static) || exit 125
	dpkg-deb -x "$cache"/bb.tmp/busybox-static_*.deb "$cache/busybox-static"
	rm -rf "$cache/bb.tmp"
	[ -x "$busybox" ] || busybox=$cache/busybox-static/usr/bin/busybox
	[ -x "$busybox" ] || die "no busybox in busybox-static"
}

# Print the .ko files (relative to lib/modules/$kver) to load, dependencies
# first. Uses modules.dep (made with depmod -b when kmod is installed; the
# package does not ship one), else each module's own "depends=" modinfo.
module_load_order() { # $1 = extracted lib/modules/$kver
	local mdir=$1 line name path
	declare -A path_of=() deps_of=() done_=() builtin=()
	while IFS= read -r path; do
		name=${path##*/}
		name=${name%%.ko*}
		path_of[${name//-/_}]=$path
	done < <(cd "$mdir" && find kernel -name '*.ko*')
	while IFS= read -r path; do
		name=${path##*/}
		name=${name%.ko}
		builtin[${name//-/_}]=1
	done <"$mdir/modules.builtin"
	if [ -s "$mdir/modules.dep" ]; then
		while IFS= read -r line; do
			path=${line%%:*}
			name=${path##*/}
			name=${name%%.ko*}
			deps_of[${name//-/_}]=${line#*:}
		done <"$mdir/modules.dep"
	fi
	visit() {
		local n=${1//-/_} d dn
		[ -z "${done_[$n]:-}" ] || return 0
		done_[$n]=1
		if [ -n "${builtin[$n]:-}" ]; then return 0; fi
		[ -n "${path_of[$n]:-}" ] || die "module $n not found in $kver"
		if [ -n "${deps_of[$n]+x}" ]; then
			for d in ${deps_of[$n]}; do
				dn=${d##*/}
				visit "${dn%%.ko*}"
			done
		else
			for d in $(modinfo_depends "$mdir/${path_of[$n]}" | tr ',' ' '); do
				visit "$d"
			done
		fi
		echo "${path_of[$n]}"
	}
	for name in "${want_modules[@]}"; do visit "$name"; done
}

ko_cat() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}
modinfo_depends() { ko_cat "$1" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1; }

build_initramfs() { # -> $initrd
	local key
	key=$( (cat "$here/init.sh" "$busybox"; echo "${want_modules[*]}") | sha256sum | cut -c1-16)
	initrd=$cache/$kver/initramfs-$key.cpio.gz
	[ -s "$initrd" ] && return 0
	say "building $initrd"
	local t=$cache/$kver/build.tmp
	rm -rf "$t" && mkdir -p "$t/x" "$t/root"/{bin,dev,proc,sys,host,modules}
	dpkg-deb -x "$cache/$kver/linux-image.deb" "$t/x"
	local mdir=$t/x/lib/modules/$kver
	if command -v depmod >/dev/null; then
		depmod -b "$t/x" "$kver" || say "depmod failed; using modinfo depends="
	fi
	local order ko n
	order=$(module_load_order "$mdir") || exit 125
	for ko in $order; do
		n=${ko##*/}
		n=${n%%.ko*}.ko
		ko_cat "$mdir/$ko" >"$t/root/modules/$n"
		echo "$n" >>"$t/root/modules/order"
	done
	: >>"$t/root/modules/order"
	cp "$busybox" "$t/root/bin/busybox"
	install -m 755 "$here/init.sh" "$t/root/init"
	mknod -m 600 "$t/root/dev/console" c 5 1 2>/dev/null || true
	(cd "$t/root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$t"
	find "$cache/$kver" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -path "$initrd" -delete
}

prepare() {
	mkdir -p "$cache" || die "cannot create $cache"
	exec 9>"$cache/.lock"
	flock 9
	resolve_kver
	fetch_kernel
	fetch_busybox
	build_initramfs
	exec 9>&-
	kernel=$cache/$kver/vmlinux
	[ -s "$kernel" ] || kernel=$cache/$kver/vmlinuz
}

prepare
[ $prepare_only = 0 ] || { echo "$kernel"; echo "$initrd"; exit 0; }

# ------------------------------------------------------------------ run ----

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed"

# The job directory must be in /tmp: L1 sees host /tmp at /tmp.
job=$(mktemp -d /tmp/vmm-nested.XXXXXX)
pids=()
qpid=
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ "${VMM_NESTED_KEEP:-0}" = 1 ] || rm -rf "$job"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
	echo '# generated by tests/nested/run.sh'
	printf 'cd -- %q || exit 125\n' "$PWD"
	printf 'exec env -i -- VMM_NESTED=1'
	for v in PATH HOME USER LANG LC_ALL TERM ${VMM_NESTED_ENV:-}; do
		[ -z "${!v+x}" ] || printf ' %q' "$v=${!v}"
	done
	printf ' %q' "$@"
	echo
} >"$job/cmd.sh"

for f in out err mon; do mkfifo "$job/$f.in" "$job/$f.out"; done
cat "$job/out.out" &
pids+=($!)
cat "$job/err.out" >&2 &
pids+=($!)
: >"$job/console.log"
if [ $verbose = 1 ]; then
	tail -n +1 -F "$job/console.log" >&2 2>/dev/null &
	pids+=($!)
fi

share=()
n=0
add_share() { # HOSTPATH TAG [readonly]
	share+=(-fsdev "local,id=fs$n,path=$1,security_model=none,multidevs=remap${3:+,readonly=on}"
		-device "virtio-9p-pci,fsdev=fs$n,mount_tag=$2")
	n=$((n + 1))
}
add_share / hostroot ro
[ ! -d /work ] || add_share /work hostwork
add_share /tmp hosttmp
# The caller's directory read-write too, when it is elsewhere (CI's clone may be anywhere).
cwd_share=
case $PWD in
/work | /work/* | /tmp | /tmp/*) ;;
*) add_share "$PWD" hostcwd; cwd_share=$PWD ;;
esac

t0=$(date +%s.%N)
timeout -k 5 "$timeout_s" qemu-system-x86_64 \
	-accel tcg,thread=multi -M pc -cpu "$cpu" -smp "$smp" -m "$mem" \
	-nographic -no-reboot -nodefaults -no-user-config -monitor "pipe:$job/mon" \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 mitigations=off nokaslr vmm_nested.job=$job${cwd_share:+ vmm_nested.cwd=$cwd_share}" \
	-serial "file:$job/console.log" -serial "pipe:$job/out" -serial "pipe:$job/err" \
	"${share[@]}" </dev/null &
qpid=$!

# Where L1's CPUs are: QEMU's monitor, each CPU's RIP, named from L1's kernel symbols.
where_are_cpus() {
	local regs rip sym
	echo 'info registers -a' >"$job/mon.in" || return 0
	regs=$(timeout 5 cat "$job/mon.out" | tr -d '\r' | grep -E '^(CPU#|RIP=)') || true
	while read -r line; do
		case $line in
		CPU#*) say "  $line" ;;
		RIP=*)
			rip=${line#RIP=}
			rip=${rip%% *}
			sym=
			# (16 hex digits each: compared as strings; awk's numbers lose 64-bit bits)
			[ ! -s "$job/kallsyms" ] || sym=$(awk -v r="$rip" '
				function hex(s,  i, v) { v = 0
					for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
					return v }
				BEGIN { want = tolower(r) ""; best = "" }
				{ a = tolower($1) ""; if (length(a) == length(want) && a <= want && a > best) { best = a; name = $3 } }
				END { if (name != "") printf "%s+0x%x", name, hex(substr(want, 9)) - hex(substr(best, 9)) }' "$job/kallsyms")
			say "    rip $rip ${sym:-(no symbol)}"
			;;
		esac
	done <<<"$regs"
}

# The watchdog: L1 prints a sign of life every 10 s once the command runs (init.sh); none for
# stall_s seconds means its CPUs are stuck (seen: both busy, nothing running; its kernel's own
# soft-lockup reports do not count). Stop it, say where they were. Before the command starts,
# any console output counts.
stalled=0
last_size=-1
last_change=$SECONDS
while kill -0 "$qpid" 2>/dev/null; do
	if grep -q '@@VMM_NESTED_READY' "$job/console.log" 2>/dev/null; then
		size=alive-$(grep -c '@@VMM_NESTED_ALIVE' "$job/console.log" 2>/dev/null || true)
	else
		size=$(stat -c %s "$job/console.log" 2>/dev/null || echo 0)
	fi
	if [ "$size" != "$last_size" ]; then
		last_size=$size
		last_change=$SECONDS
	elif [ $((SECONDS - last_change)) -ge "$stall_s" ]; then
		say "L1 showed no sign of life for ${stall_s}s: it hung; its CPUs were at:"
		where_are_cpus
		stalled=1
		kill "$qpid" 2>/dev/null || true
		break
	fi
	sleep 2
done
set +e
wait $qpid
qrc=$?
set -e
qpid=
t1=$(date +%s.%N)

# Let the output readers see EOF even if QEMU never opened the fifos.
for f in out err; do
	exec {fd}<>"$job/$f.out"
	exec {fd}>&-
done
wait "${pids[0]}" "${pids[1]}" 2>/dev/null || true
[ $verbose = 0 ] || sleep 0.2

log=$(tr -d '\r' <"$job/console.log" | grep -v '@@VMM_NESTED_ALIVE')
ready=$(sed -n 's/.*@@VMM_NESTED_READY uptime=\([0-9.]*\)@@.*/\1/p' <<<"$log" | head -n1)
exitline=$(sed -n 's/.*@@VMM_NESTED_EXIT=\([0-9]*\) uptime=\([0-9.]*\)@@.*/\1 \2/p' <<<"$log" | head -n1)

if [ -z "$exitline" ]; then
	if [ $stalled = 1 ]; then
		rc=124
	elif [ $qrc = 124 ] || [ $qrc = 137 ]; then
		say "timeout after ${timeout_s}s"
		rc=124
	else
		say "L1 did not report an exit code (qemu exit $qrc)"
		rc=125
	fi
	[ $verbose = 1 ] || { say "last L1 console lines:"; tail -n 30 <<<"$log" >&2; }
	exit $rc
fi
rc=${exitline%% *}
done_up=${exitline#* }
grep 'vmm-nested-init:' <<<"$log" >&2 || true
if [ $show_time = 1 ]; then
	sed -n 's/.*vmm-nested-time: \([a-z]*\) \([0-9.]*\)$/\1=\2s/p' <<<"$log" | tr '\n' ' ' |
		sed 's/^/vmm-nested: L1 uptime at: /; s/ $/\n/' >&2
	awk -v r="$ready" -v d="$done_up" -v t0="$t0" -v t1="$t1" 'BEGIN {
		printf "vmm-nested: L1 boot to command %.2fs (L1 uptime), command %.2fs, total wall %.2fs\n", r, d - r, t1 - t0 }' >&2
fi
exit "$rc"
