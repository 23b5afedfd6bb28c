# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Hostile input with the balancer and backends attached (the lab parts):
#   1. SYN flood from client2 with spoofed sources while client1 makes real
#      requests: they succeed, memory and flow state do not grow, every SYN
#      that reaches the balancer is answered, and the answers die at the router;
#   2. forged ACKs (random cookies): each dropped as drop_bad_cookie, nothing
#      allocated (but for the rare one a 24-bit tag lets through: see there);
#   3. garbage to the VIP on the balancer's own link: every frame counted under
#      the drop reason it was built for;
#   4. slow clients (slowloris): answered 408 at the request timeout, bounded
#      memory, real clients served meanwhile;
#   5. spoofed hand-offs straight to a backend (its real address, and the VIP on
#      its own link): no HTTP answer, no connection, counted on the backend;
#   6. requests that try to dodge the content directory: routed by their
#      normalised form to a holder, or refused by the balancer.
# The tools are in tests/hostile/ (and bench/synflood.c), built into
# build/hostile/. Every flood is bounded in count and time and stops by itself;
# spoofed sources are in 192.0.2.0/26, a documentation range the router has no
# route for, so answers to them are dropped there. Figures go out as "# " lines.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

HOSTILE_BIN=$LAB_ROOT/build/hostile
HOSTILE_SPOOF_NET=192.0.2.0/26 # no route on the router; the VIP (.80) is not in it
HOSTILE_TMP=$LAB_RUN/hostile
HOSTILE_PIDS=()
hostile_t0=$SECONDS

# --- helpers -----------------------------------------------------------------

# hostile_build: the tools, each rebuilt only when its sources are newer
# (forge also takes the hand-off option from headers/handoff_opt.h).
# Compiled to a temporary name and renamed, so a run beside ours never sees
# half a binary.
hostile_build() {
	local t src out
	mkdir -p "$HOSTILE_BIN" || return 1
	for t in forge pktflood slowloris synflood; do
		src=$LAB_ROOT/tests/hostile/$t.c
		[[ $t == synflood ]] && src=$LAB_ROOT/bench/synflood.c
		out=$HOSTILE_BIN/$t
		if [[ -x $out && $out -nt $src && $out -nt $LAB_ROOT/tests/hostile/rawframe.h &&
			$out -nt $LAB_ROOT/headers/handoff_opt.h ]]; then
			continue
		fi
		cc -O2 -Wall -Werror -I"$LAB_ROOT/tests/hostile" -I"$LAB_ROOT/headers" -o "$out.$$" "$src" || return 1
		mv -f "$out.$$" "$out" || return 1
	done
}

# bg OUT NODE CMD...: run CMD in NODE's namespace in the background, its
# output into OUT; sets BG_PID (ip netns exec execs CMD: the PID is CMD's).
bg() {
	local out=$1 node=$2
	shift 2
	lab_exec "$node" "$@" >"$out" 2>&1 &
	BG_PID=$!
	HOSTILE_PIDS+=("$BG_PID")
}


# Every job we started and is still running: stopped (TERM, then KILL), by PID.
hostile_stop_jobs() {
	lab_stop_pids 3 "${HOSTILE_PIDS[@]}"
	HOSTILE_PIDS=()
}

