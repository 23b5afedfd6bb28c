#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/compare.sh: several latebind binaries (two commits, a build with and
# without a change) on one workload, interleaved round by round with HAProxy,
# on one lab: to tell a regression from the machine's noise, which moves every
# mode of a round alike. A bisection builds each commit's binary (make
# build/latebind in a worktree of it) and hands them all to one run.
#
# usage: bench/compare.sh [--rounds N] [--workload rotate|close|keepalive]
#                         [--threads N] [--busy-poll] LABEL=BINARY [LABEL=BINARY ...]   (as root)
#
#   --rounds     rounds (3); every binary and HAProxy once per round
#   --workload   one of the http section's wrk workloads (rotate: (g); close: (a);
#                keepalive: (b)), with its wrk settings (bench/http.sh)
#   --threads    latebind's `dispatcher: {threads: N}` (1; 0: the default)
#   --busy-poll  latebind's `dispatcher: {busy_poll: true}` (off)
#
# Each binary attaches the backends' programs itself (its own BPF objects).
# Prints a line per run and at the end, per label, the medians of requests/s,
# the balancer's CPU per request and the backends' TC programs' ns per run.
# Raw rows: $BENCH_OUT/compare-raw.tsv (bench/http.sh's columns). The switch
# port's NAPI thread as in run.sh (BENCH_NAPI_THREADED).
set -euo pipefail

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
	sed -n '10,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

ROUNDS=3
WORKLOAD=rotate
THREADS=1
BUSY_POLL=false
BINS=()
while (($#)); do
	case $1 in
	--rounds | --workload | --threads) [[ $# -ge 2 ]] || usage ;;&
	--rounds) ROUNDS=$2 && shift ;;
	--workload) WORKLOAD=$2 && shift ;;
	--threads) THREADS=$2 && shift ;;
	--busy-poll) BUSY_POLL=true ;;
	-h | --help) usage ;;
	*=*) BINS+=("$1") ;;
	*) usage ;;
	esac
	shift
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[0-9]+$ && $WORKLOAD =~ ^(rotate|close|keepalive)$ ]] || usage
((${#BINS[@]})) || usage
((EUID == 0)) || die "run as root (network namespaces, XDP)"

OUT=${BENCH_OUT:-$ROOT/build/bench}
PROGSTAT=$OUT/progstat
mkdir -p "$OUT"
cc -O2 -Wall -Werror -o "$PROGSTAT" "$BENCH_DIR/progstat.c"
# shellcheck source=bench/http.sh
source "$BENCH_DIR/http.sh"
HTTP_RAW=$OUT/compare-raw.tsv
if ((THREADS)); then
	LAB_BALANCER_EXTRA="dispatcher: {threads: $THREADS, busy_poll: $BUSY_POLL}"
else
	LAB_BALANCER_EXTRA="dispatcher: {busy_poll: $BUSY_POLL}"
fi

# Our own copies, as run.sh: a rebuild meanwhile cannot change what is measured.
for b in "${BINS[@]}"; do
	[[ -x ${b#*=} ]] || die "${b#*=}: not an executable"
	[[ ${b%%=*} =~ ^[A-Za-z0-9._-]+$ && ${b%%=*} != haproxy ]] || die "${b%%=*}: a label is [A-Za-z0-9._-]+, not haproxy"
	cp "${b#*=}" "$OUT/compare-${b%%=*}"
done

LAB_IS_UP=0
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	http_cleanup || true
	if ((LAB_IS_UP)); then
		timeout --foreground -k 5 60 "$ROOT/tests/lab/lab.sh" down >>"$OUT/lab.log" 2>&1 || rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

LAB_LATEBIND=$OUT/compare-${BINS[0]%%=*}
bench_lab_up
: >"$LAB_BALANCER_LOG"
http_setup
say "$ROUNDS round(s) of ${BINS[*]%%=*} haproxy, wrk $WORKLOAD ${HTTP_SECONDS} s, latebind threads $THREADS, busy_poll $BUSY_POLL"
for ((round = 1; round <= ROUNDS; round++)); do
	for b in "${BINS[@]}" haproxy; do
		label=${b%%=*}
		if [[ $label == haproxy ]]; then
			http_mode_start haproxy
			w_wrk "$round" haproxy "$WORKLOAD"
			http_mode_stop haproxy
		else
			LAB_LATEBIND=$OUT/compare-$label
			backends_attach cookie
			http_mode_start latebind
			w_wrk "$round" latebind "$WORKLOAD"
			http_mode_stop latebind
			# The row under the binary's label, not the mode's.
			sed -i '$ s/^\([^\t]*\t\)latebind\t/\1'"$label"'\t/' "$HTTP_RAW"
		fi
		tail -n 1 "$HTTP_RAW" | awk -F'\t' '{
			printf "bench: round %d %-12s %7.0f requests/s, balancer CPU %5.1f µs/request, TC %5.0f ns/run, p50 %s µs\n",
				$1, $2, $5 / $4, $11 * 1e6 / $5, $17 ? $16 / $17 : 0, $8 }'
	done
done
say "medians over rounds (label, requests/s, balancer CPU µs/request, TC ns/run):"
for b in "${BINS[@]}" haproxy; do
	label=${b%%=*}
	printf 'bench:   %-12s %7.0f %6.1f %6.0f\n' "$label" \
		"$(awk -F'\t' -v l="$label" '$2 == l { print $5 / $4 }' "$HTTP_RAW" | median)" \
		"$(awk -F'\t' -v l="$label" '$2 == l { print $11 * 1e6 / $5 }' "$HTTP_RAW" | median)" \
		"$(awk -F'\t' -v l="$label" '$2 == l && $17 { print $16 / $17 }' "$HTTP_RAW" | median)"
done
