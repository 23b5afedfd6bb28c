# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The several-balancers section of bench/run.sh, on the cluster lab
# (tests/lab/cluster.sh: balancer2, BIRD on the router and both balancers, the
# VIP announced by BGP and spread by ECMP), added to the bench's running lab
# and taken away again:
#
#   one / two   (a) new connection per request, 1 KiB, wrk from client1, with
#               balancer alone announcing the VIP, then with both (the order
#               swapped every round): requests/s, p50/p99, each daemon's CPU
#               (/proc/PID/stat), the connections each took, and how busy the
#               whole machine was (/proc/stat) — on a shared 2-CPU machine two
#               balancers share the same cores as everything else;
#   failover    a 64 MiB download (16 MiB/s) whose balancer is SIGKILLed and
#               its link taken down mid-way (the balancers in turn): the time
#               until the router dropped the path (BGP hold time, 3 s), and the
#               failover gap, the longest time the client got no new byte, on
#               the wire and at curl; every download checked byte for byte.
#
# Sourced by bench/run.sh after http.sh (proc_cpu) and its own helpers (say,
# die, kv, median, OUT, QUICK); defines, does nothing.

# shellcheck source=tests/lab/cluster.sh
source "$ROOT/tests/lab/cluster.sh"

CLUSTER_ROUNDS=${BENCH_CLUSTER_ROUNDS:-3}
CLUSTER_SECONDS=${BENCH_CLUSTER_SECONDS:-3}
CLUSTER_FAILOVERS=${BENCH_CLUSTER_FAILOVERS:-3}
CLUSTER_RAW=$OUT/cluster-raw.tsv
FAILOVER_RAW=$OUT/failover-raw.tsv
CLUSTER_UP=0
CLUSTER_PIDS=() # a download and its sampler while they run

cluster_quick() {
	CLUSTER_ROUNDS=1 CLUSTER_SECONDS=1 CLUSTER_FAILOVERS=1
}

# machine_jiffies: "busy total" jiffies of all CPUs so far (/proc/stat; idle and
# iowait are not busy).
machine_jiffies() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# cluster_verify: each backend's own object comes back intact through the VIP,
# several times, so with two balancers both answer (a benchmark of wrong answers
# is worth nothing).
cluster_verify() {
	local w i got
	for ((i = 0; i < 4; i++)); do
		for w in "${LAB_WEBS[@]}"; do
			got=$(lab_curl client2 -f "http://$VIP/$w/1k.bin" | sha256sum | cut -d' ' -f1)
			[[ $got == "$(lab_sha256 "/$w/1k.bin")" ]] || die "cluster: /$w/1k.bin did not come back intact"
		done
	done
}

# cluster_config one|two: balancer alone on the VIP's route, or both.
cluster_config() {
	if [[ $1 == one ]]; then
		if [[ -n $LAB_BALANCER2_PID ]]; then
			lab_cluster_stop balancer2 || die "cluster: balancer2 did not exit cleanly; see $LAB_BALANCER2_LOG"
		fi
		lab_wait 10 lab_vip_via "$BALANCER_IP" || die "cluster: the router still routes the VIP to balancer2"
	else
		if [[ -z $LAB_BALANCER2_PID ]]; then
			lab_cluster_start balancer2 >/dev/null || die "cluster: balancer2 did not start; see $LAB_BALANCER2_LOG"
		fi
		lab_wait 15 lab_vip_via "$BALANCER_IP" "$BALANCER2_IP" ||
			die "cluster: the router has no route via both balancers after 15 s"
	fi
	cluster_verify
}

# cluster_counter NODE NAME: the dispatcher counter NAME of NODE's daemon (0
# when it is not running); cluster_taken NODE: the connections it took.
cluster_counter() {
	if [[ -z $(lab_cluster_pid "$1") ]]; then
		echo 0
		return
	fi
	lab_on "$1" lab_dispatcher_counter "$2"
}
cluster_taken() { cluster_counter "$1" conns_taken; }
# cluster_views: "sent applied" flow views, both daemons together.
cluster_views() {
	echo $(($(cluster_counter balancer peer_views_sent) + $(cluster_counter balancer2 peer_views_sent))) \
		$(($(cluster_counter balancer peer_views_applied) + $(cluster_counter balancer2 peer_views_applied)))
}
cluster_cpu() { # NODE: its daemon's CPU seconds so far (0 when it is not running)
	local pid
	pid=$(lab_cluster_pid "$1")
	if [[ -n $pid ]]; then proc_cpu "$pid"; else echo 0; fi
}

