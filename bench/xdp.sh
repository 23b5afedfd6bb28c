#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What latebind's XDP program costs per packet (goal e): SYN/ACKs per second
# (the SYN cookie) and fast-path packets per second (a bound flow's segments,
# MACs rewritten, XDP_TX) next to plain XDP_TX (and XDP_DROP) on the same veth
# link of the lab. Method, caveats and the latest figures: bench/README.md.
#
# usage: bench/xdp.sh [--quick]      (as root, latebind built; bench/run.sh runs it
#                                     as its "xdp" section, `make bench` runs that)
#
#   --quick   one round of half a second per measurement: a smoke run of the
#             harness (results in build/bench/, not bench/results/)
#
# env: BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_STAT_SECONDS (2): rounds, and
#      seconds per rate and per program-time measurement;
#      BENCH_FAST_FLOWS (4096): bound flows the fast-path flood spreads over;
#      LB_LAB_PREFIX (lbbench): the lab's namespace prefix;
#      BENCH_LAB_SHARED=1: the lab is up and belongs to the caller (bench/run.sh):
#        use it, leave it up, put back the switch port's pass program at the end;
#      BENCH_LATEBIND: the latebind binary to measure (default: a copy of build/latebind);
#      BENCH_OUT (build/bench): where tools, logs and raw data go;
#      BENCH_BUILT=1: the tools in BENCH_OUT are fresh (bench/run.sh built them);
#      XDP_BENCH (xdp-bench): the xdp-bench command to try for the references.
set -euo pipefail

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

QUICK=0
case ${1:-} in
--quick) QUICK=1 ;;
"") ;;
-h | --help)
	sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--quick]" >&2
	exit 2
	;;
esac

ROUNDS=${BENCH_ROUNDS:-5}
RATE_SECONDS=${BENCH_SECONDS:-5}
STAT_SECONDS=${BENCH_STAT_SECONDS:-2}
if ((QUICK)); then
	ROUNDS=1 RATE_SECONDS=0.5 STAT_SECONDS=0.3
fi
XDP_BENCH=${XDP_BENCH:-xdp-bench}
FAST_FLOWS=${BENCH_FAST_FLOWS:-4096}
SHARED=0
if [[ ${BENCH_LAB_SHARED:-0} == 1 ]]; then SHARED=1; fi

OUT=${BENCH_OUT:-$ROOT/build/bench}
SYNFLOOD=$OUT/synflood
PROGSTAT=$OUT/progstat
FASTFLOWS=$OUT/fastflows
RAW=$OUT/xdp-raw.tsv
DATE=$(date -u +%Y-%m-%d)
if ((QUICK)); then
	RESULTS=$OUT/xdp-quick.md
else
	RESULTS=$BENCH_DIR/results/xdp-$DATE.md
fi

# The generator sits in the switch namespace and sends out of the balancer's
# switch-side port: one veth link, nothing else on the way. Its source MAC is
# used by nothing else, so the sink on that port (xdp_sink.bpf.c) can tell the
# answers from the lab's own traffic.
GEN_NODE=switch
GEN_IF=$BALANCER_PEER
GEN_MAC=02:00:00:00:02:fe
GEN_NET=203.0.113.0/24
MAX_PPS=10000000 # --count bound: far above what one veth link does here


# --- build -----------------------------------------------------------------

build() {
	local arch p
	arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
	mkdir -p "$OUT"
	cc -O2 -Wall -Werror -I"$ROOT/tests/hostile" -o "$SYNFLOOD" "$BENCH_DIR/synflood.c"
	cc -O2 -Wall -Werror -o "$PROGSTAT" "$BENCH_DIR/progstat.c"
	cc -O2 -Wall -Werror -I"$ROOT/headers" -o "$FASTFLOWS" "$BENCH_DIR/fastflows.c" -lbpf
	for p in sink tx drop; do
		clang -g -O2 -target bpf -Wall -Werror -I"$ROOT/vmlinux/$arch" \
			-c "$BENCH_DIR/xdp_$p.bpf.c" -o "$OUT/xdp_$p.bpf.o"
	done
}

# --- cleanup: everything we started, by PID, then the lab --------------------

