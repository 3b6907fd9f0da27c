#!/bin/bash
# Network benchmark (not a test): virtio-net in its vmm-device process, jailed as main jails it,
# driven by the device harness (tests/harness/net_bench: no KVM, no guest kernel), beside this
# host reading and writing the same tap directly (the ceiling), in the same run.
#
#   tests/bench/net.sh [-b BUILD_DIR] [-t SECONDS] [-u]
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
# Prints a Markdown table: frames/s and Gbit/s (Ethernet frame bytes) and the ratio device / tap.
set -euo pipefail

BUILD=build
SECS=5
JAIL=1
while getopts "b:t:u" o; do
	case $o in
	b) BUILD=$OPTARG ;;
	t) SECS=$OPTARG ;;
	u) JAIL=0 ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-t SECONDS] [-u]" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")/../.."
BENCH=$(realpath -m "$BUILD/tests/harness/net_bench")
export VMM_DEVICE_BIN
VMM_DEVICE_BIN=$(realpath -m "$BUILD/vmm-device")
for f in "$BENCH" "$VMM_DEVICE_BIN"; do
	[ -x "$f" ] || { echo "net.sh: missing $f (build first: cmake --build $BUILD)" >&2; exit 1; }
done
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

# one DIR SIDE SIZE: "fps gbps" of one run.
one() {
	local out
	out=$(ns "$BENCH" "$1" "$2" "$TAP" "$3" "$SECS")
	echo "$out" | sed -n 's/^fps=\([0-9.]*\) gbps=\([0-9.]*\) frames=[0-9]* lost=\([0-9]*\) bad=0$/\1 \2 \3/p'
}

# row LABEL DIR SIZE
row() {
	local d t
	d=$(one "$2" dev "$3")
	t=$(one "$2" tap "$3")
	[ -n "$d" ] && [ -n "$t" ] || { echo "net.sh: a run failed ($1)" >&2; exit 1; }
	echo "$d $t" | awk -v label="$1" '{
		lost = ($3 + $6 > 0) ? sprintf(" (lost: %d / %d)", $3, $6) : ""
		printf "| %s | %.0f k/s, %.2f Gbit/s | %.0f k/s, %.2f Gbit/s | %.2f%s |\n",
			label, $1 / 1000, $2, $4 / 1000, $5, $1 / $4, lost }'
}

GSO=65214 # 14 + 20 + 20 + 45 * 1448: a TSO frame of 45 MSS-sized segments
SKIPPED=()
echo "Net path on a tap in a private namespace, ${SECS} s per run, $(nproc) CPUs, $(uname -r)," \
	"device $([ "$JAIL" = 1 ] && echo jailed || echo unjailed), features $FEATURES"
echo
echo "| direction, frame | vmm-device (harness) | tap fd (ceiling) | device / tap |"
echo "|---|---|---|---|"
row "tx, 64 B" tx 64
row "tx, 1514 B" tx 1514
if offered 0 && offered 11; then
	row "tx, 64 KiB TSO" tx $GSO
else
	SKIPPED+=("tx 64 KiB TSO: the device offers no CSUM + HOST_TSO4")
fi
row "rx, 64 B" rx 64
row "rx, 1514 B" rx 1514
if offered 1 && offered 7; then
	row "rx, 64 KiB TSO" rx $GSO
else
	SKIPPED+=("rx 64 KiB TSO: the device offers no GUEST_CSUM + GUEST_TSO4")
fi
for s in "${SKIPPED[@]}"; do
	echo
	echo "Skipped: $s."
done
