#!/bin/bash
# Block device benchmark (not a test): virtio-blk in its vmm-device process, driven by the device
# harness (tests/harness/blk_bench: no KVM, no guest kernel), beside fio on the same file with
# the same pattern in the same run. Both go through the page cache (fio --direct=0
# --invalidate=0; the device preadv/pwritev's an image opened without O_DIRECT), so this measures
# the request path, not the disk. The harness and the device are two processes (two CPUs busy);
# fio is one, and libaio on buffered files completes at submit, so its queue depth is nominal.
#
#   tests/bench/blk.sh [-b BUILD_DIR] [-s SIZE_MIB] [-t SECONDS]
#
# Prints a Markdown table: 4 KiB random reads at queue depth 32, 1 MiB sequential reads and
# writes at depth 4, and the ratio device / fio; then what one device process costs: spawn ->
# HELLO answered, and its memory (/proc/PID/smaps_rollup) after HELLO and after 1000 reads.
# The image lives in /var/tmp (SIZE_MIB, default 1024) and is removed at the end.
set -euo pipefail

BUILD=build
SIZE=1024
SECS=8
while getopts "b:s:t:" o; do
	case $o in
	b) BUILD=$OPTARG ;;
	s) SIZE=$OPTARG ;;
	t) SECS=$OPTARG ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-s SIZE_MIB] [-t SECONDS]" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")/../.."
BENCH=$BUILD/tests/harness/blk_bench
export VMM_DEVICE_BIN=$BUILD/vmm-device
for f in "$BENCH" "$VMM_DEVICE_BIN"; do
	[ -x "$f" ] || { echo "blk.sh: missing $f (build first: cmake --build $BUILD)" >&2; exit 1; }
done
if ! command -v fio >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio >/dev/null
	else
		echo "blk.sh: fio is missing (apt-get install fio)" >&2
		exit 1
	fi
fi

IMG=$(mktemp /var/tmp/vmm-blk-bench.XXXXXX)
trap 'rm -f "$IMG"' EXIT
# Real data, not a sparse file: reads must copy pages, not map the zero page.
dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE" status=none
sync "$IMG"

# fio_run RW BS QD: "iops mibps" of fio on the image.
fio_run() {
	fio --name=bench --filename="$IMG" --rw="$1" --bs="$2" --iodepth="$3" \
		--ioengine=libaio --direct=0 --invalidate=0 --time_based --runtime="$SECS" \
		--output-format=terse --terse-version=3 |
		awk -F';' '{ if ($8 > 0) print $8, $7 / 1024; else print $49, $48 / 1024 }'
}

# dev_run MODE BS QD: "iops mibps" of the device on the image.
dev_run() {
	"$BENCH" io "$IMG" "$1" "$2" "$3" "$SECS" |
		sed -n 's/^iops=\([0-9.]*\) mibps=\([0-9.]*\) errors=0$/\1 \2/p'
}

# row LABEL UNIT DEV_MODE FIO_RW BS QD
row() {
	local d f
	d=$(dev_run "$3" "$5" "$6")
	f=$(fio_run "$4" "$5" "$6")
	[ -n "$d" ] && [ -n "$f" ] || { echo "blk.sh: a run failed ($1)" >&2; exit 1; }
	echo "$d $f" | awk -v label="$1" -v unit="$2" '{
		if (unit == "IOPS") { dv = $1; fv = $3; fmt = "%.0f" } else { dv = $2; fv = $4; fmt = "%.0f" }
		printf "| %s | " fmt " %s | " fmt " %s | %.2f |\n", label, dv, unit, fv, unit, dv / fv }'
}

echo "Block path on a ${SIZE} MiB file in /var/tmp, ${SECS} s per run, $(nproc) CPUs, $(uname -r)"
echo
echo "| workload | vmm-device (harness) | fio libaio, buffered | device / fio |"
echo "|---|---|---|---|"
row "4 KiB random read, QD 32" IOPS randread randread 4096 32
row "1 MiB sequential read, QD 4" MiB/s read read 1048576 4
row "1 MiB sequential write, QD 4" MiB/s write write 1048576 4

SPAWN=$("$BENCH" spawn "$IMG" 20)
val() { echo "$SPAWN" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo
echo "| one block device process | |"
echo "|---|---|"
echo "| spawn -> HELLO answered, median of 20 (min) |" \
	"$(val hello_us_median) us ($(val hello_us_min) us) |"
echo "| after HELLO: Pss / Private / Rss | $(val pss_kb) / $(val private_kb) / $(val rss_kb) kB |"
echo "| after 1000 reads: Pss / Private | $(val pss_active_kb) / $(val private_active_kb) kB |"