FLOOD_PID=
REF_PID=
LAB_IS_UP=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $FLOOD_PID ]]; then
		kill -TERM "$FLOOD_PID" 2>/dev/null || true
		wait "$FLOOD_PID" 2>/dev/null || true
	fi
	ref_stop || true
	lab_balancer_stop || true
	if ((SHARED)) && ip netns list | grep -qx "$SWITCH_NS\( .*\)\?"; then
		# The caller's lab: its pass program back on the generator's port.
		ip -n "$SWITCH_NS" link set dev "$GEN_IF" xdpdrv off 2>/dev/null || true
		ip -n "$SWITCH_NS" link set dev "$GEN_IF" xdpdrv obj "$LAB_XDP_PASS" sec xdp 2>/dev/null ||
			{ say "could not put the pass program back on $GEN_IF" >&2 && rc=1; }
	fi
	if ((LAB_IS_UP)); then
		timeout --foreground -k 5 60 "$ROOT/tests/lab/lab.sh" down >>"$OUT/lab.log" 2>&1 ||
			{ say "lab.sh down failed; see $OUT/lab.log" >&2 && rc=1; }
	fi
	if ((rc)); then say "failed (exit $rc)" >&2; fi
	exit "$rc"
}

# --- counters ----------------------------------------------------------------

# veth_stats NODE IF NAME...: the veth's per-queue ethtool -S counters
# rx_queue_<q>_NAME summed over its RX queues, for each NAME, in order. The
# lab's balancer link has several queues; a flow lands on any of them.
veth_stats() {
	local node=$1 dev=$2
	shift 2
	lab_exec "$node" ethtool -S "$dev" | awk -v names="$*" '
		$1 ~ /^rx_queue_[0-9]+_/ {
			name = $1
			sub(/^rx_queue_[0-9]+_/, "", name)
			sub(/:$/, "", name)
			v[name] += $2
			seen[name] = 1
		}
		END {
			n = split(names, want, " ")
			for (i = 1; i <= n; i++) {
				if (!(want[i] in seen)) exit 1
				printf "%s%s", v[want[i]], (i < n ? " " : "\n")
			}
		}'
}

# snapshot: "xdp_packets xdp_tx xdp_drops ring_drops sink tx_synack tx_fast_path" right now.
snapshot() {
	local synack=0 fast=0
	if [[ -n $LAB_BALANCER_PID ]]; then
		read -r synack fast < <(lab_exec_bpf balancer "$LAB_LATEBIND" status |
			awk '$1 == "tx_synack" { s = $2 } $1 == "tx_fast_path" { f = $2 } END { print s + 0, f + 0 }')
	fi
	echo "$(veth_stats balancer "$LAB_IF" xdp_packets xdp_tx xdp_drops drops)" \
		"$(veth_stats "$GEN_NODE" "$GEN_IF" xdp_drops)" "${synack:-0}" "${fast:-0}"
}

# ksoftirqd_cpu: CPU seconds used so far by the ksoftirqd threads (read only).
# Softirq work they take over is not charged to the generator: this says how much.
ksoftirqd_cpu() {
	local pid
	for pid in $(pgrep -x 'ksoftirqd/[0-9]+'); do
		cat "/proc/$pid/stat" 2>/dev/null
	done | awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f\n", t / hz }'
}



# --- the flood -----------------------------------------------------------------

# flood_cmd SECONDS [MODE]: FLOOD_CMD becomes the command for SYNs to the VIP
# during SECONDS (and at most MAX_PPS a second) — for MODE fastpath, segments of
# the FAST_FLOWS bound flows instead; it prints synflood's result line. Run as a
# simple command, so that in the background $! is synflood itself.
flood_cmd() {
	FLOOD_CMD=(ip netns exec "$(lab_ns "$GEN_NODE")" "$SYNFLOOD" --interface "$GEN_IF"
		--dst-mac "$BALANCER_MAC" --src-mac "$GEN_MAC" --dst "$VIP" --dport "$VIP_PORT"
		--src-net "$GEN_NET" --seconds "$1"
		--count "$(awk -v s="$1" -v m="$MAX_PPS" 'BEGIN { printf "%d", s * m }')")
	if [[ ${2:-} == fastpath ]]; then FLOOD_CMD+=(--ack-flows "$FAST_FLOWS"); fi
}

