#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: latebind side by side with no balancer at all (direct to a
# backend) and with HAProxy, on one lab, in one run. Sections:
#
#   http       (a) new connection per request, 1 KiB: requests/s, p50/p99 latency
#              (b) keep-alive requests/s   (c) 64 MiB objects, parallel clients
#              (d) balancer-side CPU and bytes through its interface per GB
#              (g) keep-alive with each request for another backend's object:
#              requests/s, p50, non-2xx responses counted per mode
#              — direct, latebind (cookie mode) and HAProxy, bench/http.sh;
#              and latebind in replay mode: time to first byte on a new
#              connection and (a); and (c) through the ceiling of this
#              topology, a plain MAC-rewriting XDP program in latebind's place
#              (bench/xdp_ceiling.bpf.c): latebind / ceiling, direct / ceiling
#   threads    (h) new-connection requests/s and CPU per connection, latebind
#              with `dispatcher: {threads: 1}` and `{threads: 2}` next to
#              HAProxy `nbthread 1` and `nbthread 2`; the share of frames one
#              dispatcher thread passes to another, bench/threads.sh
#   xdp        (e) SYN/ACKs and fast-path packets per second next to plain
#              XDP_TX and XDP_DROP on the same veth, bench/xdp.sh
#   decisions  (f) dispatcher decisions per second with a million routes,
#              bench/decisions.c on the project's own parser/directory/selection
#   cluster    several balancers (tests/lab/cluster.sh: BGP, ECMP): new-connection
#              requests/s through one balancer and through two, each daemon's
#              CPU and the machine's; the failover gap of a download whose
#              balancer is killed, median over rounds, bench/cluster.sh
#
# Method, caveats and the latest figures: bench/README.md.
#
# usage: bench/run.sh [--quick] [--sections http,threads,xdp,decisions,cluster]   (as root)
#
#   --quick      tiny durations, one round: a smoke run of the whole harness
#                (under a minute; results in build/bench/quick.md, never in
#                bench/results/)
#   --sections   run only these (comma-separated); default all five. A run of
#                only some writes bench/results/<sections>-<date>.md (e.g.
#                cluster-2026-12-03.md), never a full run's <date>.md
#
# env: LB_LAB_PREFIX (lbbench): the lab's namespace prefix;
#      BENCH_OUT (build/bench): where tools, logs and raw data go;
#      BENCH_HTTP_ROUNDS (5), BENCH_HTTP_SECONDS (3), BENCH_WRK_THREADS (2),
#      BENCH_WRK_CONNS (16), BENCH_BIG_PER_CLIENT (4), BENCH_BIG_FILE (64m.bin),
#      BENCH_UNLOADED_SAMPLES (200): the http section;
#      BENCH_NAPI_THREADED (0): 1 runs the http and threads sections with the
#      switch's port of the balancer receiving in a NAPI thread instead of in
#      the balancer's own system calls (bench/http.sh napi_threaded);
#      BENCH_THREADS_ROUNDS (5): the threads section (wrk's -t/-c/seconds as http's);
#      BENCH_ROUNDS (3 here), BENCH_SECONDS (3 here), BENCH_STAT_SECONDS (2),
#      BENCH_FAST_FLOWS (4096): the xdp section (bench/xdp.sh alone defaults to
#      5 rounds of 5 s);
#      BENCH_ROUTES (1000000), BENCH_DECISIONS (2000000), BENCH_DECISION_ROUNDS (3):
#      the decisions section;
#      BENCH_CLUSTER_ROUNDS (3), BENCH_CLUSTER_SECONDS (3, per wrk run),
#      BENCH_CLUSTER_FAILOVERS (3): the cluster section (wrk -t/-c as http's).
set -euo pipefail

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

QUICK=0
REPORT_ONLY=0
ALL_SECTIONS=http,threads,xdp,decisions,cluster
SECTIONS=$ALL_SECTIONS
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--report-only) REPORT_ONLY=1 ;; # write the report again from the last run's data in BENCH_OUT
	--sections)
		[[ $# -ge 2 ]] || {
			echo "usage: $0 [--quick] [--sections $ALL_SECTIONS]" >&2
			exit 2
		}
		SECTIONS=$2
		shift
		;;
	-h | --help)
		sed -n '3,51p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "usage: $0 [--quick] [--sections $ALL_SECTIONS]" >&2
		exit 2
		;;
	esac
	shift
done
[[ ,$SECTIONS, =~ ^(,(http|threads|xdp|decisions|cluster))+,$ ]] || {
	echo "$0: --sections takes http, threads, xdp, decisions, cluster (comma-separated)" >&2
	exit 2
}
section_on() { [[ ,$SECTIONS, == *,$1,* ]]; }

OUT=${BENCH_OUT:-$ROOT/build/bench}
PROGSTAT=$OUT/progstat
DECISIONS=$ROOT/build/bench/decisions
DATE=$(date -u +%Y-%m-%d)
if ((QUICK)); then
	RESULTS=$OUT/quick.md
elif [[ $SECTIONS == "$ALL_SECTIONS" ]]; then
	RESULTS=$BENCH_DIR/results/$DATE.md
