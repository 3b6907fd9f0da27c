#!/usr/bin/env bash
# Build the vmm test guest: a small Linux kernel (vmlinux + bzImage) and three initramfs images.
# Usage: tests/guest/build.sh [OUTDIR]   (default: $VMM_GUEST_OUT, else tests/guest/out)
# Cached: a second run with nothing changed returns in well under a second. See README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-${VMM_GUEST_OUT:-$here/out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)

tarball=/usr/src/linux-source-6.1.tar.xz
fragment=$here/kernel.config
outputs=(vmlinux bzImage kernel.config initramfs-spin.cpio initramfs-panic.cpio initramfs-busybox.cpio)

die() { echo "tests/guest/build.sh: $*" >&2; exit 1; }

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }

# The kernel depends on the fragment, this script (which holds the patch step) and the
# linux-source package; the initramfs images also on the two .S files and busybox.
kernel_hash=$( { cat "$fragment" "$here/build.sh"; echo "linux-source-6.1 $(pkgver linux-source-6.1)"; } |
	sha256sum | cut -c1-16)
full_hash=$( { echo "$kernel_hash"; cat "$here/spin.S" "$here/panic.S";
	echo "busybox-static $(pkgver busybox-static)"; } | sha256sum | cut -c1-16)

up_to_date() {
	[[ -f $out/.stamp && $(<"$out/.stamp") == "$full_hash" ]] || return 1
	local f
	for f in "${outputs[@]}"; do [[ -s $out/$f ]] || return 1; done
}

# Fast path, before anything else.
up_to_date && exit 0

# One builder per OUTDIR at a time (ctest and a manual run may race); recheck once we own it.
exec 9>"$out/.lock"
flock 9
up_to_date && exit 0

for tool in make gcc bc bison flex cpio lz4 perl dpkg-query; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done
[[ -r $tarball ]] || die "$tarball missing (apt-get install linux-source-6.1)"
[[ -x /bin/busybox ]] || die "/bin/busybox missing (apt-get install busybox-static)"

log=$out/build.log
: >"$log"
# Run a command with its output in build.log; on failure show the log's tail and stop.
run() {
	echo "+ $*" >>"$log"
	if ! "$@" >>"$log" 2>&1; then
		echo "tests/guest/build.sh: failed: $*" >&2
		echo "---- last lines of $log ----" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
}

src=$out/src/linux-source-6.1
kbuild=$out/kbuild
stage=$out/stage
rm -f "$out/.stamp"

# --- 1. kernel source: extracted once per linux-source package version ---
srcver="linux-source-6.1 $(pkgver linux-source-6.1)"
if [[ ! -f $src/.vmm-extracted || $(<"$src/.vmm-extracted") != "$srcver" ]]; then
	rm -rf "$out/src" "$kbuild"
	mkdir -p "$out/src.tmp"
	run tar -xJf "$tarball" -C "$out/src.tmp"
	[[ -d $out/src.tmp/linux-source-6.1 ]] || die "unexpected layout in $tarball"
	cp -p "$out/src.tmp/linux-source-6.1/arch/x86/kernel/alternative.c" \
		"$out/src.tmp/linux-source-6.1/arch/x86/kernel/alternative.c.orig"
	echo "$srcver" >"$out/src.tmp/linux-source-6.1/.vmm-extracted"
	mv "$out/src.tmp" "$out/src"
fi

# --- 2. patch: the boot-time int3 self-test cannot run where KVM cannot emulate a kernel int3 ---
alt=$src/arch/x86/kernel/alternative.c
sed 's|^\tint3_selftest();$|\tif (0) int3_selftest(); /* vmm tests: disabled, see tests/guest */|' \
	"$alt.orig" >"$alt.new"
[[ $(grep -c '^	if (0) int3_selftest(); /\* vmm tests' "$alt.new") == 1 ]] ||
	die "patching $alt failed: the int3_selftest(); call was not found exactly once"
# Replace only when different, so an unchanged patch does not force a recompile.
if cmp -s "$alt.new" "$alt"; then rm "$alt.new"; else mv "$alt.new" "$alt"; fi

# --- 3. kernel ---
export KBUILD_BUILD_TIMESTAMP="vmm test guest" KBUILD_BUILD_USER=vmm KBUILD_BUILD_HOST=vmm \
	KBUILD_BUILD_VERSION=1
kmake() { run make -C "$src" O="$kbuild" ARCH=x86_64 "$@"; }