# fast_flows add|delete: the bound flows of the fast-path flood, in the running
# balancer's pinned flows map; their backend MAC is the generator's, so what
# latebind forwards comes back to the sink like every other answer.
fast_flows() {
	local res extra=()
	if [[ $1 == delete ]]; then extra=(--delete); fi
	res=$("$FASTFLOWS" --map "$(lab_bpffs balancer)/latebind/flows_v3" --src-net "$GEN_NET" \
		--vip "$VIP" --dport "$VIP_PORT" --flows "$FAST_FLOWS" --backend-mac "$GEN_MAC" \
		"${extra[@]}") || die "fastflows $1 failed"
	[[ $1 == delete || $res == "flows=$FAST_FLOWS" ]] || die "fastflows $1: $res"
}

# --- what answers: latebind, or a reference program --------------------------

REF_KIND= # xdp-bench, or own (bench/xdp_tx.bpf.c, bench/xdp_drop.bpf.c)
REF_WHY=
XDP_BENCH_VERSION=

# ref_start tx|drop
ref_start() {
	if [[ $REF_KIND == xdp-bench ]]; then
		# exec all the way down: REF_PID is xdp-bench itself.
		# shellcheck disable=SC2016 # expanded by the inner sh
		(exec ip netns exec "$BALANCER_NS" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
			"$XDP_BENCH" "$1" -m native -i 1 "$LAB_IF" >>"$OUT/xdp-bench.log" 2>&1) &
		REF_PID=$!
		if ! lab_wait 10 xdp_prog_id; then
			ref_stop
			die "xdp-bench $1 did not attach; see $OUT/xdp-bench.log"
		fi
	else
		ip -n "$BALANCER_NS" link set dev "$LAB_IF" xdpdrv obj "$OUT/xdp_$1.bpf.o" sec xdp
	fi
}


# xdp_bench_settled PID: xdp-bench has attached, or has exited.
xdp_bench_settled() { xdp_prog_id >/dev/null || pid_gone "$1"; }

ref_stop() {
	if [[ -n $REF_PID ]]; then
		# SIGINT: xdp-bench detaches and prints its summary.
		kill -INT "$REF_PID" 2>/dev/null || true
		if ! lab_wait 10 pid_gone "$REF_PID"; then
			kill -KILL "$REF_PID" 2>/dev/null || true
		fi
		wait "$REF_PID" 2>/dev/null || true
		REF_PID=
	elif [[ $REF_KIND == own ]] && ((LAB_IS_UP || SHARED)); then
		ip -n "$BALANCER_NS" link set dev "$LAB_IF" xdpdrv off 2>/dev/null || true
	fi
}

# Can xdp-bench run here? xdp-tools 1.3.1 (Debian 12) loads tracepoint programs
# for xdp_redirect_map(_err), which kernels from 6.16 on no longer have; then it
# exits without attaching, and our own equivalent programs stand in.
choose_reference() {
	local pid
	REF_KIND=own
	if ! command -v "$XDP_BENCH" >/dev/null; then
		REF_WHY="$XDP_BENCH is not installed"
		return 0
	fi
	XDP_BENCH_VERSION=$("$XDP_BENCH" tx --version 2>&1 | head -n 1 || true)
	: >"$OUT/xdp-bench.log"
	# shellcheck disable=SC2016
	(exec ip netns exec "$BALANCER_NS" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
		"$XDP_BENCH" tx -m native -i 1 "$LAB_IF" >>"$OUT/xdp-bench.log" 2>&1) &
	pid=$!
	if lab_wait 10 xdp_bench_settled "$pid" && xdp_prog_id >/dev/null; then
		REF_KIND=xdp-bench
		REF_PID=$pid
		ref_stop
		return 0
	fi
	REF_PID=$pid
	ref_stop
	REF_KIND=own
	REF_WHY="$XDP_BENCH_VERSION did not attach: $(grep -v '^\s*$' "$OUT/xdp-bench.log" | tail -n 3 | sed 's/^ *//' | paste -sd ';' | cut -c1-300)"
	ip -n "$BALANCER_NS" link set dev "$LAB_IF" xdpdrv off 2>/dev/null || true
}

