#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs the named test layers (unit, bpf, lab, fuzz) in order, adds up what each
# reported and closes with one "N passed, N failed" line, or "N passed, N failed,
# N skipped" when a layer skipped tests. Exits non-zero if any test failed or a
# layer could not run at all.
#
# A layer may skip only what tests/README.md says needs root, and only when not
# run as root: as root (make test, CI) every skip counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

# Check's per-test limit where a suite sets none (its default is 4 s): a bound
# that only stops a hung test; a loaded machine must not turn it into a failure.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}

total_pass=0
total_fail=0
total_skip=0
broken=()

# Check prints "NN%: Checks: C, Failures: F, Errors: E".
count_check() {
	local line c f e
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$1" | tail -n 1)
	[[ -n $line ]] || return 1
	c=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
	f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
	e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
	total_pass=$((total_pass + c - f - e))
	total_fail=$((total_fail + f + e))
	count_skips "$1"
}

# "LAYER: N skipped (why)" (unit), or the end of "LAYER: N passed, N failed, N
# skipped" (fuzz).
count_skips() {
	local n
	n=$(sed -nE 's/^[a-z]+: ([0-9]+ passed, [0-9]+ failed, )?([0-9]+) skipped.*/\2/p' "$1" |
		awk '{ s += $1 } END { print s + 0 }')
	total_skip=$((total_skip + n))
}

# The lab runner prints "lab: N passed, N failed".
count_plain() {
	local line
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	[[ -n $line ]] || return 1
	total_pass=$((total_pass + $(sed -E 's/^[a-z]+: ([0-9]+) passed.*/\1/' <<<"$line")))
	total_fail=$((total_fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
	count_skips "$1"
}

if ((EUID != 0)); then
	echo "tests: the bpf and lab layers load BPF programs and create network namespaces;" >&2
	echo "tests: run 'make test' as root" >&2
fi

for layer in "$@"; do
	log=$(mktemp)
	echo "=== $layer tests ==="
	case $layer in
	unit) build/tests/unit_tests 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}; counter=count_check ;;
	bpf) build/tests/bpf_tests 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}; counter=count_check ;;
	lab) tests/lab/run.sh 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}; counter=count_plain ;;
	fuzz) tests/fuzz/run-short.sh 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}; counter=count_plain ;;
	*) echo "unknown layer $layer" >&2; exit 2 ;;
	esac
	if ! $counter "$log"; then
		broken+=("$layer")
		echo "tests: the $layer layer did not report its results (exit $rc)"
	elif ((rc != 0)) && ((total_fail == 0)); then
		broken+=("$layer")
		echo "tests: the $layer layer exited $rc"
	fi
	rm -f "$log"
done

((${#broken[@]})) && echo "tests: layers that did not run cleanly: ${broken[*]}"
if ((total_skip && EUID == 0)); then
	echo "tests: $total_skip skipped as root, where nothing may be: counted as failed"
	total_fail=$((total_fail + total_skip))
	total_skip=0
fi
if ((total_skip)); then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
((total_fail == 0 && ${#broken[@]} == 0))