if [[ ! -f $kbuild/.vmm-kernel || $(<"$kbuild/.vmm-kernel") != "$kernel_hash" ]]; then
	rm -f "$kbuild/.vmm-kernel"
	mkdir -p "$kbuild"
	kmake tinyconfig
	run "$src/scripts/kconfig/merge_config.sh" -m -O "$kbuild" "$kbuild/.config" "$fragment"
	kmake olddefconfig

	# Every line of the fragment must have survived: Kconfig drops options with unmet deps.
	missing=()
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			grep -qxF -- "$line" "$kbuild/.config" ||
				missing+=("$line  (got: $(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$kbuild/.config" || echo 'absent'))")
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			! grep -q "^${BASH_REMATCH[1]}=" "$kbuild/.config" ||
				missing+=("$line  (got: $(grep "^${BASH_REMATCH[1]}=" "$kbuild/.config"))")
		elif [[ -n $line && $line != \#* ]]; then
			die "kernel.config: cannot parse line: $line"
		fi
	done <"$fragment"
	if ((${#missing[@]})); then
		echo "tests/guest/build.sh: kernel.config options not in the final .config" \
			"(unmet dependencies?):" >&2
		printf '  %s\n' "${missing[@]}" >&2
		exit 1
	fi

	kmake -j"$(nproc)" vmlinux bzImage
	grep -q '^CONFIG_PVH=y' "$kbuild/.config" || die "no PVH"
	# The PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18, owner "Xen") lets loaders use vmlinux.
	readelf -n "$kbuild/vmlinux" | grep -A1 -w Xen | grep -qiE '0x00000012|PHYS32_ENTRY' ||
		die "vmlinux lacks the PVH (Xen PHYS32_ENTRY) ELF note"
	echo "$kernel_hash" >"$kbuild/.vmm-kernel"
fi

# --- 4. initramfs images (uncompressed newc, via the kernel's gen_init_cpio: no root needed) ---
rm -rf "$stage"
mkdir -p "$stage"
run gcc -O2 -o "$stage/gen_init_cpio" "$src/usr/gen_init_cpio.c"
run gcc -nostdlib -static -no-pie -Wl,--build-id=none -o "$stage/spin" "$here/spin.S"
run gcc -nostdlib -static -no-pie -Wl,--build-id=none -o "$stage/panic" "$here/panic.S"
cp /bin/busybox "$stage/busybox"
cat >"$stage/busybox-init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "vmm-guest: busybox shell"
# busybox init: a shell on the console, and `reboot`/`poweroff` handled as on a real system.
exec /bin/init
EOF
cat >"$stage/inittab" <<'EOF'
::respawn:-/bin/cttyhack /bin/sh
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r
EOF
chmod 0755 "$stage/spin" "$stage/panic" "$stage/busybox" "$stage/busybox-init"
chmod 0644 "$stage/inittab"
touch -h -d @0 "$stage"/*	# gen_init_cpio stores files' mtimes: keep the images reproducible

console='nod /dev/console 0600 0 0 c 5 1'
printf '%s\n' 'dir /dev 0755 0 0' "$console" "file /init $stage/spin 0755 0 0" >"$stage/spin.list"
printf '%s\n' 'dir /dev 0755 0 0' "$console" "file /init $stage/panic 0755 0 0" >"$stage/panic.list"
{
	printf '%s\n' 'dir /dev 0755 0 0' "$console" 'dir /bin 0755 0 0' 'dir /proc 0755 0 0' \
		'dir /sys 0755 0 0' 'dir /tmp 1777 0 0' 'dir /root 0700 0 0' \
		"file /bin/busybox $stage/busybox 0755 0 0" "file /init $stage/busybox-init 0755 0 0" \
		'dir /etc 0755 0 0' "file /etc/inittab $stage/inittab 0644 0 0"
	for applet in sh init mount umount nproc free reboot poweroff cat ls echo setsid cttyhack; do
		echo "slink /bin/$applet busybox 0777 0 0"
	done
} >"$stage/busybox.list"

for name in spin panic busybox; do
	"$stage/gen_init_cpio" -t 0 "$stage/$name.list" >"$stage/initramfs-$name.cpio" 2>>"$log" ||
		die "gen_init_cpio failed for $name (see $log)"
done

# --- 5. publish ---
install -m 0644 "$kbuild/vmlinux" "$out/vmlinux.tmp" && mv "$out/vmlinux.tmp" "$out/vmlinux"
install -m 0644 "$kbuild/arch/x86/boot/bzImage" "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"
install -m 0644 "$kbuild/.config" "$out/kernel.config.tmp" && mv "$out/kernel.config.tmp" "$out/kernel.config"
for name in spin panic busybox; do
	mv "$stage/initramfs-$name.cpio" "$out/initramfs-$name.cpio"
done
rm -rf "$stage"
echo "$full_hash" >"$out/.stamp"
