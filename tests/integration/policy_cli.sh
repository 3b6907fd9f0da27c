#!/bin/bash
# `vmm policy check` and `vmm policy audit` on policy files made here: the exact lines a user
# sees for good files, errors at their position, warnings, and a device's effective allow-list
# with its includes resolved (table and JSON). Needs no KVM.
. "$(dirname "$0")/lib.sh"

P=$WORK/policies
mkdir -p "$P"

# run CODE ARGS...: runs vmm with stdout in $WORK/out and stderr in $WORK/err; checks the code.
run() {
	local want=$1
	shift
	timeout 30 "$VMM" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	local code=$?
	check "vmm $* -> exit $want (got $code)" [ "$code" -eq "$want" ]
	check "vmm $* -> no sanitizer report or crash" \
		bash -c "! grep -Eq 'AddressSanitizer|runtime error|Segmentation' '$WORK/err'"
}

# same WHAT FILE TEXT: FILE holds exactly TEXT (give '' for an empty file).
same() {
	local what=$1 file=$2 want=$3
	if [ "$(cat "$file")" == "$want" ]; then
		pass "$what"
	else
		fail "$what"
		diff -u <(printf '%s\n' "$want") "$file" | sed 's/^/    /'
	fi
}

# ---- check ----

printf '# stdout only\nwrite: arg0 == 1\nexit_group: 1\n' >"$WORK/good.policy"
run 0 policy check "$WORK/good.policy"
same "good file: ok" "$WORK/out" "$WORK/good.policy: ok (2 syscalls)"
same "good file: nothing on stderr" "$WORK/err" ''

printf 'read: 1\nwrite: arg0 == \n' >"$WORK/syntax.policy"
run 1 policy check "$WORK/syntax.policy"
same "syntax error: nothing on stdout" "$WORK/out" ''
same "syntax error: its position" "$WORK/err" \
	"$WORK/syntax.policy:2:16: expected a number or a constant"

printf 'read: 1\n# not a syscall\n  frobnicate: 1\n' >"$WORK/unknown.policy"
run 1 policy check "$WORK/unknown.policy"
same "unknown syscall: its position" "$WORK/err" \
	"$WORK/unknown.policy:3:3: unknown syscall 'frobnicate'"

printf 'read: 1\n@include loop_b.policy\n' >"$WORK/loop_a.policy"
printf '@include   loop_a.policy\n' >"$WORK/loop_b.policy"
run 1 policy check "$WORK/loop_a.policy"
same "include loop: reported at the @include closing it" "$WORK/err" \
	"$WORK/loop_b.policy:1:12: include loop: '$WORK/loop_a.policy' is already being read"

printf 'read: 1\nwrite: arg0 == 2\n\nread: 1\nwrite: arg0 == 2\n' >"$WORK/dup.policy"
run 0 policy check "$WORK/dup.policy"
same "duplicates: still ok" "$WORK/out" "$WORK/dup.policy: ok (2 syscalls)"
same "duplicates: a warning each, at its position" "$WORK/err" \
	"$WORK/dup.policy:4:1: warning: duplicate rule for 'read' (also at $WORK/dup.policy:1)
$WORK/dup.policy:5:1: warning: duplicate condition for 'write' (also at $WORK/dup.policy:2)"

# Several files: each is checked, one bad file makes the status 1.
run 1 policy check "$WORK/good.policy" "$WORK/missing.policy" "$WORK/dup.policy"
same "several files: the good ones are ok" "$WORK/out" \
	"$WORK/good.policy: ok (2 syscalls)
$WORK/dup.policy: ok (2 syscalls)"
check "several files: the missing one is named" \
	grep -qxF "$WORK/missing.policy:0:0: cannot read: No such file or directory" "$WORK/err"

# ---- audit ----

cat >"$P/common_device.policy" <<'EOF'
# Shared by every device.

# log lines on stderr (common/log.c)
write: arg0 == 2
# the tube loop: "ctrl" \ "mem"
read: 1
EOF
cat >"$P/block.policy" <<'EOF'
@include common_device.policy

# disk I/O (devices/blk.c)
# the only way to the image
pread64: 1
# isatty() of the log
ioctl: arg1 == TCGETS || arg1 == 0x5402 && arg0 == 2
mmap: arg2 in ~PROT_EXEC && arg3 & MAP_SHARED
# nothing is opened by path
openat: return EPERM
prctl: arg0 == PR_SET_NAME
EOF
cat >"$P/rng.policy" <<'EOF'
@include common_device.policy
# the guest's entropy
getrandom: arg2 <= 1
EOF

BLOCK_TABLE="block ($P/block.policy, 7 syscalls)
  SYSCALL  CONDITION                                      DEFINED AT              WHY
  ioctl    arg1 == 0x5401 || arg1 == 0x5402 && arg0 == 2  block.policy:7          isatty() of the log
  mmap     arg2 in 0xfffffffffffffffb && arg3 & 1         block.policy:8          -
  openat   return EPERM                                   block.policy:10         nothing is opened by path
  prctl    arg0 == 0xf                                    block.policy:11         -
  pread64  always                                         block.policy:5          disk I/O (devices/blk.c) / the only way to the image
  read     always                                         common_device.policy:6  the tube loop: \"ctrl\" \\ \"mem\"
  write    arg0 == 2                                      common_device.policy:4  log lines on stderr (common/log.c)"
