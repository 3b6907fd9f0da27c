#!/bin/bash
# Installs the Debian 12 packages vmm needs to build, test and build its test guest.
# Idempotent and quiet: does nothing when everything is already installed.
set -euo pipefail

PKGS=(
	# build
	build-essential cmake pkg-config
	libseccomp-dev libcap-ng-dev libnl-3-dev libnl-route-3-dev
	# tests; clang and its runtime for the libFuzzer targets (tests/fuzz)
	libcriterion-dev clang libclang-rt-14-dev
	# test guest: kernel from Debian's source, initramfs tools, disk images
	linux-source-6.1 bc bison flex libelf-dev libssl-dev cpio xz-utils lz4
	busybox-static e2fsprogs fio
	# shell tests: JSON checks (python3); guest tests: network namespaces, taps
	python3 iproute2 iputils-ping
	# benchmarks (the anchor), and tests/nested on hosts without /dev/kvm
	qemu-system-x86 kmod
)

if [ "$(id -u)" -ne 0 ]; then
	echo "bootstrap: must run as root (apt-get install)" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