# cluster_wrk ROUND one|two: wrk, a new connection per request, /web1/1k.bin.
cluster_wrk() {
	local round=$1 conf=$2 out line c1 c2 t1 t2 m0 m1 err v0 v1
	v0=$(cluster_views)
	c1=$(cluster_cpu balancer)
	c2=$(cluster_cpu balancer2)
	t1=$(cluster_taken balancer)
	t2=$(cluster_taken balancer2)
	m0=$(machine_jiffies)
	out=$(lab_exec client1 timeout -k 5 $((CLUSTER_SECONDS + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNS" \
		-d"${CLUSTER_SECONDS}s" --timeout 5s -s "$WRK_LUA" -H 'Connection: close' \
		"http://$VIP/web1/1k.bin" 2>&1) || true
	m1=$(machine_jiffies)
	v1=$(cluster_views)
	line=$(grep '^requests=' <<<"$out") || die "cluster $conf: wrk gave no result: $(tail -n 3 <<<"$out")"
	[[ $(kv requests "$line") -gt 0 ]] || die "cluster $conf: wrk completed no request"
	err=$(($(kv connect_err "$line") + $(kv read_err "$line") + $(kv write_err "$line") +
		$(kv timeout_err "$line") + $(kv status_err "$line")))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$conf" \
		"$(awk -v d="$(kv duration_us "$line")" 'BEGIN { printf "%.3f", d / 1e6 }')" \
		"$(kv requests "$line")" "$err" "$(kv p50_us "$line")" "$(kv p99_us "$line")" \
		"$(awk -v a="$c1" -v b="$(cluster_cpu balancer)" 'BEGIN { printf "%.2f", b - a }')" \
		"$(awk -v a="$c2" -v b="$(cluster_cpu balancer2)" 'BEGIN { printf "%.2f", b < a ? 0 : b - a }')" \
		"$(lab_minus "$(cluster_taken balancer)" "$t1")" "$(lab_minus "$(cluster_taken balancer2)" "$t2")" \
		"$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1] }')" \
		"$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[2] - x[2] }')" \
		"$(awk -v a="$v0" -v b="$v1" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1] }')" \
		"$(awk -v a="$v0" -v b="$v1" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[2] - x[2] }')" \
		>>"$CLUSTER_RAW"
}
# $CLUSTER_RAW columns: 1 round, 2 one|two, 3 seconds, 4 requests, 5 errors
# (socket errors and statuses > 399), 6/7 p50/p99 µs (wrk), 8/9 CPU seconds of
# balancer's and balancer2's daemon, 10/11 connections each took, 12/13 busy
# and total jiffies of the whole machine (all CPUs), 14/15 flow views the
# daemons sent to their peer and applied from it (together).

# cluster_failover ROUND NODE: a download through NODE, NODE killed mid-way.
cluster_failover() {
	local round=$1 node=$2 f=$OUT/failover.bin port dl prog t0 dropped web code
	web=web$(((round - 1) % 3 + 1))
	rm -f "$f" "$f.code" "$f.progress"
	port=$(lab_port_via "$node" client1 $((45000 + 200 * round))) ||
		die "cluster: no port of client1 routed to $node"
	lab_download client1 "/$web/64m.bin" "$f" "$port"
	dl=$!
	lab_progress "$f" "$dl" "$f.progress" client1 "$port"
	prog=$!
	CLUSTER_PIDS=("$dl" "$prog")
	lab_wait 6 lab_has_bytes "$f" $((8 << 20)) || die "cluster: the download through $node did not get under way"
	t0=$(lab_now_ms)
	lab_cluster_kill "$node" || die "cluster: no daemon to kill on $node"
	lab_wait 10 lab_vip_via "$(lab_ip "$(lab_other "$node")")" ||
		die "cluster: the router kept $node's path 10 s after the kill"
	dropped=$(($(lab_now_ms) - t0))
	wait "$dl" 2>/dev/null || true
	wait "$prog" 2>/dev/null || true
	CLUSTER_PIDS=()
	code=$(cat "$f.code" 2>/dev/null || true)
	[[ $code == 200 && $(sha256sum <"$f" | cut -d' ' -f1) == "$(lab_sha256 "/$web/64m.bin")" ]] ||
		die "cluster: failover round $round: the download through $node did not end byte-exact (status '$code')"
	printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$node" "$dropped" "$(lab_max_gap "$f.progress" 3)" \
		"$(lab_max_gap "$f.progress" 2)" >>"$FAILOVER_RAW"
	rm -f "$f"
	lab_cluster_revive "$node" >/dev/null || die "cluster: $node did not come back; see its log"
	lab_wait 15 lab_vip_via "$BALANCER_IP" "$BALANCER2_IP" ||
		die "cluster: the router has no route via both balancers 15 s after $node came back"
}
# $FAILOVER_RAW columns: 1 round, 2 the balancer killed, 3 ms from the kill
# until the router dropped its path, 4/5 the longest time without a new byte,
# ms, on the wire (the client kernel's bytes_received) and at curl.

