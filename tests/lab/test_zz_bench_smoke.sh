# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The benchmark harness does not rot: `bench/run.sh --quick` (tiny durations,
# one round of every section: direct / latebind / HAProxy over HTTP, latebind
# with 1 and 2 dispatcher threads next to HAProxy nbthread 1 and 2, the XDP
# floods, a small routing directory, two balancers behind BGP and ECMP and a
# failover) runs to the end on a lab of its own, with
# its own namespace prefix next to this one, writes its report, and leaves
# nothing behind. No figure is asserted: benchmarks are not tests.
# Replay mode is measured next to cookie mode, connection setup only; the
# ceiling (bench/xdp_ceiling.bpf.c in latebind's place) the big transfers only. The
# rotated keep-alive workload (g) must have rotated, and direct and HAProxy
# must have served it without an error; latebind's errors there (a balancer
# that binds a connection once answers 404 for the other backends' objects)
# are reported and flagged, not checked.
# Runs last (zz), and needs wrk and haproxy (make deps installs both).
# The bench gets 240 s (50–60 s on a quiet machine, about twice that when it
# is shared; 117 s on a fresh clone's CI run on a 2-vCPU machine, 2026-12-03).
# Then bench/compare.sh, one round of two binaries (the same one twice) and
# HAProxy, keep-alive, 1 s each, on the same prefix: 60 s (about 20 on a quiet
# machine). The file 330:
# lab-timeout: 330

bench_prefix=${LAB_PREFIX:0:7}b
bench_out=$LAB_ROOT/build/bench-smoke-$bench_prefix
bench_log=$bench_out/run.log
report=$bench_out/quick.md
# A report left by an earlier run must not pass for this one's.
rm -f "$report" "$bench_log"
mkdir -p "$bench_out"

bench_rc=0
LB_LAB_PREFIX=$bench_prefix BENCH_OUT=$bench_out timeout -k 10 240 \
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
# What the bench logged of failed requests (kinds, the balancer's counters).
grep -E 'failed request|socket errors' "$bench_log" 2>/dev/null | sed 's/^/#   /'
# The ceiling (a plain MAC-rewriting XDP program in latebind's place): the big
# transfers' MB/s for direct, ceiling and latebind, its program's time per
# packet, the paired ratios, no error, and the goal judged.
c_rows=$(sed -n '/^### (c) 64 MiB against the ceiling/,/^Errors in the ceiling/p' "$report" 2>/dev/null)
check_match "bench smoke: ceiling: MB/s for direct, ceiling and latebind" \
	'^\| MB/s [^|]+\| [0-9.]+ / [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ / [0-9.]+ \| [0-9.]+ / [0-9.]+ / [0-9.]+ \|$' \
	"$(grep -F '| MB/s' <<<"$c_rows" | head -n 1)"
check_match "bench smoke: ceiling: XDP ns per packet of the ceiling's program and of latebind's" \
	'^\| XDP program, ns per packet \| – \| [1-9][0-9.]* / [0-9.]+ / [0-9.]+ \| [1-9][0-9.]* / [0-9.]+ / [0-9.]+ \|$' \
	"$(grep -F '| XDP program, ns per packet' <<<"$c_rows" | head -n 1)"
for ratio in "latebind / ceiling" "direct / ceiling"; do
	check_match "bench smoke: ceiling: $ratio, paired by round" \
		'\| [0-9.]+ / [0-9.]+ / [0-9.]+ \|$' "$(grep -F "$ratio" <<<"$c_rows" | head -n 1)"
done
check_match "bench smoke: ceiling: no transfer failed" 'Errors in the ceiling mode[^:]*: 0\.' "$c_rows"
check_match "bench smoke: ceiling: the goal row is judged" \
	'\| \(c\) throughput, latebind / the ceiling [^|]*\| >= 0\.95 \| [0-9.]+ \| \*\*(met|not met)\*\*' \
	"$(cat "$report" 2>/dev/null)"