# answer_start latebind|fastpath|tx|drop, answer_stop MODE
answer_start() {
	if [[ $1 == latebind || $1 == fastpath ]]; then
		# shellcheck disable=SC2119 # no extra daemon options
		lab_balancer_start >/dev/null
		if [[ $1 == fastpath ]]; then fast_flows add; fi
	else
		ref_start "$1"
	fi
	xdp_prog_id >/dev/null || die "$1: no XDP program on $LAB_IF"
}

answer_stop() {
	if [[ $1 == fastpath ]]; then fast_flows delete; fi
	if [[ $1 == latebind || $1 == fastpath ]]; then
		lab_balancer_stop || die "latebind balancer did not exit cleanly; see $LAB_BALANCER_LOG"
	else
		ref_stop
	fi
	if xdp_prog_id >/dev/null; then die "$1: XDP program still on $LAB_IF after stopping"; fi
}

# --- one measurement -------------------------------------------------------------

# measure ROUND MODE: the rate with statistics off, then the program's time per
# packet under the same flood with them on; appends one line to $RAW.
measure() {
	local round=$1 mode=$2 before after res sent refused secs cpu answered returned stat ns runs
	local ks0 ks1
	local -a b a
	answer_start "$mode"

	flood_cmd "$RATE_SECONDS" "$mode"
	before=$(snapshot)
	ks0=$(ksoftirqd_cpu)
	res=$("${FLOOD_CMD[@]}")
	ks1=$(ksoftirqd_cpu)
	after=$(snapshot)
	read -ra b <<<"$before"
	read -ra a <<<"$after"
	sent=$(kv sent "$res")
	refused=$(kv rejected "$res")
	secs=$(kv seconds "$res")
	cpu=$(kv cpu_seconds "$res")
	case $mode in
	latebind)
		answered=$((a[5] - b[5]))
		# The balancer's own count and the veth's must agree: every SYN/ACK is an XDP_TX.
		if ((answered != a[1] - b[1])); then
			say "warning: round $round: tx_synack moved $answered, the veth's xdp_tx $((a[1] - b[1]))" >&2
		fi
		;;
	fastpath)
		answered=$((a[6] - b[6]))
		if ((answered != a[1] - b[1])); then
			say "warning: round $round: tx_fast_path moved $answered, the veth's xdp_tx $((a[1] - b[1]))" >&2
		fi
		;;
	tx) answered=$((a[1] - b[1])) ;;
	drop) answered=$((a[2] - b[2])) ;;
	esac
	returned=$((a[4] - b[4]))
	[[ -n $sent && $sent -gt 0 ]] || die "round $round, $mode: the generator sent nothing: $res"
	((answered > 0)) || die "round $round, $mode: nothing answered (sent $sent)"
	if [[ $mode != drop ]] && ((returned == 0)); then
		die "round $round, $mode: no answer came back to $GEN_IF"
	fi

	# Program time: the flood runs a little longer than the statistics window.
	flood_cmd "$(awk -v s="$STAT_SECONDS" 'BEGIN { print s + 0.4 }')" "$mode"
	"${FLOOD_CMD[@]}" >/dev/null &
	FLOOD_PID=$!
	sleep 0.2
	stat=$("$PROGSTAT" --prog-id "$(xdp_prog_id)" --seconds "$STAT_SECONDS")
	wait "$FLOOD_PID"
	FLOOD_PID=
	ns=$(kv ns_per_run "$stat")
	runs=$(kv runs "$stat")

	answer_stop "$mode"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$secs" \
		"$sent" "$refused" "$answered" "$returned" "$((a[3] - b[3]))" "$((sent - answered))" \
		"$ns" "$runs" "$cpu" "$(awk -v a="$ks0" -v b="$ks1" 'BEGIN { printf "%.2f", b - a }')" >>"$RAW"
	say "round $round $(printf '%-8s' "$mode") sent $(ratio "$sent" "$secs" 1)/s," \
		"answered $(ratio "$answered" "$secs" 1)/s, lost $((sent - answered));" \
		"$(ratio "$cpu" "$sent" 1e9) CPU ns per packet, $ns ns in the program"
}

