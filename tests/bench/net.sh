#!/bin/bash
# Network benchmark (not a test): virtio-net in its vmm-device process, jailed as main jails it,
# driven by the device harness (tests/harness/net_bench: no KVM, no guest kernel), beside this
# host reading and writing the same tap directly (the ceiling), in the same run.
#
#   tests/bench/net.sh [-b BUILD_DIR] [-t SECONDS] [-n RUNS] [-u]
#
# tx: frames on the tx ring -> the device writes them to the tap; ceiling: net_bench writes the
# same frames (vnet header first) to the tap fd. rx: frames sent on the tap's interface -> the
# device reads them onto the rx ring -> net_bench takes them back; ceiling: net_bench reads them
# from the tap fd. The far side is an AF_PACKET socket on the tap's interface in both. Frames
# of 64 and 1514 bytes, and 64 KiB TCP GSO frames in the directions whose offload the device
# offers (HOST_TSO4 for tx, GUEST_TSO4 for rx; the others are skipped, saying so).
#
# Everything runs in a network namespace made here (a tap with 169.254.77.1/24, IPv6 off; the
# frames go to MACs nobody has), removed on exit. Needs root. -u: the device unjailed.
# Each side runs RUNS times (default 3) for SECONDS (default 5), dev and tap alternating; the
# table has the medians: frames/s, Gbit/s of Ethernet frame bytes, the ratio device / tap.
# With the device, two processes share the work (harness and device, on 2 CPUs here); the
# ceiling is one process doing both ends, so a small frame's ratio can exceed 1.
set -euo pipefail

BUILD=build
SECS=5
RUNS=3
JAIL=1
while getopts "b:t:n:u" o; do
	case $o in
	b) BUILD=$OPTARG ;;
	t) SECS=$OPTARG ;;
	n) RUNS=$OPTARG ;;
	u) JAIL=0 ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-t SECONDS] [-n RUNS] [-u]" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")/../.."
BENCH=$(realpath -m "$BUILD/tests/harness/net_bench")
export VMM_DEVICE_BIN
VMM_DEVICE_BIN=$(realpath -m "$BUILD/vmm-device")
for f in "$BENCH" "$VMM_DEVICE_BIN"; do
	[ -x "$f" ] || { echo "net.sh: missing $f (build first: cmake --build $BUILD)" >&2; exit 1; }
done
[[ $SECS =~ ^[0-9]*\.?[0-9]+$ && $RUNS =~ ^[1-9][0-9]*$ ]] && awk -v s="$SECS" 'BEGIN { exit !(s > 0) }' ||
	{ echo "net.sh: SECONDS > 0 and RUNS >= 1, please" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "net.sh: needs root (a network namespace and a tap)" >&2; exit 1; }
if [ "$JAIL" = 1 ]; then
	export VMM_HARNESS_JAIL=1 VMM_POLICY_DIR=$PWD/policies/x86_64
else
	unset VMM_HARNESS_JAIL VMM_HARNESS_LEARN
fi

NS=vmm-net-bench-$$
TAP=vmmbench0
cleanup() {
	ip -n "$NS" link del "$TAP" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ns ip tuntap add dev "$TAP" mode tap vnet_hdr
ns ip addr add 169.254.77.1/24 dev "$TAP"
ns ip link set "$TAP" up

FEATURES=$(ns "$BENCH" features "$TAP" | sed -n 's/^features=//p')
[ -n "$FEATURES" ] || { echo "net.sh: the net device did not start" >&2; exit 1; }
offered() { (((FEATURES >> $1) & 1)); }

# one DIR SIDE SIZE: "fps lost" of one run, nothing when it failed or moved no frame.
one() {
	ns "$BENCH" "$1" "$2" "$TAP" "$3" "$SECS" |
		sed -n 's/^fps=\([0-9.]*\) gbps=[0-9.]* frames=[1-9][0-9]* lost=\([0-9]*\) bad=0$/\1 \2/p'
}

# row LABEL DIR SIZE: RUNS runs of each side, alternating; medians, Gbit/s from the frame size.
row() {
	local d t i all=""
	for ((i = 0; i < RUNS; i++)); do
		d=$(one "$2" dev "$3")
		t=$(one "$2" tap "$3")
		[ -n "$d" ] && [ -n "$t" ] || { echo "net.sh: a run failed ($1)" >&2; exit 1; }
		all+="$d $t"$'\n'
	done
	printf '%s' "$all" | awk -v label="$1" -v size="$3" '
		{ d[NR] = $1; dl += $2; t[NR] = $3; tl += $4; r = $1 / $3
		  lo = (NR == 1 || r < lo) ? r : lo; hi = (NR == 1 || r > hi) ? r : hi }
		function median(a, n,   i, j, x) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		END {
			md = median(d, NR); mt = median(t, NR)
			lost = (dl + tl > 0) ? sprintf(" (lost: %d / %d)", dl, tl) : ""
			printf "| %s | %.0f k/s, %.2f Gbit/s | %.0f k/s, %.2f Gbit/s | %.2f (%.2f-%.2f)%s |\n",
				label, md / 1000, md * size * 8 / 1e9, mt / 1000, mt * size * 8 / 1e9,
				md / mt, lo, hi, lost
		}'
}

GSO=65214 # 14 + 20 + 20 + 45 * 1448: a TSO frame of 45 MSS-sized segments
SKIPPED=()
# The feature bits a direction's TSO row needs (virtio 1.2, 5.1.3).
declare -A CSUM=([tx]=0 [rx]=1) TSO4=([tx]=11 [rx]=7)
declare -A NAMES=([tx]="CSUM + HOST_TSO4" [rx]="GUEST_CSUM + GUEST_TSO4")
echo "Net path on a tap in a private namespace, median of $RUNS runs of ${SECS} s," \
	"$(nproc) CPUs, $(uname -r), device $([ "$JAIL" = 1 ] && echo jailed || echo unjailed)," \
	"features $FEATURES"
echo
echo "| direction, frame | vmm-device (harness) | tap fd (ceiling) | device / tap (range of runs) |"
echo "|---|---|---|---|"
for dir in tx rx; do
	row "$dir, 64 B" $dir 64
	row "$dir, 1514 B" $dir 1514
	if offered "${CSUM[$dir]}" && offered "${TSO4[$dir]}"; then
		row "$dir, 64 KiB TSO" $dir $GSO
	else
		SKIPPED+=("$dir 64 KiB TSO: the device offers no ${NAMES[$dir]}")
	fi
done
for s in "${SKIPPED[@]}"; do
	echo
	echo "Skipped: $s."
done