RNG_TABLE="rng ($P/rng.policy, 3 syscalls)
  SYSCALL    CONDITION  DEFINED AT              WHY
  getrandom  arg2 <= 1  rng.policy:3            the guest's entropy
  read       always     common_device.policy:6  the tube loop: \"ctrl\" \\ \"mem\"
  write      arg0 == 2  common_device.policy:4  log lines on stderr (common/log.c)"

run 0 policy audit block --policy-dir "$P"
same "audit block: the table" "$WORK/out" "$BLOCK_TABLE"
same "audit block: nothing on stderr" "$WORK/err" ''

# Every device by default, sorted, common_device left out; the directory from the environment.
VMM_POLICY_DIR=$P run 0 policy audit
same "audit: every device" "$WORK/out" "$BLOCK_TABLE

$RNG_TABLE"

run 0 policy audit --json --policy-dir="$P" rng block
check "audit --json: one JSON document" \
	python3 -c 'import json,sys; json.load(sys.stdin)' <"$WORK/out"
cat >"$WORK/fields.py" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
devs = doc["devices"]
rows = {d["device"]: {s["name"]: s for s in d["syscalls"]} for d in devs}
print([d["device"] for d in devs])
print([s["name"] for s in devs[1]["syscalls"]])
print(devs[1]["file"] == sys.argv[2] + "/block.policy")
for name in ("read", "ioctl", "openat"):
    s = rows["block"][name]
    print(s["name"], s["condition"], s["action"], s["errno"], s["defined_at"], s["why"])
print(rows["rng"]["getrandom"])
EOF
python3 "$WORK/fields.py" "$WORK/out" "$P" >"$WORK/fields" 2>&1
same "audit --json: the fields" "$WORK/fields" \
	"['rng', 'block']
['ioctl', 'mmap', 'openat', 'prctl', 'pread64', 'read', 'write']
True
read always allow None common_device.policy:6 the tube loop: \"ctrl\" \\ \"mem\"
ioctl arg1 == 0x5401 || arg1 == 0x5402 && arg0 == 2 allow None block.policy:7 isatty() of the log
openat return EPERM errno 1 block.policy:10 nothing is opened by path
{'name': 'getrandom', 'condition': 'arg2 <= 1', 'action': 'allow', 'errno': None, 'defined_at': 'rng.policy:3', 'why': \"the guest's entropy\"}"

run 1 policy audit net --policy-dir "$P"
same "audit of an unknown device" "$WORK/err" "vmm: policy audit: no policy for device 'net' in $P"
same "audit of an unknown device: nothing on stdout" "$WORK/out" ''
run 1 policy audit --policy-dir "$WORK/nonexistent"
same "audit of a missing directory" "$WORK/err" \
	"vmm: policy audit: --policy-dir $WORK/nonexistent: not a directory"

printf '@include common_device.policy\nread: arg0 ==\n' >"$P/bad.policy"
run 1 policy audit --policy-dir "$P"
same "audit of a broken device: its error" "$WORK/err" "$P/bad.policy:2:14: expected a number or a constant"
same "audit of a broken device: no half output" "$WORK/out" ''
rm "$P/bad.policy"

# ---- usage ----

run 2 policy
check "no verb: says so" grep -qxF "vmm: policy: no verb given" "$WORK/err"
check "no verb: the usage" grep -qF "usage: vmm policy check FILE..." "$WORK/err"
run 0 policy --help
for verb in "check FILE..." "audit [DEVICE...] [--json] [--policy-dir DIR]" \
	"learn --config vm.toml [--seconds N]"; do
	check "policy --help shows 'vmm policy $verb'" grep -qF "vmm policy $verb" "$WORK/out"
done
run 0 --help
check "vmm --help lists vmm policy audit" grep -qF "vmm policy audit [DEVICE...]" "$WORK/out"
run 2 policy frob
same "unknown verb" "$WORK/err" "vmm: policy: unknown verb 'frob' (try 'vmm policy --help')"
run 2 policy check
same "check without files" "$WORK/err" \
	"vmm: policy check: no files given (vmm policy check FILE...)"
run 2 policy check --strict "$WORK/good.policy"
same "check with an unknown option" "$WORK/err" \
	"vmm: policy check: unknown option '--strict' (try 'vmm policy --help')"
same "check with an unknown option: nothing checked" "$WORK/out" ''
run 2 policy audit --yaml --policy-dir "$P"
same "audit with an unknown option" "$WORK/err" \
	"vmm: policy audit: unknown option '--yaml' (try 'vmm policy --help')"
run 2 policy audit --policy-dir
same "audit --policy-dir without its value" "$WORK/err" \
	"vmm: policy audit: --policy-dir: missing value (--policy-dir DIR)"

finish