# On any exit (failure, timeout's SIGTERM): our jobs, the daemon, the backends.
hostile_cleanup() {
	trap - EXIT
	hostile_stop_jobs
	lab_balancer_stop >/dev/null 2>&1
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach >/dev/null 2>&1
}
trap hostile_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# snap ARRAY: every counter of `latebind status` into the associative ARRAY:
# XDP reasons by name, dispatcher counters as disp_NAME, "Flows:" as flows;
# then what the links, the router and the real client (client1) counted, so
# every tolerance below is a measured figure (see link_snap, client_snap).
snap() {
	local -n _snap=$1
	local k v
	_snap=()
	while read -r k v; do
		_snap["$k"]=$v
	done < <(lab_exec_bpf balancer "$LAB_LATEBIND" status | awk '
		$1 == "Flows:" { print "flows", $2; next }
		/^Counters/ { c = 1; d = 0; next }
		/^Dispatcher:/ { d = 1; c = 0; next }
		c && NF >= 2 { print $1, $2 }
		d && NF >= 2 { print "disp_" $1, $2 }')
	link_snap "$1"
	client_snap "$1"
}

# sysfs_stat NODE IF NAME: an interface statistic (tx_dropped, rx_packets...).
sysfs_stat() {
	lab_number "$1 $2 $3" "$(lab_exec "$1" cat "/sys/class/net/$2/statistics/$3")"
}

# veth_stat NODE IF NAME: a per-queue veth statistic (ethtool -S,
# rx_queue_N_NAME) summed over the interface's queues.
veth_stat() {
	lab_number "$1 $2 ethtool $3" "$(lab_exec "$1" ethtool -S "$2" | awk -v n="$3:" '
		{ k = $1 }
		sub(/^rx_queue_[0-9]+_/, "", k) && k == n { s += $2; seen = 1 }
		END { if (seen) print s }')"
}

# link_snap ARRAY: the links' own counters. A veth whose peer's ring is full
# drops the frame and counts it in its tx_dropped: a frame pktflood or synflood
# wrote itself is then refused to it (ENOBUFS) and sent again, so it is in their
# "refused", not lost; a frame a bridge or the router forwarded is lost.
#   xdp_seen      frames the balancer's XDP ran on (its veth's own count)
#   bal_rx_lost   frames its veth took but lost before XDP (rx_queue_N_drops)
#   sw_bal_txdrop frames the switch could not hand the balancer (its port, sw-balancer)
#   rt_txdrop     frames the router could not hand the switch (its eth0)
#   bal_tx_lost   the balancer's XDP_TX that failed (rx_queue_N_xdp_tx_errors),
#   sw_rt_txdrop  ... frames the switch could not hand the router, and
#   rt_rxdrop     ... the router's receive backlog full (the same frames as
#                 sw_rt_txdrop when both count them: back_lost takes the larger)
link_snap() {
	local -n _ls=$1
	_ls["xdp_seen"]=$(veth_stat balancer "$LAB_IF" xdp_packets)
	_ls["bal_rx_lost"]=$(veth_stat balancer "$LAB_IF" drops)
	_ls["sw_bal_txdrop"]=$(sysfs_stat switch "$BALANCER_PEER" tx_dropped)
	_ls["rt_txdrop"]=$(sysfs_stat router "$LAB_IF" tx_dropped)
	_ls["bal_tx_lost"]=$(veth_stat balancer "$LAB_IF" xdp_tx_errors)
	_ls["sw_rt_txdrop"]=$(sysfs_stat switch sw-router tx_dropped)
	_ls["rt_rxdrop"]=$(sysfs_stat router "$LAB_IF" rx_dropped)
	_ls["noroutes"]=$(netstat_number router IpExt InNoRoutes)
	_ls["bal_delivered"]=$(netstat_number balancer Ip InDelivers)
	_ls["bal_addr_errors"]=$(netstat_number balancer Ip InAddrErrors)
}

# client_snap ARRAY: what the real client's TCP did (client1 makes every real
# request here, each on a new connection): c1_opens connections, c1_syns SYNs
# (the first ones and retries), c1_late the segments that can reach the
# balancer after their flow has gone (retransmissions and resets: the balancer
# keeps a closed flow 3 s, so only a late retry or a reset outlives it).
client_snap() {
	local -n _cs=$1
	local opens synretrans retrans rsts
	opens=$(netstat_number client1 Tcp ActiveOpens)
	synretrans=$(netstat_number client1 TcpExt TCPSynRetrans)
	retrans=$(netstat_number client1 Tcp RetransSegs)
	rsts=$(netstat_number client1 Tcp OutRsts)
	[[ $opens$synretrans$retrans$rsts =~ ^[0-9]+$ ]] || return 0 # missing: grew says so
	_cs["c1_opens"]=$opens
	_cs["c1_syns"]=$((opens + synretrans))
	_cs["c1_late"]=$((retrans + rsts))
}

# fwd_lost A B: frames lost between the client LAN and the balancer's XDP in
# the flood's direction, between snapshots A and B (a flood's or a real
# client's: the counters cannot tell, so this is an upper bound of either).
fwd_lost() {
	echo $(($(grew "$1" "$2" rt_txdrop) + $(grew "$1" "$2" sw_bal_txdrop) + $(grew "$1" "$2" bal_rx_lost)))
}
# back_lost A B: the balancer's answers lost on their way to the router.
back_lost() {
	local swr rtr
	swr=$(grew "$1" "$2" sw_rt_txdrop)
	rtr=$(grew "$1" "$2" rt_rxdrop)
	echo $(($(grew "$1" "$2" bal_tx_lost) + (swr > rtr ? swr : rtr)))
}

# snap_until ARRAY SECONDS COND: snapshot ARRAY again until the function COND
# holds, up to SECONDS: a flood's last frames may still be on their way when
# its tool exits (in a veth's ring, the router's backlog).
snap_until() {
	local deadline=$((SECONDS + $2))
	snap "$1"
	until "$3"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
		snap "$1"
	done
}

# counter_past NAME N: the balancer's counter NAME has reached N.
counter_past() { (($(lab_balancer_counter "$1") >= $2)); }
# opens_past N: client1 has opened N connections (Tcp ActiveOpens).
opens_past() { (($(netstat_number client1 Tcp ActiveOpens) >= $1)); }

# check_counted NAME BUILT COUNTED: every frame built for a reason was counted
# under it, but for those lost on the way (LOST, set per section).
check_counted() {
	check "$1 (built $2, counted $3, lost before XDP $LOST)" \
		test "$3" -le "$2" -a "$3" -ge $(($2 - LOST))
}

# bsnap NODE ARRAY: a backend's counters (`latebind backend status`).
bsnap() {
	local -n _bsnap=$2
	local k v
	_bsnap=()
	while read -r k v; do
		_bsnap["$k"]=$v
	done < <(lab_exec_bpf "$1" "$LAB_LATEBIND" backend status |
		awk '/^Counters/ { c = 1; next } c && NF >= 2 { print $1, $2 }')
}

# The sum of every drop_* reason but those of normal service: the handshake's
# (a valid bare ACK) and a backend's FIN notice (its response went direct).
drops() {
	local -n _s=$1
	local k sum=0
	for k in "${!_s[@]}"; do
		[[ $k == drop_* && $k != drop_handshake_ack && $k != drop_fin_notice ]] &&
			sum=$((sum + ${_s["$k"]}))
	done
	echo "$sum"
}

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$LAB_BALANCER_PID/status" 2>/dev/null; }
flows() { lab_balancer_flows; }
flows_at_most() { (($(lab_balancer_flows) <= $1)); }

# kv FIELD LINE: the value of FIELD=value in a tool's summary line.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# netstat_field NODE SECTION FIELD: from /proc/net/snmp or /proc/net/netstat
# (e.g. IpExt InNoRoutes, Ip InAddrErrors), of that namespace.
netstat_field() {
	lab_exec "$1" cat /proc/net/snmp /proc/net/netstat | awk -v s="$2:" -v f="$3" '
		$1 != s { next }
		!hdr { for (i = 2; i <= NF; i++) if ($i == f) col = i; hdr = 1; next }
		{ print (col ? $col : ""); exit }'
}
# netstat_number NODE SECTION FIELD: the same, a failure if it is not there.
netstat_number() { lab_number "$1 $2 $3" "$(netstat_field "$@")"; }

# real_requests NODE N RATE TAG: N requests for /shared/1k.bin, each on a new
# connection (the server closes it), RATE a second; prints how many got 200.
real_requests() {
	lab_exec "$1" timeout 60 curl -s -o /dev/null -H 'Connection: close' --rate "$3/s" \
		--connect-timeout 3 --max-time 5 -w '%{http_code}\n' \
		"http://$VIP/shared/1k.bin?$4=[1-$2]" 2>/dev/null | grep -c '^200$'
}

# ge A B / le A B for check: integer comparisons with a readable failure.
ge() { (($1 >= $2)) || { echo "$1 < $2"; return 1; }; }
le() { (($1 <= $2)) || { echo "$1 > $2"; return 1; }; }

# --- setup ----------------------------------------------------------------------

mkdir -p "$HOSTILE_TMP"
if ! hostile_build; then
	lab_fail "hostile: tools build (cc -O2 -Wall -Werror)" "see the compiler output above"
	return 0
fi
lab_pass "hostile: tools build (cc -O2 -Wall -Werror)"

# Spoofed sources reach the balancer only if the router does not filter them by
# reverse path (a namespace inherits the host's setting).
for k in all default lan0; do
	if [[ $(lab_exec router sysctl -n "net.ipv4.conf.$k.rp_filter") != 0 ]]; then
		echo "# hostile: rp_filter was on for router $k; off for this test"
		lab_exec router sysctl -qw "net.ipv4.conf.$k.rp_filter=0"
	fi
done

lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach >/dev/null; then
	lab_fail "hostile: backends attach" "latebind backend attach failed"
	return 0
fi
LAB_HANDOFF="{mss: 1400, wscale: 7, request_timeout_ms: 2000}" lab_balancer_config
# A catch-all rule: everything no other rule names is held by web1 and web3. A
# request that slipped past normalisation would land there, in their logs.
sed -i '/name: health,/a\  - {name: rest, host: "*", prefix: /, backends: [web1, web3]}' \
	"$LAB_BALANCER_CONF"
if ! "$LAB_LATEBIND" check-config "$LAB_BALANCER_CONF" >/dev/null; then
	lab_fail "hostile: config with a catch-all route" "$("$LAB_LATEBIND" check-config "$LAB_BALANCER_CONF" 2>&1)"
	return 0
fi
# --verbose: the log shows each routing decision.
if ! lab_balancer_start --verbose; then
	lab_fail "hostile: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi
lab_pass "hostile: balancer and backends up (request timeout 2 s, catch-all route)"
check_eq "hostile: \$LAB_BALANCER_PID is the daemon" latebind "$(cat "/proc/$LAB_BALANCER_PID/comm")"

# Counter snapshots, before and after: the balancer's, web1's (read through namerefs).
# shellcheck disable=SC2034
declare -A A B BA BB

# --- 1. SYN flood --------------------------------------------------------------
# client2 floods the VIP through the router for 11 s (at most 4 M SYNs) from
# random sources in $HOSTILE_SPOOF_NET; once the balancer answers it, client1
# makes 200 requests, 20 a second, each on a new connection. The answers to
# spoofed sources go to the router, which has no route for them: dropped there
# (IpExtInNoRoutes), with a few rate-limited ICMP unreachables back to the VIP
# (pass_not_vip). What the flood loses on the way is what the links counted
# (link_snap); what the real client adds is what its own TCP counted (client_snap).
snap A
rss0=$(rss_kb)
bg "$HOSTILE_TMP/synflood.out" client2 "$HOSTILE_BIN/synflood" --interface "$LAB_IF" \
	--dst-mac "$ROUTER_CLIENT_MAC" --dst "$VIP" --dport "$VIP_PORT" --src-net "$HOSTILE_SPOOF_NET" \
	--count 4000000 --seconds 11
flood_pid=$BG_PID
lab_wait 5 counter_past tx_synack $((A[tx_synack] + 10000)) ||
	echo "# flood: no SYN/ACK for it within 5 s; the real requests start all the same"
real_requests client1 200 20 synflood >"$HOSTILE_TMP/syn-real" &
real_pid=$!
HOSTILE_PIDS+=("$real_pid")
# "During": once client1 has opened half its connections (the flood lasts longer).
lab_wait 15 opens_past $((A[c1_opens] + 100)) || true
flood_state=$(pid_alive "$flood_pid" && echo "flood on" || echo "flood over")
flows_mid=$(flows) # before the opens: each of those flows is a connection counted there
opens_mid=$(($(netstat_number client1 Tcp ActiveOpens) - A[c1_opens]))
rss_mid=$(rss_kb)
wait "$real_pid"
syn_ok=$(cat "$HOSTILE_TMP/syn-real")
wait "$flood_pid"
flood=$(grep '^sent=' "$HOSTILE_TMP/synflood.out")
HOSTILE_PIDS=()
sent=$(lab_number "synflood sent" "$(kv sent "$flood")")
# Its last SYNs may still be on the way, and their SYN/ACKs on the way back.
syn_settled() {
	(($(grew A B tx_synack) >= sent - $(fwd_lost A B) &&
		$(grew A B noroutes) >= $(grew A B tx_synack) - $(grew A B c1_syns) - $(back_lost A B)))
}
snap_until B 5 syn_settled || true
rss1=$(rss_kb)
pps=$(kv pps "$flood")
lost_fwd=$(fwd_lost A B)
lost_back=$(back_lost A B)
noroutes=$(grew A B noroutes)
synacks=$(grew A B tx_synack)
real_syns=$(grew A B c1_syns)
real_late=$(grew A B c1_late)
real_opens=$(grew A B c1_opens)
echo "# flood: ${pps:-0} SYN/s ($sent SYNs in $(kv seconds "$flood") s from client2 through the router, $(kv rejected "$flood") refused by client2's link and sent again)"
echo "# flood: $lost_fwd frames lost on the lab's links on the way (a veth's ring full), so >= $((sent - lost_fwd)) SYNs reached the balancer (its XDP saw $(grew A B xdp_seen) frames); $synacks SYN/ACKs sent, $lost_back lost on the way back, $noroutes dropped by the router for want of a route"
echo "# flood: real client: $real_opens connections, $real_syns SYNs, $real_late retransmissions and resets; requests $syn_ok/200 OK; flows before ${A[flows]}, during $flows_mid ($flood_state, $opens_mid opened), after ${B[flows]}; RSS $rss0 kB before, $rss_mid during, $rss1 after"
check "hostile: SYN flood ran (> 100000 SYNs sent: $sent)" ge "$sent" 100000
check "hostile: SYN flood: >= 99% of 200 real requests succeed ($syn_ok)" ge "$syn_ok" 198
check "hostile: SYN flood: every SYN that reached the balancer answered ($synacks SYN/ACKs, $sent sent, $lost_fwd lost before XDP)" \
	ge "$synacks" $((sent - lost_fwd))
check "hostile: SYN flood: ... and no more than one per SYN sent ($sent, + $real_syns from the real client)" \
	le "$synacks" $((sent + real_syns))
check "hostile: SYN flood: SYN/ACKs to spoofed sources dropped at the router ($noroutes of $synacks, $real_syns real, $lost_back lost)" \
	ge "$noroutes" $((synacks - real_syns - lost_back))
# A looped SYN/ACK would come back as a SYN+ACK to the VIP (drop_tcp_flags) once
# per SYN: thousands. A real client's late segment (a retry, a reset) after its
# flow ended lands there or in drop_bad_cookie: no more than it sent of those.
check "hostile: SYN flood: ... once each, no loop back to the VIP (drop_tcp_flags +$(grew A B drop_tcp_flags), real late segments $real_late)" \
	test "$(grew A B drop_tcp_flags)" -le "$real_late" -a "$noroutes" -le "$synacks"
check "hostile: SYN flood: flow table holds real clients only (during: $flows_mid, $opens_mid real connections opened, ${A[flows]} before)" \
	le "${flows_mid:-999999}" $((opens_mid + A[flows]))
check "hostile: SYN flood: flows back to none after" lab_wait 10 lab_no_flows
check "hostile: SYN flood: daemon RSS does not grow ($rss0 → $rss_mid → $rss1 kB)" \
	le "$((${rss_mid:-0} > rss1 ? rss_mid : rss1))" $((rss0 + 1024))
check "hostile: SYN flood: dispatcher took real connections only ($(grew A B disp_conns_taken) for $real_opens)" \
	le "$(grew A B disp_conns_taken)" "$real_opens"
# A cookie that real clients' handshakes fail would show as hundreds.
check "hostile: SYN flood: real clients' ACKs all validate (drop_bad_cookie +$(grew A B drop_bad_cookie), real late segments $real_late)" \
	le "$(grew A B drop_bad_cookie)" "$real_late"

# --- 2. forged ACK flood ---------------------------------------------------------
# 300 000 ACKs at most, 4 s at most, random seq/ack, flags ACK, PSH+ACK with a
# request head, FIN+ACK, RST+ACK in turn. A random ACK passes a cookie's 24-bit
# tag with p = 2 x 2^-24 (two time windows accepted): about 0.036 per run are
# let through by chance, and such a one is a connection like any other (with
# PSH, a complete request: handed off, a flow until it ends). So up to one is
# tolerated, and every other check allows for the ones let through.
snap A
bg "$HOSTILE_TMP/ackflood.out" client2 "$HOSTILE_BIN/pktflood" ack --interface "$LAB_IF" \
	--dst-mac "$ROUTER_CLIENT_MAC" --dst "$VIP" --dport "$VIP_PORT" --src-net "$HOSTILE_SPOOF_NET" \
	--count 300000 --seconds 4
ack_pid=$BG_PID
ack_ok=$(real_requests client1 40 40 ackflood)
wait "$ack_pid"
acks=$(grep '^sent=' "$HOSTILE_TMP/ackflood.out")
HOSTILE_PIDS=()
sent=$(lab_number "ack flood sent" "$(kv sent "$acks")")
lab_wait 10 lab_no_flows || true
ack_settled() { (($(grew A B drop_bad_cookie) >= sent - $(fwd_lost A B) - 1)); }
snap_until B 5 ack_settled || true
lost=$(fwd_lost A B)
bad=$(grew A B drop_bad_cookie)
real_late=$(grew A B c1_late)
# bad = forged ACKs that arrived (sent - lost .. sent) - lucky + the real
# client's late segments (0 .. real_late): bounds for lucky from both ends.
lucky=$((sent + real_late - bad))
lucky=$((lucky > 0 ? lucky : 0))
lucky_total=$lucky # connections made by chance so far (at most): their flows may outlive a section
echo "# ack flood: $(kv pps "$acks") ACK/s ($sent forged ACKs, $(kv refused "$acks") refused by client2's link and sent again, $lost frames lost on the way, $bad counted drop_bad_cookie, real late segments $real_late); real requests $ack_ok/40 OK"
check "hostile: forged ACKs ran (> 10000 sent: $sent)" ge "$sent" 10000
check "hostile: forged ACKs: each counted under drop_bad_cookie ($bad of $sent, $lost lost on the way; by chance at 2^-23 each: at most 1)" \
	ge "$bad" $((sent - lost - 1))
check "hostile: forged ACKs: ... and no more than them and the real client's late segments ($bad <= $sent + $real_late)" \
	le "$bad" $((sent + real_late))
check_eq "hostile: forged ACKs: none reached the dispatcher (bad_cookie +0)" 0 "$(grew A B disp_bad_cookie)"
check "hostile: forged ACKs: no connection allocated (conns_taken +$(grew A B disp_conns_taken) for $(grew A B c1_opens) real)" \
	le "$(($(grew A B disp_conns_taken) - $(grew A B c1_opens)))" "$lucky"
check "hostile: forged ACKs: no flow left (${B[flows]})" le "${B[flows]}" "$lucky"
check_eq "hostile: forged ACKs: real clients unaffected" 40 "$ack_ok"

# --- 3. garbage to the VIP ---------------------------------------------------------
# From the switch, straight out of the balancer's port (the way the upstream
# router's frames come, but past the switch's bridge, whose br_netfilter would
# drop bad IPv4 headers itself): 13 kinds in turn, each built for one reason.
# pktflood writes to the port itself, so a frame the balancer's ring had no room
# for is refused to it and sent again: every frame it counts reaches XDP, bar
# what the balancer's veth lost past its ring (bal_rx_lost).
snap A
real_requests client1 20 40 garbage >"$HOSTILE_TMP/garbage-real" &
real_pid=$!
HOSTILE_PIDS+=("$real_pid")
garbage=$(lab_exec switch "$HOSTILE_BIN/pktflood" garbage --interface "$BALANCER_PEER" \
	--dst-mac "$BALANCER_MAC" --src-mac "$ROUTER_SITE_MAC" --dst "$VIP" --dport "$VIP_PORT" \
	--src-net "$HOSTILE_SPOOF_NET" --count 130000 --seconds 5)
wait "$real_pid"
garbage_ok=$(cat "$HOSTILE_TMP/garbage-real")
HOSTILE_PIDS=()
sent=$(lab_number "garbage sent" "$(kv sent "$garbage")")
other=$(lab_number "garbage pass_not_vip" "$(kv pass_not_vip "$garbage")")
lab_wait 10 flows_at_most "$lucky_total" || true
garbage_settled() { (($(drops B) - $(drops A) >= sent - other - $(grew A B bal_rx_lost) - 1)); }
snap_until B 5 garbage_settled || true
refused=$(kv refused "$garbage")
LOST=$(grew A B bal_rx_lost)
real_late=$(grew A B c1_late)
real_opens=$(grew A B c1_opens)
echo "# garbage: $sent frames in $(kv seconds "$garbage") s ($(kv pps "$garbage")/s), $(kv random "$garbage") of them random TCP, $other not TCP; $refused refused and sent again (sw-balancer tx_dropped +$(grew A B sw_bal_txdrop)); real requests $garbage_ok/20 OK, $real_late late segments"
check "hostile: garbage ran (> 10000 frames: $sent)" ge "$sent" 10000
check "hostile: garbage: XDP saw every frame sent, bar those its veth lost ($(grew A B xdp_seen) seen, $sent sent, $LOST lost)" \
	ge "$(grew A B xdp_seen)" $((sent - LOST))
for reason in drop_ip_trunc drop_ip_options drop_ip_fragment drop_tcp_trunc drop_ip_len \
	drop_syn_payload drop_tcp_options; do
	check_counted "hostile: garbage: $reason counts every frame built for it" \
		"$(kv "$reason" "$garbage")" "$(grew A B "$reason")"
done
check_counted "hostile: garbage: drop_ip_ihl counts bad versions and ihl < 5" \
	"$(($(kv ip_version "$garbage") + $(kv drop_ip_ihl "$garbage")))" "$(grew A B drop_ip_ihl)"
# Random TCP with ACK set is a forged ACK too: one could pass by chance (p ~ 6e-4
# a run); a real client's late segment may add one (real_late bounds those).
dropped=$(($(drops B) - $(drops A)))
lucky=$((sent - other + real_late - dropped))
lucky=$((lucky > 0 ? lucky : 0))
lucky_total=$((lucky_total + lucky))
tcp_random=$(($(grew A B drop_tcp_doff) + $(grew A B drop_tcp_flags) + $(grew A B drop_bad_cookie)))
for k in "${!B[@]}"; do
	[[ $k == drop_* ]] && (($(grew A B "$k"))) && echo "# garbage: $k +$(grew A B "$k")"
done
random_built=$(($(kv random "$garbage") + $(kv drop_tcp_doff "$garbage") + $(kv drop_tcp_flags "$garbage")))
check "hostile: garbage: random TCP counted under doff, flags and bad cookie, with the kinds built for the first two (built $random_built, counted $tcp_random, lost before XDP $LOST, real late segments $real_late)" \
	test "$tcp_random" -ge $((random_built - LOST - 1)) -a "$tcp_random" -le $((random_built + real_late))
check "hostile: garbage: the drop counters grew by the TCP garbage sent ($dropped for $((sent - other)); lost before XDP $LOST, by chance let through at most 1, real late segments $real_late)" \
	test "$dropped" -ge $((sent - other - LOST - 1)) -a "$dropped" -le $((sent - other + real_late))
# The balancer host's own traffic passes too (health checks, ICMP), and frames
# its IP never takes (on one machine, every run: 45 beyond the 10 000, 36
# delivered, 9 never counted by IP; not traced): the bound is every frame XDP
# saw that was not garbage.
others_seen=$(($(grew A B xdp_seen) - (sent - LOST)))
check "hostile: garbage: non-TCP passed to the host ($other sent, pass_not_vip +$(grew A B pass_not_vip), other frames seen $others_seen, delivered to the host's TCP/ICMP +$(grew A B bal_delivered))" \
	test "$(grew A B pass_not_vip)" -ge $((other - LOST)) -a "$(grew A B pass_not_vip)" -le $((other + others_seen))
check "hostile: garbage: ... whose kernel drops them (not its address, no forwarding)" \
	ge "$(grew A B bal_addr_errors)" $((other - LOST))
check "hostile: garbage: no SYN/ACK for garbage (tx_synack +$(grew A B tx_synack) for $(grew A B c1_syns) real SYNs)" \
	le "$(grew A B tx_synack)" "$(grew A B c1_syns)"
check "hostile: garbage: nothing allocated (conns_taken +$(grew A B disp_conns_taken) for $real_opens real)" \
	le "$(grew A B disp_conns_taken)" $((real_opens + lucky))
check "hostile: garbage: no flow left (${B[flows]})" le "${B[flows]}" "$lucky_total"
check_eq "hostile: garbage: real clients unaffected" 20 "$garbage_ok"

# --- 4. slow clients --------------------------------------------------------------
# 200 connections from client2, each sending a head's first lines and one more
# header line every 300 ms, never the end; the request timeout is 2 s. client1
# makes 40 requests meanwhile. (The dispatcher's global cap, 16384 connections,
# has no config key and is too big to reach here: the unit test
# test_global_cap covers the eviction of the oldest.)
snap A
rss0=$(rss_kb)
real_requests client1 40 20 slowloris >"$HOSTILE_TMP/slow-real" &
real_pid=$!
HOSTILE_PIDS+=("$real_pid")
bg "$HOSTILE_TMP/slowloris.out" client2 "$HOSTILE_BIN/slowloris" --dst "$VIP" --port "$VIP_PORT" --conns 200 \
	--interval-ms 300 --seconds 8
slow_pid=$BG_PID
# "With 200 slow heads": all connected and taken by the dispatcher (the 408s come at 2 s).
slow_held() {
	(($(lab_exec client2 ss -tnH state established dst "$VIP:$VIP_PORT" | wc -l) >= 200 &&
		$(lab_dispatcher_counter conns_taken) >= A[disp_conns_taken] + 200))
}
lab_wait 5 slow_held || echo "# slowloris: 200 slow connections not all held within 5 s"
rss_mid=$(rss_kb)
flows_mid=$(flows)
wait "$slow_pid"
slow=$(grep '^conns=' "$HOSTILE_TMP/slowloris.out")
wait "$real_pid"
slow_ok=$(cat "$HOSTILE_TMP/slow-real")
HOSTILE_PIDS=()
rss1=$(rss_kb)
lab_wait 10 flows_at_most "$lucky_total" || true
snap B
echo "# slowloris: $slow"
echo "# slowloris: the global cap (16384 connections) has no config key; its eviction is unit-tested (test_global_cap)"
echo "# slowloris: flows during $flows_mid; RSS $rss0 kB before, $rss_mid with 200 slow heads, $rss1 after; real requests $slow_ok/40 OK"
check_eq "hostile: slow clients: all 200 connected" 200 "$(kv connected "$slow")"
check_eq "hostile: slow clients: every one answered 408" 200 "$(kv r408 "$slow")"
check "hostile: slow clients: ... at the 2 s timeout (first $(kv first_ms "$slow") ms, last $(kv last_ms "$slow") ms)" \
	test "$(kv first_ms "$slow")" -ge 1900 -a "$(kv last_ms "$slow")" -le 4000
check_eq "hostile: slow clients: the dispatcher counted 200 more reply_408" 200 "$(grew A B disp_reply_408)"
check "hostile: slow clients: daemon RSS bounded (+$((rss_mid - rss0)) kB for 200 heads, at most 200 x 20 KiB)" \
	le "$((rss_mid > rss1 ? rss_mid : rss1))" $((rss0 + 200 * 20 + 1024))
check_eq "hostile: slow clients: real clients served meanwhile" 40 "$slow_ok"
check "hostile: slow clients: no flow left (${B[flows]})" le "${B[flows]}" "$lucky_total"

# --- 5. spoofed hand-offs -----------------------------------------------------------
# forge: ACK + "GET /web1/1k.bin?spoof=..." with a forged cookie, then 0.5 s of
# listening for anything that comes back.
spoof_id=spoof-$$-$RANDOM
spoof_req="GET /web1/1k.bin?$spoof_id HTTP/1.1\\r\\nHost: $VIP\\r\\n\\r\\n"
forge() { # NODE ARGS...
	local node=$1
	shift
	lab_exec "$node" "$HOSTILE_BIN/forge" --payload "$spoof_req" "$@"
}
bsnap web1 BA
# a. a client, through the router, to web1's real address: random cookies; and
#    a real cookie from a handshake with the VIP, replayed to the real address.
to_real=$(forge client1 --interface "$LAB_IF" --dst-mac "$ROUTER_CLIENT_MAC" --src "$CLIENT1_IP" \
	--dst "$WEB1_IP" --count 5)
to_real_valid=$(forge client1 --interface "$LAB_IF" --dst-mac "$ROUTER_CLIENT_MAC" --src "$CLIENT1_IP" \
	--dst "$WEB1_IP" --handshake --vip "$VIP" --vip-mac "$ROUTER_CLIENT_MAC")
# b. a host on the site segment (the router's namespace, its own MAC) to the VIP
#    on web1's MAC: random cookies, and a real one got from the balancer.
to_vip=$(forge router --interface "$LAB_IF" --dst-mac "$WEB1_MAC" --src "$ROUTER_SITE_IP" \
	--dst "$VIP" --count 5)
to_vip_valid=$(forge router --interface "$LAB_IF" --dst-mac "$WEB1_MAC" --src "$ROUTER_SITE_IP" \
	--dst "$VIP" --handshake --vip "$VIP" --vip-mac "$BALANCER_MAC")
# c. on web1's own link (from the switch, out of sw-web1), forging the
#    balancer's MAC too: random cookies.
as_balancer=$(forge switch --interface sw-web1 --dst-mac "$WEB1_MAC" --src-mac "$BALANCER_MAC" \
	--src "$CLIENT1_IP" --dst "$VIP" --count 5)
bsnap web1 BB
for line in "real address, random cookies|$to_real" "real address, a real cookie|$to_real_valid" \
	"VIP on web1's MAC, random cookies|$to_vip" "VIP on web1's MAC, a real cookie|$to_vip_valid" \
	"VIP as the balancer's MAC, random cookies|$as_balancer"; do
	echo "# spoof: ${line%%|*}: ${line#*|}"
done
# Dropped by web1's TC ingress: an ACK to the real address's service
# port that finds only the listener, so not even the kernel's reset comes back.
check_match "hostile: spoof: to web1's real address: nothing comes back" \
	"cookie=random sent=5 replies=0 " "$to_real"
check_match "hostile: spoof: ... a real cookie replayed there: nothing comes back" \
	"cookie=valid sent=1 replies=0 " "$to_real_valid"
check_match "hostile: spoof: to the VIP on web1's MAC: nothing comes back" \
	"cookie=random sent=5 replies=0 " "$to_vip"
check_match "hostile: spoof: ... with a real cookie: nothing comes back" \
	"cookie=valid sent=1 replies=0 " "$to_vip_valid"
check_match "hostile: spoof: as the balancer's MAC: nothing comes back" \
	"cookie=random sent=5 replies=0 " "$as_balancer"
check_eq "hostile: spoof: web1 counted 6 drop_not_balancer (the VIP, not from the balancer)" 6 \
	"$(grew BA BB drop_not_balancer)"
check_eq "hostile: spoof: web1 counted 5 drop_bad_cookie (the balancer's MAC, forged cookie)" 5 \
	"$(grew BA BB drop_bad_cookie)"
check_eq "hostile: spoof: web1 adopted nothing" 0 "$(grew BA BB adopted)"
check_eq "hostile: spoof: web1 counted 6 drop_spoof_real_addr (its real address, only a listener)" 6 \
	"$(grew BA BB drop_spoof_real_addr)"
check "hostile: spoof: nginx on web1 never saw the request" \
	bash -c "! grep -qF '$spoof_id' '$(lab_access_log web1)'"
check_eq "hostile: spoof: real clients still served" 200 \
	"$(lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP/web1/1k.bin")"

