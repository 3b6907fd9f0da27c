#!/bin/bash
# README command 1: installs what vmm needs, builds it, builds the test guest and boots it.
# On a real KVM host the guest reaches a busybox shell (`reboot` ends the VM); on a host whose
# KVM cannot run guest userspace, the kernel boots, its init dies and the VM ends.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVMM_TEST_HOOKS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target vmm >/dev/null
cmake --build build --target guest
echo "demo: booting examples/vm.toml (Ctrl-A x quits)" >&2
exec ./build/vmm run --config examples/vm.toml "$@"