else
	# Some sections: a file of their own, so a full run's report of the day stays.
	RESULTS=$BENCH_DIR/results/${SECTIONS//,/+}-$DATE.md
fi
ROUTES=${BENCH_ROUTES:-1000000}
DECISIONS_PER_ROUND=${BENCH_DECISIONS:-2000000}
DECISION_ROUNDS=${BENCH_DECISION_ROUNDS:-3}
if ((QUICK)); then ROUTES=20000 DECISIONS_PER_ROUND=200000 DECISION_ROUNDS=1; fi





# shellcheck source=bench/http.sh
source "$BENCH_DIR/http.sh"
# shellcheck source=bench/threads.sh
source "$BENCH_DIR/threads.sh"
# shellcheck source=bench/cluster.sh
source "$BENCH_DIR/cluster.sh"
if ((QUICK)); then http_quick && threads_quick && cluster_quick; fi

# --- build --------------------------------------------------------------------------

# stale TARGET SOURCE...: TARGET is missing or older than a source.
stale() {
	local t=$1 f
	shift
	[[ -e $t ]] || return 0
	for f; do [[ $f -nt $t ]] && return 0; done
	return 1
}

# Each tool is rebuilt only when a source changed (headers and user/ included).
build() {
	local arch p hdrs
	arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
	mkdir -p "$OUT"
	hdrs=("$ROOT"/headers/*.h)
	if stale "$PROGSTAT" "$BENCH_DIR/progstat.c"; then
		cc -O2 -Wall -Werror -o "$PROGSTAT" "$BENCH_DIR/progstat.c"
	fi
	# bench/xdp.sh's tools (it builds them itself when run alone).
	if stale "$OUT/synflood" "$BENCH_DIR/synflood.c" "$ROOT/tests/hostile/rawframe.h"; then
		cc -O2 -Wall -Werror -I"$ROOT/tests/hostile" -o "$OUT/synflood" "$BENCH_DIR/synflood.c"
	fi
	if stale "$OUT/fastflows" "$BENCH_DIR/fastflows.c" "${hdrs[@]}"; then
		cc -O2 -Wall -Werror -I"$ROOT/headers" -o "$OUT/fastflows" "$BENCH_DIR/fastflows.c" -lbpf
	fi
	for p in sink tx drop ceiling; do
		# The ceiling's lab values come from tests/lab/lib.sh and bench/http.sh.
		if stale "$OUT/xdp_$p.bpf.o" "$BENCH_DIR/xdp_$p.bpf.c" "$ROOT/tests/lab/lib.sh" "$BENCH_DIR/http.sh"; then
			# shellcheck disable=SC2046 # -D flags, one word each
			clang -g -O2 -target bpf -Wall -Werror -I"$ROOT/vmlinux/$arch" \
				$(if [[ $p == ceiling ]]; then ceiling_cflags; fi) \
				-c "$BENCH_DIR/xdp_$p.bpf.c" -o "$OUT/xdp_$p.bpf.o"
		fi
	done
	# The dispatcher's own objects, as the tests link them.
	make -C "$ROOT" --no-print-directory -s build/bench/decisions build/bench/tring
}

# --- cleanup: everything we started, by PID, then the lab ---------------------------------

LAB_IS_UP=0
XDP_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $XDP_PID ]]; then
		kill -TERM "$XDP_PID" 2>/dev/null || true
		wait "$XDP_PID" 2>/dev/null || true
	fi
	http_cleanup || true
	cluster_cleanup || true
	if ((LAB_IS_UP)); then
		timeout --foreground -k 5 60 "$ROOT/tests/lab/lab.sh" down >>"$OUT/lab.log" 2>&1 ||
			{ say "lab.sh down failed; see $OUT/lab.log" >&2 && rc=1; }
	fi
	if ((rc)); then say "failed (exit $rc)" >&2; fi
	exit "$rc"
}

# --- sections ------------------------------------------------------------------------------

xdp_section() {
	local args=() rc=0
	if ((QUICK)); then args=(--quick); fi
	XDP_RESULTS=$BENCH_DIR/results/xdp-$DATE.md
	if ((QUICK)); then XDP_RESULTS=$OUT/xdp-quick.md; fi
	say "xdp: bench/xdp.sh ${args[*]} on this lab (log: $OUT/xdp.log)"
	BENCH_LAB_SHARED=1 BENCH_BUILT=1 BENCH_OUT=$OUT BENCH_LATEBIND=$LAB_LATEBIND BENCH_ROUNDS=${BENCH_ROUNDS:-3} \
		BENCH_SECONDS=${BENCH_SECONDS:-3} "$BENCH_DIR/xdp.sh" "${args[@]}" >"$OUT/xdp.log" 2>&1 &
	XDP_PID=$!
	wait "$XDP_PID" || rc=$?
	XDP_PID=
	grep '^bench: round' "$OUT/xdp.log" || true
	((rc == 0)) || die "bench/xdp.sh failed (exit $rc): $(tail -n 3 "$OUT/xdp.log")"
}

decisions_section() {
	local unit=$ROOT/build/tests/unit_tests
	say "decisions: $ROUTES routes through latebind's config loader, $DECISION_ROUNDS × $DECISIONS_PER_ROUND decisions on one core"
	"$DECISIONS" --routes "$ROUTES" --requests "$DECISIONS_PER_ROUND" --rounds "$DECISION_ROUNDS" \
		>"$OUT/decisions.out" 2>&1 || die "decisions failed: $(tail -n 3 "$OUT/decisions.out")"
	sed 's/^/bench:   /' "$OUT/decisions.out"
	# The unit test's own figure (directory lookups alone), where the unit tests are built.
	UNIT_DIRECTORY=
	if ((!QUICK)) && [[ -x $unit ]]; then
		UNIT_DIRECTORY=$(CK_RUN_SUITE=directory CK_RUN_CASE=scale CK_FORK=yes timeout 120 "$unit" 2>&1 |
			grep -m1 '^directory:' || true)
		if [[ -n $UNIT_DIRECTORY ]]; then say "  unit test: $UNIT_DIRECTORY"; fi
	fi
}

# --- report --------------------------------------------------------------------------------

# The http section's figures, computed once (one awk over the raw file, not
# hundreds): STAT["v:MODE:WORKLOAD:METRIC"] = "min median max", one value per
# round; STAT["r:M1:M2:WORKLOAD:METRIC"] the same of M1/M2 paired by round,
# STAT["d:..."] of M1-M2.
declare -A STAT
# shellcheck disable=SC2016 # awk code, expanded by awk
STATS_AWK='
function val(k) {
	if (k == "rps") return $5 / $4
	if (k == "p50") return $8
	if (k == "p90") return $9
	if (k == "p99") return $10
	if (k == "p50ms") return $8 / 1000
	if (k == "mbs") return $6 / $4 / 1e6
	if (k == "errors") return $7
	if (k == "cpu_us_req") return $11 * 1e6 / $5
	if (k == "cpu_s_gb") return $11 / ($6 / 1e9)
	if (k == "xdp_us_req") return $14 / 1e3 / $5
	if (k == "xdp_s_gb") return $14 / 1e9 / ($6 / 1e9)
	if (k == "bal_pct") return ($12 + $13) * 100 / $6
	if (k == "thru_pct") return $13 * 100 / $6
	if (k == "thru_mb_gb") return $13 / 1e6 / ($6 / 1e9)
	if (k == "fast_pct") return $20 * 100 / $6
	if (k == "div_pct") return $22 * 100 / $6
	if (k == "div_b_pkt") return $21 ? $22 / $21 : 0
	if (k == "fast_b_pkt") return $19 ? $20 / $19 : 0
	if (k == "tc_ns_run") return $17 ? $16 / $17 : 0
	if (k == "tc_us_req") return $16 / 1e3 / $5
	if (k == "dec_per_req") return $18 / $5
	if (k == "ttfb50") return $23
	if (k == "ttfb99") return $24
	if (k == "xdp_ns_pkt") return $15 ? $14 / $15 : 0
	if (k == "xdp_pkt_mb") return $15 / ($6 / 1e6)
}
# out KEY, the values in list L (space-separated): "KEY min median max"
function out(key, l,   v, n, i, j, t) {
	n = split(l, v, " ")
	if (!n) return
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	print key, v[1], (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), v[n]
}
BEGIN {
	nk = split("rps p50 p90 p99 p50ms mbs errors cpu_us_req cpu_s_gb xdp_us_req xdp_s_gb bal_pct thru_pct thru_mb_gb fast_pct div_pct div_b_pkt fast_b_pkt tc_ns_run tc_us_req dec_per_req ttfb50 ttfb99 xdp_ns_pkt xdp_pkt_mb", K, " ")
	nm = split("direct latebind haproxy replay ceiling latebind-t1 latebind-t2 haproxy-t1 haproxy-t2", M, " ")
}
{
	rounds[$1] = 1; wl[$3] = 1
	for (i = 1; i <= nk; i++) v[$1, $2, $3, K[i]] = val(K[i])
	have[$1, $2, $3] = 1
}
END {
	for (w in wl) for (i = 1; i <= nk; i++) {
		for (a = 1; a <= nm; a++) {
			l = ""
			for (r in rounds) if ((r, M[a], w) in have) l = l " " v[r, M[a], w, K[i]]
			out("v:" M[a] ":" w ":" K[i], l)
			for (b = 1; b <= nm; b++) if (a != b) {
				lr = ""; ld = ""
				for (r in rounds) if ((r, M[a], w) in have && (r, M[b], w) in have) {
					x = v[r, M[a], w, K[i]]; y = v[r, M[b], w, K[i]]
					if (y != 0) lr = lr " " x / y
					ld = ld " " x - y
				}
				out("r:" M[a] ":" M[b] ":" w ":" K[i], lr)
				out("d:" M[a] ":" M[b] ":" w ":" K[i], ld)
			}
		}
	}
}'

stats_load() {
	local key lo mid hi
	while read -r key lo mid hi; do STAT[$key]="$lo $mid $hi"; done < <(awk -F'\t' "$STATS_AWK" "$HTTP_RAW")
}

# fmt3 FORMAT KEY: "min / median / max" of STAT[KEY] with FORMAT (n/a if none).
fmt3() {
	local -a v
	read -ra v <<<"${STAT[$2]:-}"
	if ((${#v[@]} != 3)); then
		echo n/a
		return
	fi
	# shellcheck disable=SC2059 # the format is the point
	printf "$1 / $1 / $1\n" "${v[0]}" "${v[1]}" "${v[2]}"
}

# med KEY [FORMAT]: the median of STAT[KEY] (empty if none).
med() {
	local -a v
	read -ra v <<<"${STAT[$1]:-}"
	if ((${#v[@]} == 3)); then
		# shellcheck disable=SC2059
		printf "${2:-%s}\n" "${v[1]}"
	fi
}

# hs MODE WORKLOAD METRIC FORMAT; hps M1 M2 WORKLOAD METRIC FORMAT [diff]
hs() { fmt3 "$4" "v:$1:$2:$3"; }
hps() { if [[ ${6:-} == diff ]]; then fmt3 "$5" "d:$1:$2:$3:$4"; else fmt3 "$5" "r:$1:$2:$3:$4"; fi; }

# num X: X with as many digits as it deserves.
num() {
	awk -v x="$1" 'BEGIN { a = x < 0 ? -x : x
		if (a >= 1000) printf "%.0f\n", x; else if (a >= 10) printf "%.1f\n", x; else printf "%.3f\n", x }'
}

# goal TEXT VALUE OP THRESHOLD [WHY-NOT-VALID]: a row of the goals table, judged
# on the median; with WHY-NOT-VALID, not judged at all.
goal() {
	local verdict
	if [[ -z $2 || $2 == n/a ]]; then
		verdict="not measured"
	elif [[ -n ${5:-} ]]; then
		verdict="**not valid**: $5"
	elif awk -v v="$2" -v t="$4" -v op="$3" 'BEGIN { exit !(op == ">=" ? v >= t : v <= t) }'; then
		verdict="**met**"
	else
		verdict="**not met**"
	fi
	echo "| $1 | $3 $4 | $(if [[ -n $2 ]]; then num "$2"; fi) | $verdict |"
}

machine_rows() {
	echo "| date | $END_TIME (started $START_TIME) |"
	echo "| machine | $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) |"
	echo "| kernel | $(uname -r) |"
	echo "| commit | $COMMIT_DESC — \`latebind --version\` of the binary measured: $LATEBIND_VERSION |"
	echo "| load average at start → end | $LOAD_START → $LOAD_END |"
	if section_on http || section_on threads; then
		echo "| the switch's port of the balancer's link (http, threads) | receives $( ((NAPI_THREADED)) && echo 'in a NAPI thread of its own' || echo "in the sender's own system calls") |"
	fi
	echo "| written by | \`bench/run.sh$( ((QUICK)) && echo ' --quick')$([[ $SECTIONS != "$ALL_SECTIONS" ]] && echo " --sections $SECTIONS")\` in $ELAPSED s |"
}

http_report() {
	local w m label
	echo "## HTTP: direct, latebind, HAProxy (a–d)"
	echo
	echo "Same lab, same nginx backends (1 worker each), same client path (client → router →"
	echo "switch); modes interleaved, their order rotated each round. $HTTP_ROUNDS round(s);"
	echo "min / median / max over rounds. wrk $WRK_VERSION from client1: -t$WRK_THREADS -c$WRK_CONNS,"
	echo "${HTTP_SECONDS} s, /web1/1k.bin (held by web1 only, so every mode asks the same nginx)."
	echo "HAProxy $HAPROXY_VERSION: \`nbthread $(nproc)\`, leastconn, keep-alive and \`http-reuse safe\`"
	echo "to the servers, health checks, the same routes; it holds the VIP while latebind is"
	echo "stopped (config: build/bench/haproxy.cfg, generated from latebind's)."
	echo
	echo "| workload | measure | direct | latebind | HAProxy |"
	echo "| --- | --- | ---: | ---: | ---: |"
	row() { # LABEL WORKLOAD METRIC FORMAT
		echo "| $1 | $(hs direct "$2" "$3" "$4") | $(hs latebind "$2" "$3" "$4") | $(hs haproxy "$2" "$3" "$4") |"
	}
	row "unloaded, new connection each (curl, $UNLOADED_SAMPLES in a row) | p50 µs (handshake included)" unloaded p50 %.0f
	row "unloaded | p99 µs" unloaded p99 %.0f
	row "(a) new connection per request, 1 KiB | requests/s" close rps %.0f
	row "(a) | p50 µs (wrk: request written → response read)" close p50 %.0f
	row "(a) | p99 µs" close p99 %.0f
	row "(b) keep-alive, 1 KiB | requests/s" keepalive rps %.0f
	row "(b) | p50 µs" keepalive p50 %.0f
	row "(b) | p99 µs" keepalive p99 %.0f
	row "(c) $((2 * BIG_PER_CLIENT)) × $BIG_FILE in parallel, both clients | MB/s (10^6 B), all bytes / wall time" big mbs %.0f
	row "(c) | one transfer's time, median, ms" big p50ms "%.0f"
	echo
	echo "Errors (non-2xx, socket errors, short transfers), summed over rounds (those of (g), below, apart):"
	for m in direct latebind haproxy; do
		printf '%s %s; ' "$m" "$(awk -F'\t' -v m="$m" '$2 == m && $3 !~ /^rotate/ { e += $7 } END { print e + 0 }' "$HTTP_RAW")"
	done | sed 's/; $/./'
	echo
	echo
	replay_report
	echo "### Ratios, paired by round (min / median / max)"
	echo
	echo "| | latebind / direct | latebind / HAProxy |"
	echo "| --- | ---: | ---: |"
	echo "| (a) new-connection requests/s | $(hps latebind direct close rps %.3f) | $(hps latebind haproxy close rps %.3f) |"
	echo "| (b) keep-alive requests/s | $(hps latebind direct keepalive rps %.3f) | $(hps latebind haproxy keepalive rps %.3f) |"
	echo "| (c) 64 MiB throughput | $(hps latebind direct big mbs %.3f) | $(hps latebind haproxy big mbs %.3f) |"
	echo
	ceiling_report
	echo "| added latency, µs, paired by round | latebind − direct | HAProxy − direct |"
	echo "| --- | ---: | ---: |"
	echo "| unloaded p50 (handshake included) | $(hps latebind direct unloaded p50 %.0f diff) | $(hps haproxy direct unloaded p50 %.0f diff) |"
	echo "| (a) under load, p50 | $(hps latebind direct close p50 %.0f diff) | $(hps haproxy direct close p50 %.0f diff) |"
	echo "| (a) under load, p99 | $(hps latebind direct close p99 %.0f diff) | $(hps haproxy direct close p99 %.0f diff) |"
	echo
	rotate_report
	echo "### (d) What the balancer side spends"
	echo
	echo "CPU: the balancer process's user + system time (/proc/PID/stat: the latebind daemon,"
	echo "or haproxy with all its threads); for latebind also its XDP program's run time"
	echo "(kernel BPF statistics, on in every mode alike), which runs in softirq and is charged"
	echo "to whatever process was interrupted. HAProxy's own softirq work (TCP receive) is in"
	echo "neither column: its figure is a floor. Bytes *through* the balancer: what it puts on"
	echo "the wire, its eth0's tx bytes (whole frames, XDP_TX included), over the bytes the"
	echo "clients received; in + out adds eth0's rx bytes (which veth counts without the"
	echo "14-byte Ethernet header). For latebind, from its own counters: client → backend"
	echo "frames on the fast path, and backend FIN/RST segments diverted through it (with"
	echo "any data they carry)."
	echo
	echo "| workload | measure | latebind | HAProxy |"
	echo "| --- | --- | ---: | ---: |"
	for w in close keepalive; do
		label="(a) new connection"
		if [[ $w == keepalive ]]; then label="(b) keep-alive"; fi
		echo "| $label | daemon / haproxy CPU, µs per request | $(hs latebind $w cpu_us_req %.2f) | $(hs haproxy $w cpu_us_req %.2f) |"
		echo "| $label | + XDP program, µs per request | $(hs latebind $w xdp_us_req %.2f) | – |"
		echo "| $label | bytes through the balancer, % of bytes served | $(hs latebind $w thru_pct %.1f) | $(hs haproxy $w thru_pct %.1f) |"
		echo "| $label | of which backend FIN segments diverted, % of bytes served (bytes per segment) | $(hs latebind $w div_pct %.1f) ($(med v:latebind:$w:div_b_pkt %.0f)) | – |"
	done
	echo "| (c) 64 MiB | daemon / haproxy CPU, s per GB served | $(hs latebind big cpu_s_gb %.3f) | $(hs haproxy big cpu_s_gb %.3f) |"
	echo "| (c) 64 MiB | + XDP program, s per GB served | $(hs latebind big xdp_s_gb %.4f) | – |"
	echo "| (c) 64 MiB | bytes through the balancer, MB per GB served | $(hs latebind big thru_mb_gb %.1f) | $(hs haproxy big thru_mb_gb %.0f) |"
	echo "| (c) 64 MiB | the same, % of bytes served | $(hs latebind big thru_pct %.2f) | $(hs haproxy big thru_pct %.1f) |"
	echo "| (c) 64 MiB | of which client → backend (ACKs) on the fast path, % (bytes per frame) | $(hs latebind big fast_pct %.2f) ($(med v:latebind:big:fast_b_pkt %.0f)) | – |"
	echo "| (c) 64 MiB | of which backend FIN segments diverted, % (bytes per segment) | $(hs latebind big div_pct %.3f) ($(med v:latebind:big:div_b_pkt %.0f)) | – |"
	echo
	echo "latebind's dispatcher decisions per wrk request, (a): $(hs latebind close dec_per_req %.3f)"
	echo "(a decision per connection: every request was handed off, none answered by the balancer)."
	echo "Backends' TC programs (attached in every mode): ns per run, median over rounds — direct"
	echo "$(med v:direct:close:tc_ns_run %.0f), latebind $(med v:latebind:close:tc_ns_run %.0f)," \
		"HAProxy $(med v:haproxy:close:tc_ns_run %.0f) (workload a); per request, latebind: $(med v:latebind:close:tc_us_req %.2f) µs."
	echo
}

# (c) against the ceiling: latebind's XDP program next to one that only
# rewrites MACs, so the program's cost shows apart from the topology's extra hop.
ceiling_report() {
	echo "### (c) 64 MiB against the ceiling of this topology"
	echo
	echo "Ceiling: bench/xdp_ceiling.bpf.c in latebind's place on the balancer's eth0 — a client's frame"
	echo "to the VIP gets its MACs rewritten towards the backend that holds the object (chosen by the"
	echo "client's port: curl --local-port) and goes back out (XDP_TX); the backend accepts the"
	echo "connection itself (its hand-off programs detached meanwhile) and answers the client"
	echo "directly. No flow table, no counters: what any direct-return balancer must at least do"
	echo "here, the extra hop through the balancer for the clients' ACKs. Same transfers as (c), in"
	echo "the same rounds. XDP ns per packet: the kernel's BPF statistics (latebind's through libxdp's"
	echo "dispatcher when it uses one), over the frames each program saw during the transfers."
	echo
	echo "| measure | direct | ceiling | latebind |"
	echo "| --- | ---: | ---: | ---: |"
	echo "| MB/s (10^6 B), all bytes / wall time | $(hs direct big mbs %.0f) | $(hs ceiling big mbs %.0f) | $(hs latebind big mbs %.0f) |"
	echo "| one transfer's time, median, ms | $(hs direct big p50ms %.0f) | $(hs ceiling big p50ms %.0f) | $(hs latebind big p50ms %.0f) |"
	echo "| XDP program, ns per packet | – | $(hs ceiling big xdp_ns_pkt %.0f) | $(hs latebind big xdp_ns_pkt %.0f) |"
	echo "| XDP packets per MB served | – | $(hs ceiling big xdp_pkt_mb %.1f) | $(hs latebind big xdp_pkt_mb %.1f) |"
	echo
	echo "| throughput, paired by round (min / median / max) | |"
	echo "| --- | ---: |"
	echo "| **latebind / ceiling**: what latebind's program costs | $(hps latebind ceiling big mbs %.3f) |"
	echo "| direct / ceiling: what the topology's extra hop costs | $(hps direct ceiling big mbs %.3f) |"
	echo "| latebind / direct, for reference | $(hps latebind direct big mbs %.3f) |"
	echo
	echo "Errors in the ceiling mode (short transfers, a wrong object), summed over rounds: $(awk -F'\t' '$2 == "ceiling" { e += $7 } END { print e + 0 }' "$HTTP_RAW")."
	echo
}

# Replay mode next to cookie mode and direct: what the hand-off costs a new
# connection (the replayed SYN is one more round trip to the backend).
replay_report() {
	echo "### Connection setup: replay mode next to cookie mode"
	echo
	echo "latebind with every backend in replay mode (\`handoff: replay\`, \`backend attach --mode replay\`),"
	echo "measured in the same rounds as the other modes; unloaded and (a) only."
	echo
	echo "| workload | measure | direct | latebind, cookie | latebind, replay |"
	echo "| --- | --- | ---: | ---: | ---: |"
	rrow() { # LABEL WORKLOAD METRIC FORMAT
		echo "| $1 | $(hs direct "$2" "$3" "$4") | $(hs latebind "$2" "$3" "$4") | $(hs replay "$2" "$3" "$4") |"
	}
	rrow "unloaded, new connection each (curl, $UNLOADED_SAMPLES in a row) | time to first byte, p50 µs" unloaded ttfb50 %.0f
	rrow "unloaded | time to first byte, p99 µs" unloaded ttfb99 %.0f
	rrow "(a) new connection per request, 1 KiB | requests/s" close rps %.0f
	rrow "(a) | p50 µs" close p50 %.0f
	rrow "(a) | p99 µs" close p99 %.0f
	echo
	echo "| paired by round | replay / cookie | replay − cookie, µs | replay − direct, µs |"
	echo "| --- | ---: | ---: | ---: |"
	echo "| unloaded time to first byte, p50 | $(hps replay latebind unloaded ttfb50 %.3f) | $(hps replay latebind unloaded ttfb50 %.0f diff) | $(hps replay direct unloaded ttfb50 %.0f diff) |"
	echo "| (a) new-connection requests/s | $(hps replay latebind close rps %.3f) | – | – |"
	echo
	echo "Errors in replay mode, summed over rounds: $(awk -F'\t' '$2 == "replay" { e += $7 } END { print e + 0 }' "$HTTP_RAW")."
	echo
}

# rotate_totals MODE WORKLOAD: "REQUESTS ERRORS NON-2XX SOCKET-ERRORS STATUSES" of
# MODE's WORKLOAD (rotate, rotate1), summed over rounds (STATUSES: CODE:N,... or -).
rotate_totals() {
	awk -F'\t' -v m="$1" -v w="$2" '$2 == m && $3 == w {
		r += $5; e += $7; n += $25; x += $26
		k = split($27, s, ",")
		for (i = 1; i <= k; i++) if (split(s[i], cv, ":") == 2) by[cv[1]] += cv[2]
	} END {
		l = ""
		for (c in by) l = l (l == "" ? "" : ",") c ":" by[c]
		print r + 0, e + 0, n + 0, e - n - x, (l == "" ? "-" : l)
	}' "$HTTP_RAW"
}

# mode_name MODE: as the report writes it.
mode_name() { if [[ $1 == haproxy ]]; then echo HAProxy; else echo "$1"; fi; }

# rotate_invalid WORKLOAD MODE...: why WORKLOAD's figures of these modes are not
# valid: the first mode that answered a request with anything but a 2xx, or had
# a socket error; empty if they are valid.
rotate_invalid() {
	local w=$1 m r e n sock st
	shift
	for m; do
		read -r r e n sock st <<<"$(rotate_totals "$m" "$w")"
		if ((e > 0)); then
			awk -v m="$(mode_name "$m")" -v r="$r" -v e="$e" -v n="$n" -v s="$sock" -v st="$st" 'BEGIN {
				printf "%s answered %d of %d requests (%.1f %%) with an error: %d non-2xx (%s), %d socket errors\n",
					m, e, r, r ? 100 * e / r : 0, n, st == "-" ? "none" : st, s }'
			return
		fi
	done
}

# rflag CELL WORKLOAD MODE...: CELL, marked if WORKLOAD's figures of any of MODEs are not valid.
rflag() {
	local cell=$1 w=$2 bad=() m
	shift 2
	for m; do
		if [[ -n $(rotate_invalid "$w" "$m") ]]; then bad+=("$(mode_name "$m")"); fi
	done
	if ((${#bad[@]})); then
		echo "$cell ⚠ not valid: errors in ${bad[*]}"
	else
		echo "$cell"
	fi
}

# (g): keep-alive connections whose requests go to every backend in turn (what
# per-request binding has to do), next to HAProxy (a proxy that routes each
# request) and to one backend that holds everything (no routing at all).
rotate_report() {
	local w m r e n sock st share label
	if ! awk -F'\t' '$3 == "rotate" { found = 1; exit } END { exit !found }' "$HTTP_RAW"; then return; fi
	share=$(awk -F'\t' '$2 == "direct" && $3 == "rotate" { c += $28; n += $29 }
		END { if (n) printf "%.1f %% of %d", 100 * c / n, n; else print "n/a" }' "$HTTP_RAW")
	echo "### (g) Keep-alive, each request for another backend"
	echo
	echo "wrk from client1 with bench/wrk-rotate.lua, ${HTTP_SECONDS} s: every keep-alive connection asks for"
	echo "/web1/1k.bin, /web2/1k.bin, /web3/1k.bin in turn (/webN/ is held by webN only), so each"
	echo "request is for another backend than the request before it on the same connection —"
	echo "measured in the direct mode from web1's access log, with $WRK_CONNS connections: $share"
	echo "requests that had one before them on their connection. Twice: under load (-t$WRK_THREADS -c$WRK_CONNS),"
	echo "and on one connection (-t1 -c1), where nothing queues, so that latebind's p50 less"
	echo "direct's is what a change of backend adds to a request. latebind and HAProxy through"
	echo "the VIP; HAProxy routes each request by its path (/webN/ → backend webN) on the"
	echo "client's keep-alive connection. Direct: web1 alone, which holds copies of all three"
	echo "objects (the same files, under /bench-rotate/, a path only the bench asks for); it"
	echo "serves every request with one nginx worker where the other modes spread them over three."
	echo "Every response's status is counted and every 2xx body compared with the objects; the"
	echo "figures of a mode that answered any request with a non-2xx or had a socket error are not"
	echo "valid and are marked ⚠. (The script hands every response to Lua, which costs the client"
	echo "CPU: compare these figures with each other, not with (b)'s.)"
	echo
	echo "| workload | measure | direct (web1 holds all three) | latebind | HAProxy |"
	echo "| --- | --- | ---: | ---: | ---: |"
	rotrow() { # LABEL WORKLOAD METRIC FORMAT
		echo "| $1 | $(rflag "$(hs direct "$2" "$3" "$4")" "$2" direct) | $(rflag "$(hs latebind "$2" "$3" "$4")" "$2" latebind) | $(rflag "$(hs haproxy "$2" "$3" "$4")" "$2" haproxy) |"
	}
	for w in rotate rotate1; do
		label="(g) each request for another backend, wrk -t$WRK_THREADS -c$WRK_CONNS"
		if [[ $w == rotate1 ]]; then label="(g) the same, one connection (wrk -t1 -c1)"; fi
		rotrow "$label | requests/s" "$w" rps %.0f
		rotrow "(g) | p50 µs (wrk: request written → response read)" "$w" p50 %.0f
		rotrow "(g) | p99 µs" "$w" p99 %.0f
		printf '| (g) | errors, summed over rounds: non-2xx (statuses) + socket errors, of all requests |'
		for m in direct latebind haproxy; do
			read -r r e n sock st <<<"$(rotate_totals "$m" "$w")"
			printf ' %s (%s) + %s of %s |' "$n" "$([[ $st == - ]] && echo none || echo "$st")" "$sock" "$r"
		done
		echo
	done
	echo "| (g) under load | daemon / haproxy CPU, µs per request | – | $(hs latebind rotate cpu_us_req %.2f) | $(hs haproxy rotate cpu_us_req %.2f) |"
	echo "| (g) under load | latebind's dispatcher decisions per request | – | $(hs latebind rotate dec_per_req %.3f) | – |"
	echo
	echo "| requests/s, paired by round (min / median / max) | latebind / HAProxy | latebind / direct |"
	echo "| --- | ---: | ---: |"
	echo "| (g) each request for another backend, under load | $(rflag "$(hps latebind haproxy rotate rps %.3f)" rotate latebind haproxy) | $(rflag "$(hps latebind direct rotate rps %.3f)" rotate latebind direct) |"
	echo "| (g) the same, one connection | $(rflag "$(hps latebind haproxy rotate1 rps %.3f)" rotate1 latebind haproxy) | $(rflag "$(hps latebind direct rotate1 rps %.3f)" rotate1 latebind direct) |"
	echo "| (b) every request for the same backend, for reference | $(hps latebind haproxy keepalive rps %.3f) | $(hps latebind direct keepalive rps %.3f) |"
	echo
	echo "| p50 µs, paired by round | latebind − direct: what a change of backend adds | HAProxy − direct |"
	echo "| --- | ---: | ---: |"
	echo "| (g) each request for another backend, one connection | $(rflag "$(hps latebind direct rotate1 p50 %.0f diff)" rotate1 latebind direct) | $(rflag "$(hps haproxy direct rotate1 p50 %.0f diff)" rotate1 haproxy direct) |"
	echo "| (g) the same, under load | $(rflag "$(hps latebind direct rotate p50 %.0f diff)" rotate latebind direct) | $(rflag "$(hps haproxy direct rotate p50 %.0f diff)" rotate haproxy direct) |"
	echo "| (b) every request for the same backend, under load, for reference | $(hps latebind direct keepalive p50 %.0f diff) | $(hps haproxy direct keepalive p50 %.0f diff) |"
	echo
}

xdp_report() {
	echo "## XDP: SYN cookie and fast path next to plain XDP_TX (e)"
	echo
	echo "From bench/xdp.sh (method in bench/README.md); full table: $(basename "$XDP_RESULTS")."
	sed -n '/^## Summary/,/^## Every/p' "$XDP_RESULTS" | sed -e '1d' -e '$d'
}

decisions_report() {
	local sum
	sum=$(grep '^routes=' "$OUT/decisions.out")
	echo "## Dispatcher decisions with $(kv routes "$sum") routes (f)"
	echo
	echo "bench/decisions.c, linked with the daemon's own objects (http, directory, select, config) as the"
	echo "Makefile builds them; one core; parse → normalise → directory lookup → least-loaded"
	echo "choice for request heads drawn at random over the whole directory (5 % answered 404)."
	echo "Config load of the generated YAML: $(kv config_load_s "$sum") s; directory build:"
	echo "$(kv build_s "$sum") s, $(kv directory_mib "$sum") MiB; decisions wrong: $(kv wrong "$sum")."
	echo
	echo "| round | decisions | seconds | per second (wall) | per CPU second | ns per decision (CPU) |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
	grep '^round=' "$OUT/decisions.out" | while read -r l; do
		echo "| $(kv round "$l") | $(kv decisions "$l") | $(kv seconds "$l") | $(kv per_second "$l") | $(kv per_cpu_second "$l") | $(kv ns_per_decision "$l") |"
	done
	echo
	if [[ -n ${UNIT_DIRECTORY:-} ]]; then
		echo "The unit test's figure for directory lookups alone (tests/unit/test_directory.c):"
		echo "\`$UNIT_DIRECTORY\`"
		echo
	fi
}

goals_report() {
	echo "## The goals, judged on the medians above"
	echo
	echo "| goal | wanted | measured (median) | |"
	echo "| --- | --- | ---: | --- |"
	if section_on http; then
		goal "(c) throughput, latebind / direct" "$(med r:latebind:direct:big:mbs)" ">=" 0.95
		goal "(c) throughput, latebind / HAProxy" "$(med r:latebind:haproxy:big:mbs)" ">=" 1.5
		goal "(c) throughput, latebind / the ceiling (a plain MAC-rewriting XDP program)" "$(med r:latebind:ceiling:big:mbs)" ">=" 0.95
		goal "(a) new-connection requests/s, latebind / HAProxy" "$(med r:latebind:haproxy:close:rps)" ">=" 1.0
		goal "(a) added p50 latency over direct, unloaded, µs" "$(med d:latebind:direct:unloaded:p50)" "<=" 100
		goal "(a) added p50 latency over direct, under load (wrk), µs" "$(med d:latebind:direct:close:p50)" "<=" 100
		goal "(b) keep-alive requests/s, latebind / direct" "$(med r:latebind:direct:keepalive:rps)" ">=" 0.9
		goal "(g) keep-alive, each request for another backend: requests/s, latebind / HAProxy" \
			"$(med r:latebind:haproxy:rotate:rps)" ">=" 1.0 "$(rotate_invalid rotate latebind haproxy)"
		goal "(d) bytes through the balancer (what it transmits), % of served, 64 MiB" "$(med v:latebind:big:thru_pct)" "<=" 1
		goal "(d) the same counting in + out, 64 MiB" "$(med v:latebind:big:bal_pct)" "<=" 1
		goal "(d) bytes through the balancer, % of served, 1 KiB new connections" "$(med v:latebind:close:thru_pct)" "<=" 1
	fi
	if section_on threads; then
		goal "(h) new-connection requests/s, latebind / HAProxy, 1 thread each" "$(med r:latebind-t1:haproxy-t1:close:rps)" ">=" 2
		goal "(h) the same, 2 threads each" "$(med r:latebind-t2:haproxy-t2:close:rps)" ">=" 2
	fi
	if section_on xdp; then
		goal "(e) fast path / plain XDP_TX, packets per CPU second" \
			"$(awk -F'\t' '{ c[$1, $2] = $12 / $4; r[$1] = 1 } END { for (i in r) print c[i, "tx"] / c[i, "fastpath"] }' "$OUT/xdp-raw.tsv" | median)" ">=" 0.8
		goal "(e) fast path / plain XDP_TX, wall clock" \
			"$(awk -F'\t' '{ v[$1, $2] = $6 / $3; r[$1] = 1 } END { for (i in r) print v[i, "fastpath"] / v[i, "tx"] }' "$OUT/xdp-raw.tsv" | median)" ">=" 0.8
	fi
	if section_on decisions; then
		goal "(f) decisions per second, one core (wall, median round)" "$(kv median_per_second "$(grep '^routes=' "$OUT/decisions.out")")" ">=" 1000000
		goal "(f) decisions per CPU second" "$(grep '^round=' "$OUT/decisions.out" | while read -r l; do kv per_cpu_second "$l"; done | median)" ">=" 1000000
	fi
	echo
}

http_every() {
	echo "### HTTP: every measurement"
	echo
	echo "| round | mode | workload | s | requests | bytes | errors | p50 µs | p90 µs | p99 µs | balancer CPU s | eth0 rx B | eth0 tx B | XDP ns (runs) | backend TC ns (runs) | decisions | fast path pkts (B) | diverted pkts (B) | non-2xx (statuses) | changed backend (of) |"
	echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s (%s) | %s | %s (%s) | %s (%s) | %s | %s |\n",
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
		$3 ~ /^rotate/ ? $25 " (" $27 ")" : "", $29 ? $28 " (" $29 ")" : "" }' "$HTTP_RAW"
	echo
	echo "requests: for big, the number of transfers; p50–p99: unloaded, curl's time_total per request;"
	echo "close / keepalive / rotate / rotate1, wrk's latency; big, one transfer's time. errors: for"
	echo "rotate and rotate1, non-2xx responses and socket errors; changed backend: rotate and rotate1"
	echo "in the direct mode, the requests that asked for another backend's object than the one before"
	echo "them on their connection."
	echo
}

report() {
	local lines
	if section_on http || section_on threads; then stats_load; fi
	lines=$(
		echo "# latebind side by side — $DATE"
		echo
		echo "Method, caveats and what the figures mean: bench/README.md."
		echo
		echo "| | |"
		echo "| --- | --- |"
		machine_rows
		echo
		if section_on http || section_on threads || section_on xdp || section_on decisions; then goals_report; fi
		if section_on http; then http_report; fi
		if section_on threads; then threads_report; fi
		if section_on xdp; then xdp_report; fi
		if section_on decisions; then decisions_report; fi
		if section_on cluster; then cluster_report; fi
		if section_on http || section_on threads; then http_every; fi
	)
	mkdir -p "$(dirname "$RESULTS")"
	printf '%s\n' "$lines" >"$RESULTS"
	echo
	sed -n '/^## The goals/,/^## HTTP\|^## Threads\|^## XDP\|^## Dispatcher\|^## Several/p' "$RESULTS" | sed '$d'
	if section_on cluster; then sed -n '/^## Several/,/^### Several balancers: every/p' "$RESULTS" | sed '$d'; fi
	say "results: $RESULTS (raw: $OUT/*-raw.tsv, $OUT/decisions.out)"
}

# --- main ----------------------------------------------------------------------------------

# What the report needs from the run, kept so --report-only can write it again.
META_VARS=(QUICK SECTIONS DATE RESULTS LATEBIND_VERSION COMMIT_DESC LOAD_START LOAD_END START_TIME
	END_TIME ELAPSED HTTP_ROUNDS HTTP_SECONDS WRK_THREADS WRK_CONNS BIG_PER_CLIENT BIG_FILE
	UNLOADED_SAMPLES WRK_VERSION HAPROXY_VERSION XDP_RESULTS UNIT_DIRECTORY CLUSTER_ROUNDS
	CLUSTER_SECONDS CLUSTER_FAILOVERS NAPI_THREADED)
WRK_VERSION='' HAPROXY_VERSION='' XDP_RESULTS='' UNIT_DIRECTORY=''

finish_report() {
	END_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
	ELAPSED=$((SECONDS - T0))
	declare -p "${META_VARS[@]}" >"$OUT/run-meta.sh"
	report
}

main() {
	local t
	T0=$SECONDS
	if ((REPORT_ONLY)); then
		[[ -f $OUT/run-meta.sh ]] || die "no earlier run in $OUT"
		# shellcheck source=/dev/null
		source "$OUT/run-meta.sh"
		report
		return
	fi
	START_TIME=$(date -u +%H:%M:%SZ)
	((EUID == 0)) || die "run as root (network namespaces, XDP)"
	for t in cc clang ip ethtool tc awk curl wrk haproxy $(section_on cluster && echo bird birdc); do
		command -v "$t" >/dev/null || die "$t is not installed (make deps)"
	done
	[[ -x $LAB_LATEBIND && -f $LAB_XDP_PASS ]] || die "build latebind first: make (or make bench)"
	if section_on cluster; then [[ -f $LAB_CLUSTER_BPF ]] || die "build the lab's programs first: make"; fi
	build
	say "built the tools in $((SECONDS - T0)) s"
	# Our own copy (BPF objects are embedded), so a rebuild in the tree meanwhile
	# cannot change what is measured half way through.
	cp "$LAB_LATEBIND" "$OUT/latebind"
	LAB_LATEBIND=$OUT/latebind
	LATEBIND_VERSION=$("$LAB_LATEBIND" --version 2>&1 | awk 'NR == 1')
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	COMMIT_DESC="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- user bpf headers 2>/dev/null ||
		echo ' (with uncommitted changes in user/, bpf/ or headers/)') at the start"

	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if section_on http || section_on threads || section_on xdp || section_on cluster; then
		bench_lab_up
		: >"$LAB_BALANCER_LOG"
	fi
	if section_on http || section_on threads; then http_setup; fi
	if section_on http; then
		t=$SECONDS
		http_section
		say "http: done in $((SECONDS - t)) s"
	fi
	if section_on threads; then
		t=$SECONDS
		threads_section
		say "threads: done in $((SECONDS - t)) s"
	fi
	if ((BACKENDS_ATTACHED)); then
		# shellcheck disable=SC2119 # no arguments
		lab_backends_detach >/dev/null 2>&1 || true
		BACKENDS_ATTACHED=0
	fi
	if section_on http || section_on threads; then napi_threaded 0; fi
	if section_on xdp; then
		t=$SECONDS
		xdp_section
		say "xdp: done in $((SECONDS - t)) s"
	fi
	if section_on decisions; then
		t=$SECONDS
		decisions_section
		say "decisions: done in $((SECONDS - t)) s"
	fi
	if section_on cluster; then
		t=$SECONDS
		if [[ -z $WRK_VERSION ]]; then WRK_VERSION=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print $2 }'); fi
		cluster_section
		say "cluster: done in $((SECONDS - t)) s"
	fi
	finish_report
	say "done in $((SECONDS - T0)) s"
}

main