check_match "bench smoke: ceiling: the round's line shows its transfers and its program's time" \
	'round 1 ceiling +big [0-9]+ MB/s \(XDP [0-9]+ ns/packet\)' "$(cat "$bench_log" 2>/dev/null)"
# (g): requests/s and p50 for every mode, under load and on one connection;
# latebind's may carry the mark of figures from a mode that served errors.
num3='[0-9.]+ / [0-9.]+ / [0-9.]+'
g_rows=$(sed -n '/^### (g)/,/^### (d)/p' "$report" 2>/dev/null)
for which in "under load|(g) each request for another backend, wrk" "one connection|(g) the same, one connection"; do
	row=$(grep -F "${which#*|}" <<<"$g_rows" | head -n 1)
	check_match "bench smoke: (g) ${which%%|*}: requests/s for direct, latebind and HAProxy" \
		"^\\| [^|]+\\| requests/s \\| $num3 \\| ${num3}[^|]* \\| $num3 \\|\$" "$row"
done
check_eq "bench smoke: (g): a p50 for every mode, under load and on one connection" 2 \
	"$(grep -F '| (g) | p50 µs' <<<"$g_rows" | grep -cE "\\| $num3 \\| ${num3}[^|]* \\| $num3 \\|\$")"
check_eq "bench smoke: (g): direct and HAProxy answered every request with a 2xx, latebind's errors counted" 2 \
	"$(grep -F '| (g) | errors' <<<"$g_rows" |
		grep -cE '\| 0 \(none\) \+ 0 of [1-9][0-9]* \| [0-9]+ \([^|]+\) \+ [0-9]+ of [1-9][0-9]* \| 0 \(none\) \+ 0 of [1-9][0-9]* \|$')"
# The workload is what it says: most requests asked for another backend than
# the one before them on their connection (the harness, not a figure).
rotated=$(grep -oE 'connections: [0-9.]+ % of [0-9]+' <<<"$g_rows" | head -n 1)
check "bench smoke: (g): the requests rotated across backends ($rotated)" \
	awk -v r="$rotated" 'BEGIN { split(r, f, " "); exit !(f[2] + 0 >= 50 && f[5] + 0 > 0) }'
check_match "bench smoke: (g): the goal row is there, judged or marked not valid" \
	'\| \(g\) [^|]+ \| >= 1\.0 \| [0-9.]+ \| \*\*(met|not met|not valid)\*\*' "$(cat "$report" 2>/dev/null)"
# Threads: latebind with 1 and 2 dispatcher threads, HAProxy nbthread 1 and 2, and
# direct (the bound), no error; the share of frames passed between latebind's
# threads; latebind / direct; the ring's own figures.
th_rows=$(sed -n '/^## Threads/,/^### HTTP: every/p' "$report" 2>/dev/null)
check_match "bench smoke: threads: new-connection requests/s for latebind 1 and 2 threads, HAProxy nbthread 1 and 2, direct" \
	"^\\| new-connection requests/s \\| $num3 \\| $num3 \\| $num3 \\| $num3 \\| $num3 \\|\$" \
	"$(grep -F "| new-connection requests/s |" <<<"$th_rows" | head -n 1)"
check_match "bench smoke: threads: balancer CPU, µs per request for latebind 1 and 2 threads, HAProxy nbthread 1 and 2 (none for direct)" \
	"^\\| balancer CPU, µs per request \\| $num3 \\| $num3 \\| $num3 \\| $num3 \\| – \\|\$" \
	"$(grep -F "| balancer CPU, µs per request |" <<<"$th_rows" | head -n 1)"
check_match "bench smoke: threads: no request failed" '^\| errors, summed over rounds \| 0 \| 0 \| 0 \| 0 \| 0 \|$' \
	"$(grep -F '| errors, summed' <<<"$th_rows")"
check_match "bench smoke: threads: the share of frames passed between latebind's threads" \
	"^\\| frames to the dispatcher, passed to another thread, % \\| $num3 \\| $num3 \\| – \\| – \\| – \\|\$" \
	"$(grep -F '| frames to the dispatcher' <<<"$th_rows")"