# ratio A B SCALE: A / B × SCALE, rounded.
ratio() { awk -v a="$1" -v b="$2" -v k="$3" 'BEGIN { printf "%.0f", b ? a / b * k : 0 }'; }

# --- report ------------------------------------------------------------------------


# $RAW, one line per measurement: 1 round, 2 mode, 3 seconds, 4 sent, 5 refused,
# 6 answered, 7 came back, 8 ring drops, 9 lost, 10 ns per run, 11 runs,
# 12 generator CPU seconds, 13 ksoftirqd CPU seconds meanwhile.

# col MODE sent|answered|lost|cpu|ns: one number per round of MODE: rates in
# thousands a second, CPU and program time in ns per packet.
col() {
	awk -F'\t' -v m="$1" -v w="$2" '$2 == m {
		if (w == "sent") print $4 / $3 / 1000
		else if (w == "answered") print $6 / $3 / 1000
		else if (w == "lost") print $9
		else if (w == "cpu") print $12 * 1e9 / $4
		else if (w == "ns") print $10
	}' "$RAW"
}

# paired rate-tx|rate-drop|cpu-tx|cpu-drop|cpu-extra|prog-extra [MODE]: per
# round, latebind's MODE (latebind: SYN → SYN/ACK, the default; fastpath)
# against a reference: answered per second over the reference's, packets per
# CPU second over the reference's, and extra nanoseconds per packet (CPU, whole
# path; in the program).
paired() {
	awk -F'\t' -v w="$1" -v m="${2:-latebind}" '{ r[$1, $2] = $6 / $3; c[$1, $2] = $12 * 1e9 / $4; ns[$1, $2] = $10; rounds[$1] = 1 }
		END {
			for (i in rounds) {
				if (w == "rate-tx") print r[i, m] / r[i, "tx"]
				else if (w == "rate-drop") print r[i, m] / r[i, "drop"]
				else if (w == "cpu-tx") print c[i, "tx"] / c[i, m]
				else if (w == "cpu-drop") print c[i, "drop"] / c[i, m]
				else if (w == "cpu-extra") print c[i, m] - c[i, "tx"]
				else if (w == "prog-extra") print ns[i, m] - ns[i, "tx"]
			}
		}' "$RAW"
}

# summary_row LABEL MODE
summary_row() {
	echo "| $1 | $(col "$2" sent | spread %.0f) | $(col "$2" answered | spread %.0f)" \
		"| $(col "$2" lost | awk '{ s += $1 } END { print s + 0 }') | $(col "$2" cpu | spread %.0f)" \
		"| $(col "$2" ns | spread %.1f) |"
}