# --- 6. routing cannot be dodged ------------------------------------------------------
# Each request goes on its own connection, tagged with a unique query, and has
# one outcome (tests/README.md, "routing dodges"). Routed by its normalised
# path: the balancer's log names the route and the backend, that backend alone
# logged the request and gave the status. /web2/... is web2's route alone
# (web2-only); /WEB2/... (paths are case-sensitive) falls to the catch-all
# (rest: web1 or web3). Refused: the balancer answered itself (Server:
# latebind) with the status and the reason, and no backend saw it.
raw_request() { # REQUEST OUT: send REQUEST (bytes as given), response into OUT
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec client1 timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "%s" "$2" >&3
		cat <&3 >"$3"' "$VIP" "$VIP_PORT" "$1" "$2"
}
tagged_by() { # TAG: the backends whose access log has it
	local w
	for w in "${LAB_WEBS[@]}"; do
		if grep -qF "$1" "$(lab_access_log "$w")" 2>/dev/null; then printf '%s ' "$w"; fi
	done
}
tag_logged() { [[ -n $(tagged_by "$1") ]]; }
CRLF=$'\r\n'
web2_sha=$(lab_sha256 /web2/1k.bin)
i=0
# name | request-target | Host lines (";" between) | status | route | backend
# (one of) | the balancer's reason. route "-": refused by the balancer.
while IFS='|' read -r name target hosts want route backends why; do
	i=$((i + 1))
	printf -v tag "dodge-%s-%02d" "$$" "$i" # no tag a prefix of another
	[[ $target == *\?* ]] && target+="&$tag" || target+="?$tag"
	req="GET $target HTTP/1.1$CRLF"
	IFS=';' read -ra hs <<<"$hosts"
	for h in "${hs[@]}"; do req+="Host: $h$CRLF"; done
	req+="Connection: close$CRLF$CRLF"
	out=$HOSTILE_TMP/dodge.$i
	mark=$(lab_log_mark "$LAB_BALANCER_LOG")
	raw_request "$req" "$out" || true
	status=$(head -n 1 "$out" | tr -d '\r' | awk '{ print $2 }')
	body_sha=$(tail -c 1024 "$out" | sha256sum | cut -d' ' -f1) # 1k.bin's bytes, if 200
	problem=""
	[[ $status == "$want" ]] || problem+="status '$status', not $want; "
	if [[ $route == - ]]; then
		# The balancer's own answer: a backend's would carry its Server header.
		grep -qa '^Server: latebind' "$out" || problem+="not the balancer's answer; "
		grep -qaF "$why" "$out" || problem+="no reason '$why' in the answer; "
		by=$(tagged_by "$tag")
		[[ -z $by ]] || problem+="reached $by; "
		verdict="refused $status by the balancer: $why"
	else
		# nginx logs a request when done with it: after its lingering close of up to 5 s.
		lab_wait 10 tag_logged "$tag" || true
		by=$(tagged_by "$tag")
		by=${by% }
		[[ -n $by && $by != *" "* && " $backends " == *" $by "* ]] ||
			problem+="reached '${by:-no backend}', not one of '$backends'; "
		lab_wait 5 lab_log_has "$LAB_BALANCER_LOG" "$mark" "$tag.* → route $route → $by\$" ||
			problem+="the balancer's log has no 'route $route → $by' for it; "
		if [[ $want == 200 && $body_sha != "$web2_sha" ]]; then problem+="not web2's 1k.bin; "; fi
		verdict="route $route, reached $by only, which answered $status"
	fi
	if [[ -z $problem ]]; then
		lab_pass "hostile: routing: $name ($target): $verdict"
	else
		lab_fail "hostile: routing: $name ($target): $verdict" "$problem" \
			"$(lab_log_since "$LAB_BALANCER_LOG" "$mark" | tail -n 3)"
	fi
