#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs the named test layers (unit, bpf, lab, fuzz) in order, adds up what each
# reported and closes with one "N passed, N failed" line. Exits non-zero if any
# test failed or a layer could not run at all.
set -uo pipefail
cd "$(dirname "$0")/.."

total_pass=0
total_fail=0
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
}

# The lab runner prints "lab: N passed, N failed".
count_plain() {
	local line
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	[[ -n $line ]] || return 1
	total_pass=$((total_pass + $(sed -E 's/^[a-z]+: ([0-9]+) passed.*/\1/' <<<"$line")))
	total_fail=$((total_fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
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
echo "$total_pass passed, $total_fail failed"
((total_fail == 0 && ${#broken[@]} == 0))
