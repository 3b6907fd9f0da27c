#!/bin/bash
# README command 2: installs what vmm needs, builds it twice (release, and debug with ASan and
# UBSan), builds the test guest, and runs every test in both builds. .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
cmake --build build --target guest

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVMM_SANITIZE=ON \
	-DVMM_GUEST_DIR="$PWD/build/guest" >/dev/null
cmake --build build-asan -j"$jobs"

status=0
echo "=== release build: every test ==="
(cd build && ctest --output-on-failure -j"$jobs") || status=1
echo "=== debug build with ASan and UBSan: every test ==="
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure -j"$jobs") || status=1
exit $status