cluster_section() {
	local round conf confs
	: >"$CLUSTER_RAW"
	: >"$FAILOVER_RAW"
	say "cluster: balancer2 and BIRD join the lab; $CLUSTER_ROUNDS round(s) of one and two balancers" \
		"(wrk ${CLUSTER_SECONDS} s, new connection per request), $CLUSTER_FAILOVERS failover(s)"
	lab_cookie_key
	# shellcheck disable=SC2034 # read by lab_backends_attach: hand-offs from either balancer, cookie mode
	LAB_BALANCER_MACS="$BALANCER_MAC $BALANCER2_MAC" LAB_HANDOFF_MODE=cookie
	lab_backends_detach >/dev/null 2>&1 || true
	lab_backends_attach >>"$OUT/attach.log" 2>&1 || die "latebind backend attach failed; see $OUT/attach.log"
	CLUSTER_UP=1
	lab_cluster_up >>"$OUT/cluster.log" 2>&1 || die "cluster: lab_cluster_up failed; see $OUT/cluster.log"
	LAB_BALANCER_EXTRA=$(lab_cluster_extra balancer) lab_balancer_config
	LAB_BALANCER_EXTRA=$(lab_cluster_extra balancer2) lab_balancer2_config
	lab_cluster_start balancer >/dev/null || die "cluster: balancer did not start; see $LAB_BALANCER_LOG"
	for ((round = 1; round <= CLUSTER_ROUNDS; round++)); do
		confs=(one two)
		if ((round % 2 == 0)); then confs=(two one); fi
		for conf in "${confs[@]}"; do
			cluster_config "$conf"
			cluster_wrk "$round" "$conf"
		done
		awk -F'\t' -v r="$round" '$1 == r {
			s = s sprintf("; %s: %.0f/s p50 %.0f µs, CPU µs/request %.1f, machine %.0f %% busy", $2,
				$4 / $3, $6, ($8 + $9) * 1e6 / $4, 100 * $12 / $13) }
			END { print "bench: round " r s }' "$CLUSTER_RAW"
	done
	cluster_config two
	for ((round = 1; round <= CLUSTER_FAILOVERS; round++)); do
		if ((round % 2)); then conf=balancer; else conf=balancer2; fi
		cluster_failover "$round" "$conf"
		awk -F'\t' -v r="$round" '$1 == r { printf "bench: failover %d (%s killed): path dropped after %d ms; gap %d ms on the wire, %d ms at curl\n", r, $2, $3, $4, $5 }' "$FAILOVER_RAW"
	done
	cluster_cleanup
}

# cluster_cleanup: what the section started, by PID, and the cluster lab taken
# away (also from run.sh's cleanup).
cluster_cleanup() {
	local pid
	for pid in "${CLUSTER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${CLUSTER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	CLUSTER_PIDS=()
	if ((CLUSTER_UP)); then
		lab_cluster_teardown || say "cluster: lab_cluster_down left something"
		CLUSTER_UP=0
	fi
}

# --- report ---------------------------------------------------------------------------

