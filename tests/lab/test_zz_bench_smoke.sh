# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The benchmark harness does not rot: `bench/run.sh --quick` (tiny durations,
# one round of every section: direct / latebind / HAProxy over HTTP, the XDP
# floods, a small routing directory) runs to the end on a lab of its own, with
# its own namespace prefix next to this one, writes its report, and leaves
# nothing behind. No figure is asserted: benchmarks are not tests.
# Replay mode is measured next to cookie mode, connection setup only.
# Runs last (zz), and needs wrk and haproxy (make deps installs both).

bench_prefix=${LAB_PREFIX:0:7}b
bench_out=$LAB_ROOT/build/bench-smoke-$bench_prefix
bench_log=$bench_out/run.log
report=$bench_out/quick.md
# A report left by an earlier run must not pass for this one's.
rm -f "$report" "$bench_log"
mkdir -p "$bench_out"

bench_rc=0
LB_LAB_PREFIX=$bench_prefix BENCH_OUT=$bench_out timeout -k 10 110 \
	"$LAB_ROOT/bench/run.sh" --quick >"$bench_log" 2>&1 || bench_rc=$?
check_eq "bench smoke: bench/run.sh --quick exits 0 (log: $bench_log)" 0 "$bench_rc"
if ((bench_rc != 0)); then tail -n 15 "$bench_log" | sed 's/^/#   /'; fi

check "bench smoke: the report $report was written" test -s "$report"

# Every mode measured something in every workload: a number in each column.
for workload in "(a) new connection per request, 1 KiB | requests/s" \
	"(b) keep-alive, 1 KiB | requests/s" "in parallel, both clients | MB/s"; do
	row=$(grep -F "$workload" "$report" 2>/dev/null | head -n 1)
	check_match "bench smoke: ${workload%% |*}: a figure for direct, latebind and HAProxy" \
		'^\| [^|]+\| [^|]+\| [0-9.]+ / [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ / [0-9.]+ \|$' \
		"$row"
done
check_match "bench smoke: no request failed in any mode" \
	'direct 0; latebind 0; haproxy 0\.' "$(cat "$report" 2>/dev/null)"
# Replay mode next to cookie mode: figures in all three columns, no error.
for workload in "time to first byte, p50 µs" "(a) new connection per request, 1 KiB | requests/s"; do
	row=$(sed -n '/^### Connection setup/,/^### Ratios/p' "$report" 2>/dev/null | grep -F "$workload" | head -n 1)
	check_match "bench smoke: replay mode: ${workload%% |*}: a figure for direct, cookie and replay" \
		'^\| [^|]+\| [^|]+\| [0-9.]+ / [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ / [0-9.]+ \|$' \
		"$row"
done
check_match "bench smoke: replay mode: no request failed" \
	'Errors in replay mode, summed over rounds: 0\.' "$(cat "$report" 2>/dev/null)"
check_match "bench smoke: the XDP section measured the fast path" \
	'latebind: fast path, bound flow → backend[^|]*\| [0-9]+ / ' "$(cat "$report" 2>/dev/null)"
check_match "bench smoke: the decisions section made no wrong decision" \
	'decisions wrong: 0\.' "$(cat "$report" 2>/dev/null)"
check_eq "bench smoke: the bench lab ($bench_prefix) is gone" "" \
	"$(ip netns list | awk -v p="$bench_prefix-" 'index($1, p) == 1 { print $1 }')"
check "bench smoke: its run dir is gone" test ! -e "/run/latebind-lab-$bench_prefix"