done <<EOF
dot-segments|/web1/../web2/1k.bin|$VIP|200|web2-only|web2|
encoded dot-segments (web2's nginx refuses the raw target)|/%2e%2e/web2/1k.bin|$VIP|400|web2-only|web2|
encoded dot-segments after a prefix|/web1/%2E%2E/web2/1k.bin|$VIP|200|web2-only|web2|
half-encoded dot-segment|/web1/%2e./web2/1k.bin|$VIP|200|web2-only|web2|
doubled slashes|//web2//1k.bin|$VIP|200|web2-only|web2|
encoded slash|/web2%2F1k.bin|$VIP|200|web2-only|web2|
encoded slash after dots|/web1/..%2fweb2/1k.bin|$VIP|200|web2-only|web2|
absolute-form, another host|http://other.example/web2/1k.bin|$VIP|400|-||Host differs from request-target
absolute-form, same host|http://$VIP/web2/1k.bin|$VIP|200|web2-only|web2|
duplicate Host|/web2/1k.bin|$VIP;other.example|400|-||duplicate Host
Host with a port|/web2/1k.bin|$VIP:80|200|web2-only|web2|
case (another resource)|/WEB2/1k.bin|$VIP|404|rest|web1 web3|
encoded NUL|/web2/1k.bin%00/../../web1/1k.bin|$VIP|400|-||request path cannot be normalised
EOF

# --- the end ---------------------------------------------------------------------------
rc=0
lab_balancer_stop || rc=$?
check_eq "hostile: balancer exits 0 on SIGTERM after all that" 0 "$rc"
trap - EXIT
# shellcheck disable=SC2119 # every backend
lab_backends_detach >/dev/null
echo "# hostile: took $((SECONDS - hostile_t0)) s"