check_match "bench smoke: threads: latebind / direct, paired" \
	"^\\| requests/s, latebind / direct \\| $num3 \\| $num3 \\|\$" \
	"$(grep -F '| requests/s, latebind / direct |' <<<"$th_rows")"
check_match "bench smoke: threads: the ring's cost per frame" '^\| ring, one frame pushed and drained[^|]*\| [0-9.]+ \([0-9.]+\) \|$' \
	"$(grep -F '| ring, one frame' <<<"$th_rows")"
check_match "bench smoke: the report says where the balancer's frames are received" \
	"^\\| the switch's port of the balancer's link \\(http, threads\\) \\| receives in the sender's own system calls \\|\$" \
	"$(grep -F "| the switch's port" "$report" 2>/dev/null)"
check_match "bench smoke: the XDP section measured the fast path" \
	'latebind: fast path, bound flow → backend[^|]*\| [0-9]+ / ' "$(cat "$report" 2>/dev/null)"
check_match "bench smoke: the decisions section made no wrong decision" \
	'decisions wrong: 0\.' "$(cat "$report" 2>/dev/null)"
# Several balancers: requests/s through one and through two, no error, a failover measured.
cl_rows=$(sed -n '/^## Several balancers/,/^### Several balancers: every/p' "$report" 2>/dev/null)
check_match "bench smoke: cluster: requests/s through one balancer and through two" \
	"^\\| requests/s \\| $num3 \\| $num3 \\|\$" "$(grep -F '| requests/s |' <<<"$cl_rows" | head -n 1)"
check_match "bench smoke: cluster: no request failed" \
	'summed over rounds: one 0; two 0\.' "$cl_rows"
check_match "bench smoke: cluster: a failover gap measured (path dropped, on the wire, at curl)" \
	"^\\| \\*\\*median\\*\\* [^|]+\\| $num3 \\| $num3 \\| $num3 \\|\$" \
	"$(grep -F '**median**' <<<"$cl_rows" | head -n 1)"
check_eq "bench smoke: the bench lab ($bench_prefix) is gone" "" \
	"$(ip netns list | awk -v p="$bench_prefix-" 'index($1, p) == 1 { print $1 }')"
check "bench smoke: its run dir is gone" test ! -e "/run/latebind-lab-$bench_prefix"

# bench/compare.sh: a line per run and a median per label, no error, nothing left.
compare_rc=0
LB_LAB_PREFIX=$bench_prefix BENCH_OUT=$bench_out BENCH_HTTP_SECONDS=1 timeout -k 10 60 \
	"$LAB_ROOT/bench/compare.sh" --rounds 1 --workload keepalive one="$LAB_ROOT/build/latebind" \
	two="$LAB_ROOT/build/latebind" >"$bench_out/compare.log" 2>&1 || compare_rc=$?
check_eq "bench smoke: bench/compare.sh exits 0 (log: $bench_out/compare.log)" 0 "$compare_rc"
if ((compare_rc != 0)); then tail -n 15 "$bench_out/compare.log" | sed 's/^/#   /'; fi
for label in one two haproxy; do
	check_match "bench smoke: compare: round 1 measured $label" \
		"bench: round 1 $label +[1-9][0-9]* requests/s, balancer CPU +[0-9.]+ µs/request" \
		"$(cat "$bench_out/compare.log" 2>/dev/null)"
	check_match "bench smoke: compare: the median of $label" "bench:   $label +[1-9][0-9]* +[0-9.]+ " \
		"$(cat "$bench_out/compare.log" 2>/dev/null)"
done
check_eq "bench smoke: compare: three raw rows, every request answered (their errors column)" "3 0" \
	"$(awk -F'\t' '{ e += $7 } END { print NR, e + 0 }' "$bench_out/compare-raw.tsv" 2>/dev/null)"
check_eq "bench smoke: compare's lab ($bench_prefix) is gone" "" \
	"$(ip netns list | awk -v p="$bench_prefix-" 'index($1, p) == 1 { print $1 }')"