report() {
	local cpu load_end ref_desc lines how=bench/xdp.sh
	if ((SHARED)); then how="bench/run.sh (its xdp section)"; fi
	if ((QUICK)); then how="$how, --quick"; fi
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	load_end=$(cut -d' ' -f1-3 /proc/loadavg)
	if [[ $REF_KIND == xdp-bench ]]; then
		ref_desc="\`xdp-bench tx\` / \`xdp-bench drop\`, $XDP_BENCH_VERSION"
	else
		ref_desc="bench/xdp_tx.bpf.c (swap MACs, XDP_TX) and bench/xdp_drop.bpf.c, attached native with ip link — $REF_WHY"
	fi
	lines=$(
		echo "# What latebind's XDP program costs per packet: SYN cookie and fast path — $DATE"
		echo
		echo "Written by \`$how\`; method and caveats in bench/README.md."
		echo
		echo "| | |"
		echo "| --- | --- |"
		echo "| date | $(date -u +%Y-%m-%dT%H:%M:%SZ) |"
		echo "| machine | $(nproc) CPUs, $cpu |"
		echo "| kernel | $(uname -r) |"
		echo "| commit | $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) |"
		echo "| load average at start → end | $LOAD_START → $load_end |"
		echo "| rounds | $ROUNDS, interleaved (latebind SYN, latebind fast path, XDP_TX, XDP_DROP in each); $RATE_SECONDS s per rate, $STAT_SECONDS s per program time |"
		echo "| link | veth $GEN_IF (switch) → $LAB_IF (balancer), generator in the switch namespace, sink (XDP) on $GEN_IF |"
		echo "| flood | 74-byte SYNs to $VIP:$VIP_PORT from random $GEN_NET sources and ports, MSS+SACK+TS+WS, sendmmsg batches of 64, qdisc bypassed (the references get this flood too) |"
		echo "| fast-path flood | 74-byte segments (ACK+PSH, NOP NOP TS, 8 data bytes) of $FAST_FLOWS bound flows put in latebind's \`flows\` map by bench/fastflows (backend MAC: the generator's, so they come back to the sink), one flow drawn at random per frame |"
		echo "| latebind | $LATEBIND_VERSION (build/latebind), $(grep -m1 'attached to' "$LAB_BALANCER_LOG" | sed 's/^latebind: info: //')$(grep -q 'without dispatcher' "$LAB_BALANCER_LOG" && echo ' (libxdp: without its dispatcher)') |"
		echo "| plain XDP reference | $ref_desc |"
		echo "| softirq work outside the generator (ksoftirqd CPU during the rate floods) | $(awk -F'\t' '{ t += $13 } END { printf "%.2f s of %.1f s", t, s }' s="$(awk -F'\t' '{ s += $3 } END { print s }' "$RAW")" "$RAW") |"
		echo
		echo "## Summary (min / median / max over $ROUNDS rounds)"
		echo
		echo "| measurement | generator sent, k/s | answered, k/s | lost | CPU ns per packet, whole path | ns per packet in the XDP program |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: |"
		summary_row "latebind: SYN → SYN/ACK (\`tx_synack\`)" latebind
		summary_row "latebind: fast path, bound flow → backend (\`tx_fast_path\`)" fastpath
		summary_row "plain XDP_TX (swap MACs; veth \`xdp_tx\`)" tx
		summary_row "XDP_DROP (ceiling; veth \`xdp_drops\`)" drop
		echo
		echo "| ratio or difference, paired by round | min / median / max |"
		echo "| --- | ---: |"
		echo "| **latebind / plain XDP_TX**, answered per second (wall clock) | $(paired rate-tx | spread %.3f) |"
		echo "| **latebind / plain XDP_TX**, packets per CPU second (whole path) | $(paired cpu-tx | spread %.3f) |"
		echo "| latebind / XDP_DROP, answered per second (wall clock) | $(paired rate-drop | spread %.3f) |"
		echo "| latebind / XDP_DROP, packets per CPU second (whole path) | $(paired cpu-drop | spread %.3f) |"
		echo "| extra CPU per SYN over plain XDP_TX, whole path (ns) | $(paired cpu-extra | spread %.0f) |"
		echo "| extra time per SYN over plain XDP_TX, in the XDP program (ns) | $(paired prog-extra | spread %.1f) |"
		echo "| **latebind fast path / plain XDP_TX**, forwarded per second (wall clock) | $(paired rate-tx fastpath | spread %.3f) |"
		echo "| **latebind fast path / plain XDP_TX**, packets per CPU second (whole path) | $(paired cpu-tx fastpath | spread %.3f) |"
		echo "| extra CPU per fast-path packet over plain XDP_TX, whole path (ns) | $(paired cpu-extra fastpath | spread %.0f) |"
		echo "| extra time per fast-path packet over plain XDP_TX, in the XDP program (ns) | $(paired prog-extra fastpath | spread %.1f) |"
		echo
		echo "## Every measurement"
		echo
		echo "| round | measurement | seconds | sent | refused | answered | came back | ring drops | lost | answered / s | generator CPU s | CPU ns / packet | program ns / packet (runs) |"
		echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %.0f | %s (%s) |\n",
			$1, $2, $3, $4, $5, $6, ($2 == "drop" ? "–" : $7), $8, $9, $6 / $3, $12, $12 * 1e9 / $4, $10, $11 }' "$RAW"
		echo
		echo "sent: frames the generator's sendmmsg accepted; refused: sends the kernel turned away"
		echo "(a full veth ring; retried); answered: latebind's \`tx_synack\` (fastpath: \`tx_fast_path\`), or the veth's \`xdp_tx\`"
		echo "/ \`xdp_drops\` for the references; came back: answers that reached the sink on $GEN_IF;"
		echo "ring drops: the balancer veth's \`rx_queue_*_drops\`, summed; lost: sent − answered."
		echo "CPU ns per packet: the generator's user + system time over the packets it sent; the"
		echo "balancer's XDP program and the way back run in softirq inside the generator's sends"
		echo "and are charged to it (this kernel: CONFIG_IRQ_TIME_ACCOUNTING $IRQ_TIME), so this is the"
		echo "cost of one packet's whole trip whatever else the machine was doing; ratios of it"
		echo "are what the rates would be with the CPU to ourselves."
		echo "ns per packet: run_time_ns / run_cnt of the attached program (BPF_ENABLE_STATS), in a"
		echo "separate flood, so the rates above are measured with the statistics off; it includes"
		echo "about two clock reads of the statistics themselves (the XDP_DROP line shows that floor)."
	)
	mkdir -p "$(dirname "$RESULTS")"
	printf '%s\n' "$lines" >"$RESULTS"
	echo
	sed -n '/^## Summary/,/^## Every/p' "$RESULTS" | sed '$d'
	say "results: $RESULTS (raw: $RAW)"
}

