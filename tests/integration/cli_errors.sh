#!/bin/bash
# What a user sees for bad input: one clear line and exit 2 (or 1 for a host problem), never a
# crash. Needs no KVM: the input is checked before /dev/kvm is opened.
. "$(dirname "$0")/lib.sh"

# expect CODE REGEX ARGS...: runs vmm, checks its exit code and that stderr matches REGEX.
expect() {
	local want=$1 re=$2
	shift 2
	timeout 30 "$VMM" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	local code=$?
	check "vmm $* -> exit $want (got $code)" [ "$code" -eq "$want" ]
	check "vmm $* -> stderr matches /$re/" grep -Eq -- "$re" "$WORK/err"
	check "vmm $* -> no sanitizer report or crash" \
		bash -c "! grep -Eq 'AddressSanitizer|runtime error|Segmentation' '$WORK/err'"
}

timeout 10 "$VMM" --help >"$WORK/help" 2>&1
check "--help exits 0" [ $? -eq 0 ]
check "--help shows vmm run usage" grep -q 'vmm run' "$WORK/help"
timeout 10 "$VMM" --version >"$WORK/version" 2>&1
check "--version exits 0" [ $? -eq 0 ]
check "--version prints the version" grep -Eq '^vmm [0-9]+\.[0-9]+\.[0-9]+' "$WORK/version"

expect 2 'unknown' run --frobnicate
expect 2 'config' run --config "$WORK/missing.toml"

printf '[vm]\ncpus = 2\nmemory_mib = "lots"\n' >"$WORK/vm.toml"
expect 2 "^$WORK/vm.toml:3:14: " run --config "$WORK/vm.toml"
printf '[vm]\ncpus = 2\ncolour = "blue"\n' >"$WORK/vm.toml"
expect 2 "^$WORK/vm.toml:3:1: .*colour" run --config "$WORK/vm.toml"
printf '[vm]\ncpus = 2\ncpus = 3\n' >"$WORK/vm.toml"
expect 2 "^$WORK/vm.toml:3:1: .*cpus" run --config "$WORK/vm.toml"
printf '[vm\n' >"$WORK/vm.toml"
expect 2 "^$WORK/vm.toml:1:" run --config "$WORK/vm.toml"

# No kernel, not a kernel, a truncated kernel, an initrd that does not fit.
expect 2 'no kernel' run --memory 64
head -c 4096 /dev/urandom >"$WORK/random.bin"
expect 2 'not a Linux kernel' run --kernel "$WORK/random.bin" --memory 64
expect 2 'cannot read the kernel' run --kernel "$WORK/nonexistent" --memory 64
if [ -n "${TINY_DIR:-}" ] && [ -f "$TINY_DIR/hello_pvh.elf" ]; then
	head -c 200 "$TINY_DIR/hello_pvh.elf" >"$WORK/truncated.elf"
	expect 2 'truncated' run --kernel "$WORK/truncated.elf" --memory 64
	truncate -s 80M "$WORK/big.initrd"
	expect 2 'initrd' run --kernel "$TINY_DIR/hello_pvh.elf" --initrd "$WORK/big.initrd" \
		--memory 64
	expect 2 'more than this host has' run --kernel "$TINY_DIR/hello_pvh.elf" \
		--memory 100000000
	expect 2 'memory' run --kernel "$TINY_DIR/hello_pvh.elf" --memory 16
	expect 2 'cpus' run --kernel "$TINY_DIR/hello_pvh.elf" --cpus 0
	expect 2 'disk .*No such file' run --kernel "$TINY_DIR/hello_pvh.elf" \
		--disk "$WORK/no-such.img"
	truncate -s 1000 "$WORK/odd.img"
	expect 2 'not a whole number of 512-byte sectors' run --kernel "$TINY_DIR/hello_pvh.elf" \
		--disk "$WORK/odd.img"
	if [ ! -e /dev/kvm ]; then
		expect 1 'no /dev/kvm' run --kernel "$TINY_DIR/hello_pvh.elf" --memory 64
	fi
else
	fail "tiny guests not built (TINY_DIR=${TINY_DIR:-unset})"
fi

finish