# cluster_stat CONF EXPR FORMAT: "min / median / max" over rounds of EXPR (awk,
# on $CLUSTER_RAW's fields) for CONF.
cluster_stat() {
	awk -F'\t' -v c="$1" "\$2 == c { print $2 }" "$CLUSTER_RAW" | spread "$3"
}
# cluster_pair EXPR FORMAT: the same of EXPR(two) / EXPR(one), paired by round.
cluster_pair() {
	awk -F'\t' "{ v[\$1, \$2] = $1; r[\$1] = 1 }
		END { for (i in r) if ((i, \"one\") in v && (i, \"two\") in v && v[i, \"one\"]) print v[i, \"two\"] / v[i, \"one\"] }" \
		"$CLUSTER_RAW" | spread "$2"
}
failover_stat() { # COLUMN FORMAT
	awk -F'\t' -v c="$1" '{ print $c }' "$FAILOVER_RAW" | spread "$2"
}

# shellcheck disable=SC2016 # the awk expressions are awk's
cluster_report() {
	local n
	echo "## Several balancers: one and two behind ECMP, and failover"
	echo
	echo "The cluster lab (tests/lab/cluster.sh): balancer2 and BIRD 2 on the router and both balancers,"
	echo "docs/examples/bird-*.conf (hold time 3 s), the VIP announced from table 200, the router's"
	echo "ECMP hashing addresses and ports. wrk $WRK_VERSION from client1, -t$WRK_THREADS -c$WRK_CONNS,"
	echo "${CLUSTER_SECONDS} s, a new connection per request (Connection: close), /web1/1k.bin;"
	echo "\"one\": balancer alone announces the VIP (balancer2 stopped; balancer still sends it its"
	echo "flow views, as to a peer that died), \"two\": both do; the order"
	echo "swapped every round. $CLUSTER_ROUNDS round(s); min / median / max over rounds. Both balancers"
	echo "run on the same $(nproc) CPUs as wrk, the router, the switch and the three nginx:"
	echo "a second balancer adds no cores here, so read the ratio with the machine's busy share."
	echo
	echo "| measure | one balancer | two balancers (ECMP) |"
	echo "| --- | ---: | ---: |"
	echo "| requests/s | $(cluster_stat one '$4 / $3' %.0f) | $(cluster_stat two '$4 / $3' %.0f) |"
	echo "| p50 µs (wrk) | $(cluster_stat one '$6' %.0f) | $(cluster_stat two '$6' %.0f) |"
	echo "| p99 µs | $(cluster_stat one '$7' %.0f) | $(cluster_stat two '$7' %.0f) |"
	echo "| latebind daemons' CPU, µs per request (all daemons) | $(cluster_stat one '($8 + $9) * 1e6 / $4' %.1f) | $(cluster_stat two '($8 + $9) * 1e6 / $4' %.1f) |"
	echo "| latebind daemons' CPU, % of one CPU | $(cluster_stat one '($8 + $9) * 100 / $3' %.0f) | $(cluster_stat two '($8 + $9) * 100 / $3' %.0f) |"
	echo "| the whole machine busy, % of all its CPUs | $(cluster_stat one '100 * $12 / $13' %.0f) | $(cluster_stat two '100 * $12 / $13' %.0f) |"
	echo "| connections balancer2 took, % | – | $(cluster_stat two '($10 + $11) ? 100 * $11 / ($10 + $11) : 0' %.0f) |"
	echo "| flow views sent to the peer, per request | $(cluster_stat one '$14 / $4' %.2f) | $(cluster_stat two '$14 / $4' %.2f) |"
	echo "| flow views applied from the peer, per request | – | $(cluster_stat two '$15 / $4' %.2f) |"
	echo
	echo "| paired by round (min / median / max) | two / one |"
	echo "| --- | ---: |"
	echo "| requests/s | $(cluster_pair '$4 / $3' %.3f) |"
	echo "| latebind daemons' CPU per request | $(cluster_pair '($8 + $9) / $4' %.3f) |"
	echo
	echo "Errors (socket errors, statuses > 399), summed over rounds: one $(awk -F'\t' '$2 == "one" { e += $5 } END { print e + 0 }' "$CLUSTER_RAW"); two $(awk -F'\t' '$2 == "two" { e += $5 } END { print e + 0 }' "$CLUSTER_RAW")."
	echo
	n=$(wc -l <"$FAILOVER_RAW")
	echo "### Failover gap"
	echo
	echo "$n download(s) of 64 MiB at ${LAB_CLUSTER_RATE%M} MiB/s from client1, through the balancer named (each"
	echo "in turn), which is SIGKILLed with its link taken down once 8 MiB have arrived; every"
	echo "download ended byte-exact through the other. The gap is the longest time without a new"
	echo "byte, sampled every 0.1 s: on the wire (the client kernel's bytes_received) and at curl"
	echo "(its socket buffer carries it a while)."
	echo
	echo "| | path dropped after the kill, ms | gap on the wire, ms | gap at curl, ms |"
	echo "| --- | ---: | ---: | ---: |"
	awk -F'\t' '{ printf "| round %s, %s killed | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$FAILOVER_RAW"
	echo "| **median** (min / median / max) | $(failover_stat 3 %.0f) | $(failover_stat 4 %.0f) | $(failover_stat 5 %.0f) |"
	echo
	echo "### Several balancers: every measurement"
	echo
	echo "| round | config | s | requests | errors | p50 µs | p99 µs | balancer CPU s | balancer2 CPU s | taken by balancer | by balancer2 | machine busy / total jiffies | views sent / applied |"
	echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 }' "$CLUSTER_RAW"
	echo
}
