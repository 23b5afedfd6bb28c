#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs built fuzzers (build/fuzz/fuzz_NAME), each for FUZZ_SECONDS, each one
# test: "ok - fuzz NAME (N runs, R/s)" or "FAIL - fuzz NAME: why", closing
# with "fuzz: N passed, N failed" ("..., N skipped" when not root: xdp and tc
# load BPF programs, README.md). Exits non-zero if one failed.
#
#   tests/fuzz/run.sh [NAME...]        default: every fuzzer
#   FUZZ_SECONDS=600                   per fuzzer (default 60)
#   FUZZ_CORPUS_OUT=DIR                keep what the fuzzers find in DIR/NAME
#                                      (default: a temporary directory, removed)
#   LB_FUZZ_STRICT=1                   known open bugs fail too (README.md)
#
# The committed seeds under tests/fuzz/corpus/NAME are only read: libFuzzer
# writes new units to the first corpus directory, which is never the repo's.
# A failing input is saved as build/fuzz/crashes/NAME-crash-<sha1>.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

secs=${FUZZ_SECONDS:-60}
all=(http config directory dispatcher peer redirect xdp tc)
names=("$@")
((${#names[@]})) || names=("${all[@]}")
crashes=build/fuzz/crashes
mkdir -p "$crashes"

if [[ ${LB_FUZZ_STRICT:-0} != 0 ]]; then
	export LB_FUZZ_STRICT=1
	export UBSAN_OPTIONS=suppressions= # drop tests/fuzz/ubsan.supp (known bugs)
fi

max_len() {
	case $1 in
	http | dispatcher | redirect) echo 4096 ;;
	config) echo 8192 ;;
	directory) echo 2048 ;;
	*) echo 1600 ;;
	esac
}

pass=0
fail=0
skip=0
for name in "${names[@]}"; do
	bin=build/fuzz/fuzz_$name
	seeds=tests/fuzz/corpus/$name
	if [[ ! -x $bin ]]; then
		echo "FAIL - fuzz $name: $bin is not built (make fuzz-build)"
		fail=$((fail + 1))
		continue
	fi
	if [[ $name == xdp || $name == tc ]] && ((EUID != 0)); then
		echo "skip - fuzz $name: loads BPF programs, needs root (CI runs as root)"
		skip=$((skip + 1))
		continue
	fi
	if [[ -n ${FUZZ_CORPUS_OUT:-} ]]; then
		work=$FUZZ_CORPUS_OUT/$name
		mkdir -p "$work"
	else
		work=$(mktemp -d /tmp/latebind-fuzz-"$name".XXXXXX)
	fi
	log=$(mktemp /tmp/latebind-fuzz-"$name".log.XXXXXX)
	dict=()
	[[ -f tests/fuzz/$name.dict ]] && dict=(-dict="tests/fuzz/$name.dict")

	timeout --kill-after=10 $((secs + 120)) "$bin" -max_total_time="$secs" -rss_limit_mb=2048 \
		-timeout=10 -max_len="$(max_len "$name")" -print_final_stats=1 \
		-artifact_prefix="$crashes/$name-" "${dict[@]}" "$work" "$seeds" >"$log" 2>&1
	rc=$?

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	runs=${runs:-0}
	grep -h '^fuzz: known bug' "$log" | sort -u | sed "s/^/# $name: /"
	if ((rc == 0)); then
		echo "ok - fuzz $name ($runs runs, $((runs / (secs > 0 ? secs : 1)))/s)"
		pass=$((pass + 1))
	else
		why=$(grep -m 1 -E 'fuzz invariant broken|ERROR: |runtime error|SUMMARY|known bug' "$log")
		saved=$(sed -n "s/.*Test unit written to //p" "$log" | tail -n 1)
		echo "FAIL - fuzz $name: ${why:-exit $rc}${saved:+; input saved as $saved}"
		sed -e '/^INFO:/d' -e '/^#[0-9]/d' "$log" | grep -v '^$' | head -n 40 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
	rm -f "$log"
	[[ -n ${FUZZ_CORPUS_OUT:-} ]] || rm -rf "$work"
done

if ((skip)); then
	echo "fuzz: $pass passed, $fail failed, $skip skipped"
else
	echo "fuzz: $pass passed, $fail failed"
fi
((fail == 0))