# --- main ----------------------------------------------------------------------------

main() {
	local t0=$SECONDS round mode
	((EUID == 0)) || die "run as root (network namespaces, XDP)"
	for t in cc clang ip ethtool awk; do
		command -v "$t" >/dev/null || die "$t is not installed (make deps)"
	done
	[[ -x $LAB_LATEBIND && -f $LAB_XDP_PASS ]] || die "build latebind first: make (or make bench)"
	if [[ ${BENCH_BUILT:-0} == 1 ]]; then
		for t in "$SYNFLOOD" "$PROGSTAT" "$FASTFLOWS" "$OUT"/xdp_{sink,tx,drop}.bpf.o; do
			[[ -e $t ]] || die "BENCH_BUILT=1 but $t is missing"
		done
	else
		build
	fi
	# Our own copy (BPF objects are embedded), so a rebuild in the tree meanwhile
	# cannot change what is measured half way through; bench/run.sh hands us its.
	if [[ -n ${BENCH_LATEBIND:-} ]]; then
		LAB_LATEBIND=$BENCH_LATEBIND
	else
		cp "$LAB_LATEBIND" "$OUT/latebind"
		LAB_LATEBIND=$OUT/latebind
	fi
	LATEBIND_VERSION=$("$LAB_LATEBIND" --version 2>&1 | head -n 1)
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	IRQ_TIME=unknown
	if [[ -r /boot/config-$(uname -r) ]]; then
		IRQ_TIME=$(grep -q '^CONFIG_IRQ_TIME_ACCOUNTING=y' "/boot/config-$(uname -r)" && echo on || echo off)
	elif [[ -r /proc/config.gz ]]; then
		IRQ_TIME=$(zgrep -q '^CONFIG_IRQ_TIME_ACCOUNTING=y' /proc/config.gz && echo on || echo off)
	fi

	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if ((SHARED)); then
		if [[ ! -d $LAB_RUN ]] || ! ip netns list | grep -q "^$SWITCH_NS\b"; then
			die "BENCH_LAB_SHARED=1 but the $LB_LAB_PREFIX lab is not up"
		fi
	else
		bench_lab_up
	fi

	# The answers come back to the generator's port: drop them there, count them.
	ip -n "$SWITCH_NS" link set dev "$GEN_IF" xdpdrv off
	ip -n "$SWITCH_NS" link set dev "$GEN_IF" xdpdrv obj "$OUT/xdp_sink.bpf.o" sec xdp
	lab_balancer_config
	: >"$LAB_BALANCER_LOG"

	choose_reference
	say "plain XDP reference: $REF_KIND${REF_WHY:+ ($REF_WHY)}"
	say "$ROUNDS round(s): latebind SYN, latebind fast path, XDP_TX, XDP_DROP; ${RATE_SECONDS} s rate + ${STAT_SECONDS} s program time each"
	: >"$RAW"
	for ((round = 1; round <= ROUNDS; round++)); do
		for mode in latebind fastpath tx drop; do
			measure "$round" "$mode"
		done
	done
	report
	say "done in $((SECONDS - t0)) s"
}

main
