#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The fuzz layer of `make test` (tests/run.sh fuzz): builds every fuzzer and
# runs each for a few seconds (FUZZ_SECONDS, default 5; about 40 s in all).
# Ends with "fuzz: N passed, N failed"; non-zero exit on any failure.
#
# Without clang's libFuzzer runtime nothing could be tested: that is a failure
# (named, with the packages to install), never a silent skip.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

cc=${FUZZ_CC:-clang}
probe=$(mktemp -d /tmp/latebind-fuzz-probe.XXXXXX)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' \
	>"$probe/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" \
	>"$probe/log" 2>&1; then
	echo "FAIL - fuzz toolchain: $cc cannot link -fsanitize=fuzzer,address,undefined" \
		"(Debian: clang-14 and libclang-rt-14-dev):"
	sed 's/^/    /' "$probe/log" | head -n 5
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

if ! make --no-print-directory -j"$(nproc)" fuzz-build >"$probe/build" 2>&1; then
	echo "FAIL - fuzz build: make fuzz-build failed:"
	grep -E 'error|Error' "$probe/build" | head -n 20 | sed 's/^/    /'
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

rm -rf "$probe"
trap - EXIT
FUZZ_SECONDS=${FUZZ_SECONDS:-5} exec tests/fuzz/run.sh "$@"
