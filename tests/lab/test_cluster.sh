# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Several balancers (docs/README.md, "Several balancers"): a second balancer
# and BIRD join the lab for this test (cluster.sh) and leave it again. Both
# balancers announce the VIP by BGP, the router spreads connections over them by
# ECMP, and a connection survives its balancer: a handshake answered by one and
# completed at the other, a download whose balancer is killed or stopped, a
# balancer joining, a client without TCP timestamps. The failover gap (the
# longest time a download got no byte) is printed as a figure.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"
# shellcheck source=tests/lab/cluster.sh
source "$LAB_DIR/cluster.sh"

# Downloads: 64 MiB at 16 MiB/s, about 4 s each, so a balancer can go mid-way.
CL_RATE=16M
CL_TS_BEFORE=

cluster_cleanup() {
	lab_unsteer >/dev/null 2>&1
	if [[ -n $CL_TS_BEFORE ]]; then
		lab_exec client2 sysctl -qw "net.ipv4.tcp_timestamps=$CL_TS_BEFORE" >/dev/null 2>&1
	fi
	lab_balancer2_stop >/dev/null 2>&1
	lab_balancer_stop >/dev/null 2>&1
	# A SIGKILLed daemon leaves its program and pins: the lab's balancer gets its
	# own back for the next test by a clean start and stop.
	if ip -n "$BALANCER_NS" link show "$LAB_IF" 2>/dev/null | grep -q 'prog/xdp'; then
		ip -n "$BALANCER_NS" link set "$LAB_IF" up 2>/dev/null
		lab_balancer_start >/dev/null 2>&1 && lab_balancer_stop >/dev/null 2>&1
	fi
	lab_cluster_down >/dev/null 2>&1 || echo "FAIL - cluster: lab_cluster_down left something"
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach >/dev/null 2>&1
	ip -n "$BALANCER_NS" route replace default via "$ROUTER_SITE_IP" 2>/dev/null
}
trap cluster_cleanup EXIT

# other NODE: the other balancer; ip_of NODE: its address.
other() { if [[ $1 == balancer ]]; then echo balancer2; else echo balancer; fi; }
node_of_ip() { if [[ $1 == "$BALANCER_IP" ]]; then echo balancer; else echo balancer2; fi; }

# extra NODE: the config keys for several balancers, for NODE: the VIP in table
# 200 while ready (BIRD exports it), the other balancer as its peer.
extra() {
	printf 'announce: {table: %s}\npeers: [%s]\n' "$LAB_ANNOUNCE_TABLE" "$(lab_ip "$(other "$1")")"
}

# shellcheck disable=SC2119 # no extra daemon arguments
lb_start() { # NODE: start its daemon; it announces the VIP once ready
	if [[ $1 == balancer ]]; then lab_balancer_start || return; else lab_balancer2_start || return; fi
	lab_wait 5 lab_announced "$1"
}
lb_stop() { # NODE: SIGTERM, and its exit status
	if [[ $1 == balancer ]]; then lab_balancer_stop; else lab_balancer2_stop; fi
}
# lb_kill NODE: SIGKILL the daemon and take its link down: a balancer that dies
# with its machine. Its route in table 200 stays, but nobody hears it any more.
lb_kill() {
	local pid
	pid=$(lab_daemon_pid "$1") || return
	kill -KILL "$pid"
	if [[ $1 == balancer ]]; then
		wait "$LAB_BALANCER_PID" 2>/dev/null
		LAB_BALANCER_PID=
	else
		wait "$LAB_BALANCER2_PID" 2>/dev/null
		LAB_BALANCER2_PID=
	fi
	ip -n "$(lab_ns "$1")" link set "$LAB_IF" down
}
# lb_revive NODE: its link up again (with its default route) and a new daemon,
# which takes over the program the killed one left.
lb_revive() {
	ip -n "$(lab_ns "$1")" link set "$LAB_IF" up
	ip -n "$(lab_ns "$1")" route replace default via "$ROUTER_SITE_IP"
	lb_start "$1"
}

# port_via NODE CLIENT BASE: a free port of CLIENT, from BASE up (at most 200
# tried), whose connections to the VIP the router sends to balancer NODE (it
# hashes addresses and ports: cluster.bpf.c, rehash).
port_via() {
	local p via
	for ((p = $3; p < $3 + 200; p++)); do
		[[ -z $(lab_exec "$2" ss -tanH "( sport = :$p )") ]] || continue
		via=$(lab_exec router ip route get "$VIP" from "$(lab_ip "$2")" iif lan0 ipproto tcp \
			sport "$p" dport "$VIP_PORT" | grep -oE 'via [0-9.]+')
		if [[ ${via#via } == "$(lab_ip "$1")" ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# download CLIENT PATH OUT [PORT]: a 64 MiB download in the background ($! its
# curl), from PORT if given; 20 s is five times what it takes.
download() {
	lab_exec "$1" curl -s --max-time 20 --limit-rate "$CL_RATE" ${4:+--local-port "$4"} \
		-o "$3" -w '%{http_code}' "http://$VIP$2" >"$3.code" &
}
# progress FILE PID OUT CLIENT PORT: every 0.1 s while PID runs (at most 60 s),
# in the background, "ms bytes-in-FILE bytes-received": what curl wrote, and what
# CLIENT's kernel received on the connection from PORT (ss: bytes_received).
# max_gap OUT COLUMN: the longest time without a new byte in that column (2 or 3).
progress() {
	local i rx
	for ((i = 0; i < 600; i++)); do
		pid_alive "$2" || break
		rx=$(lab_exec "$4" ss -tinH "( sport = :$5 )" | grep -oE 'bytes_received:[0-9]+' | head -n 1)
		echo "$(lab_now_ms) $(stat -c %s "$1" 2>/dev/null || echo 0) ${rx#*:}"
		sleep 0.1 # a sample period, not a wait
	done >"$3" &
}
max_gap() { # a stall at the end (a download that never finished) counts too
	awk -v c="$2" '$c == "" { next }
		!n++ { t = $1; s = $c; next }
		$c > s { if ($1 - t > g) g = $1 - t; t = $1; s = $c }
		{ last = $1 }
		END { if (last - t > g) g = last - t; print g + 0 }' "$1"
}
has_bytes() { (($(stat -c %s "$1" 2>/dev/null || echo 0) >= $2)); } # FILE N
download_ok() { # NAME PATH OUT: byte-exact and 200
	check_eq "$1" "200 $(lab_sha256 "$2")" \
		"$(cat "$3.code" 2>/dev/null) $(sha256sum "$3" 2>/dev/null | cut -d' ' -f1)"
}
# checked NAME CMD...: check, and say whether it passed (check itself does not).
checked() {
	local before=$LAB_FAILED
	check "$@"
	((LAB_FAILED == before))
}
taken() { lab_on "$1" lab_dispatcher_counter conns_taken; }

# --- the cluster --------------------------------------------------------------
# Hand-offs from either balancer (--balancer-mac for each).
LAB_BALANCER_MACS="$BALANCER_MAC $BALANCER2_MAC"
lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "cluster: backends attach" "attach failed"
check "cluster: balancer2 and BIRD join the lab, both BGP sessions established" lab_cluster_up
check_match "cluster: the lab's BIRD configs are the examples but for defines and log" \
	'^ok$' "$(for f in router balancer balancer2; do
		diff <(grep -vE '^(define |log )' "$LAB_BIRD_DIR/$f.conf") \
			<(grep -vE '^(define |log )' "$LAB_BIRD_EXAMPLES/bird-${f%2}.conf") || echo "$f differs"
	done; echo ok)"
LAB_BALANCER_EXTRA=$(extra balancer) lab_balancer_config
LAB_BALANCER_EXTRA=$(extra balancer2) lab_balancer2_config
if ! lb_start balancer || ! lb_start balancer2; then
	lab_fail "cluster: both balancers start" "see $LAB_BALANCER_LOG, $LAB_BALANCER2_LOG"
	return 0
fi
check "cluster: the router has one ECMP route to the VIP via both balancers" \
	lab_wait 10 lab_vip_via "$BALANCER_IP" "$BALANCER2_IP"

# --- connections spread over both balancers ---------------------------------
# 24 connections at once, 12 from each client (their ports differ, so does the
# hash); every answer must be its holder's bytes.
spread() { # TAG N: N new connections per client; prints how many came back right
	local tag=$1 n=$2 c i w pids=() good=0
	for c in "${LAB_CLIENTS[@]}"; do
		for ((i = 1; i <= n; i++)); do
			w=web$((i % 3 + 1))
			lab_curl "$c" --max-time 5 -o "$LAB_RUN/cl-$tag-$c-$i" -w '%{http_code}' \
				"http://$VIP/$w/1k.bin" >"$LAB_RUN/cl-$tag-$c-$i.code" 2>/dev/null &
			pids+=($!)
		done
	done
	wait "${pids[@]}" 2>/dev/null
	for c in "${LAB_CLIENTS[@]}"; do
		for ((i = 1; i <= n; i++)); do
			w=web$((i % 3 + 1))
			[[ $(cat "$LAB_RUN/cl-$tag-$c-$i.code") == 200 &&
				$(sha256sum <"$LAB_RUN/cl-$tag-$c-$i" | cut -d' ' -f1) == "$(lab_sha256 "/$w/1k.bin")" ]] &&
				good=$((good + 1))
		done
	done
	echo "$good"
}
t1=$(taken balancer)
t2=$(taken balancer2)
check_eq "cluster: 24 connections from both clients, each answered by its holder" 24 "$(spread a 12)"
d1=$(lab_minus "$(taken balancer)" "$t1")
d2=$(lab_minus "$(taken balancer2)" "$t2")
echo "# cluster: connections taken: balancer $d1, balancer2 $d2"
check "cluster: both balancers took connections ($d1, $d2)" test "$d1" -gt 0 -a "$d2" -gt 0

# --- a handshake split across the balancers ----------------------------------
# The SYN to one balancer, the ACK and the request to the other: any balancer
# completes any handshake (shared cookie key) and binds it.
split_fetch() { # SYN_NODE REST_NODE: the steered fetch, checked byte for byte
	local syn=$1 rest=$2 s1 s2 k1 k2 f=$LAB_RUN/cl-split-$1
	s1=$(lab_on "$syn" lab_balancer_counter tx_synack)
	s2=$(lab_on "$rest" lab_balancer_counter tx_synack)
	k1=$(taken "$syn")
	k2=$(taken "$rest")
	if ! lab_steer "$syn" "$rest" "$CLIENT1_IP"; then
		lab_fail "cluster: split $syn/$rest: steering attached" "lab_steer failed"
		return
	fi
	lab_curl client1 --max-time 5 -o "$f" -w '%{http_code}' "http://$VIP/web2/1k.bin" >"$f.code" 2>/dev/null
	check "cluster: split $syn/$rest: the steering saw the SYN and the rest" \
		test "$(lab_steered syn)" -ge 1 -a "$(lab_steered rest)" -ge 2
	lab_unsteer
	download_ok "cluster: SYN at $syn, ACK and request at $rest: 200 with web2's bytes" /web2/1k.bin "$f"
	check "cluster: split $syn/$rest: only $syn answered a SYN" test \
		"$(lab_minus "$(lab_on "$syn" lab_balancer_counter tx_synack)" "$s1")" -ge 1 -a \
		"$(lab_minus "$(lab_on "$rest" lab_balancer_counter tx_synack)" "$s2")" = 0
	check_eq "cluster: split $syn/$rest: $rest took the connection, $syn did not" "1 0" \
		"$(lab_minus "$(taken "$rest")" "$k2") $(lab_minus "$(taken "$syn")" "$k1")"
}
split_fetch balancer balancer2
split_fetch balancer2 balancer

# --- failover: the balancer of a download killed -------------------------------
# SIGKILL and its link down: the router drops the path when the BGP hold time
# (3 s) runs out, the connection rehashes to the other balancer, which knows
# its binding from the first (peers) and forwards the rest.
failover() { # NAME CLIENT PATH NODE PORT-BASE: a download through NODE, NODE killed
	local name=$1 client=$2 path=$3 node=$4 f=$LAB_RUN/cl-${1// /-} dl prog t0 port
	CL_DEAD=
	rm -f "$f"
	if ! port=$(port_via "$node" "$client" "$5"); then
		lab_fail "cluster: $name: a port of $client routed to $node" "none in $5..$(($5 + 199))"
		return 1
	fi
	download "$client" "$path" "$f" "$port"
	dl=$!
	progress "$f" "$dl" "$f.progress" "$client" "$port"
	prog=$!
	if ! checked "cluster: $name: download through $node under way" lab_wait 6 has_bytes "$f" $((8 << 20)); then
		kill "$dl" 2>/dev/null
		wait "$dl" "$prog" 2>/dev/null
		return 1
	fi
	t0=$(lab_now_ms)
	lb_kill "$node"
	CL_DEAD=$node
	check "cluster: $name: $node killed, the router drops its path" \
		lab_wait 10 lab_vip_via "$(lab_ip "$(other "$node")")"
	echo "# cluster: $name: path dropped $(($(lab_now_ms) - t0)) ms after the kill"
	wait "$dl" 2>/dev/null
	wait "$prog" 2>/dev/null
	download_ok "cluster: $name: 64 MiB byte-exact through $(other "$node")" "$path" "$f"
	echo "# cluster: $name: failover gap $(max_gap "$f.progress" 3) ms on the wire," \
		"$(max_gap "$f.progress" 2) ms at curl (longest time without a new byte)"
}

failover "failover" client1 /web1/64m.bin balancer 42000
dead=$CL_DEAD

# --- a balancer joining -------------------------------------------------------
# The dead one comes back while a download runs through the other: new
# connections reach it, the download goes on byte-exact (rehashed or not).
if [[ -n $dead ]]; then
	f=$LAB_RUN/cl-join
	download client2 /web2/64m.bin "$f"
	dl=$!
	lab_wait 10 has_bytes "$f" $((4 << 20))
	check "cluster: $dead rejoins (new daemon, link up)" lb_revive "$dead"
	check "cluster: the router has both paths again" lab_wait 15 lab_vip_via "$BALANCER_IP" "$BALANCER2_IP"
	j0=$(taken "$dead") # the new daemon's count (the killed one's went with it)
	check_eq "cluster: 24 new connections after the join, each answered by its holder" 24 "$(spread b 12)"
	check "cluster: the joined $dead takes new connections" test "$(lab_minus "$(taken "$dead")" "$j0")" -gt 0
	wait "$dl" 2>/dev/null
	download_ok "cluster: a download across the join byte-exact" /web2/64m.bin "$f"
fi

# --- SIGTERM: withdrawn first ------------------------------------------------
# A balancer stopped cleanly withdraws the VIP before it goes: the router drops
# the path while the daemon still serves (announce.withdraw_grace_ms, 1 s), and
# well within the hold time with the BGP session up, so it was a withdrawal and
# not a lost peer; its client's transfer finishes through the other.
f=$LAB_RUN/cl-term
term=balancer2
if port=$(port_via "$term" client1 43000); then
	download client1 /web3/64m.bin "$f" "$port"
	dl=$!
	if checked "cluster: SIGTERM: download through $term under way" lab_wait 6 has_bytes "$f" $((8 << 20)); then
		t0=$(lab_now_ms)
		kill -TERM "$LAB_BALANCER2_PID"
		check "cluster: SIGTERM: the router drops $term's path within 2 s" \
			lab_wait 2 lab_vip_via "$BALANCER_IP"
		echo "# cluster: SIGTERM: path gone $(($(lab_now_ms) - t0)) ms after the signal"
		check "cluster: SIGTERM: withdrawn while $term still runs" pid_alive "$LAB_BALANCER2_PID"
		check "cluster: SIGTERM: a withdrawal, not a lost session (BGP still up)" \
			lab_bgp_established router balancer2
		rc=0
		lb_stop "$term" || rc=$?
		check_eq "cluster: $term exits 0 on SIGTERM" 0 "$rc"
		wait "$dl" 2>/dev/null
		download_ok "cluster: SIGTERM: the transfer finishes through balancer byte-exact" /web3/64m.bin "$f"
		check "cluster: $term starts again" lb_start "$term"
		check "cluster: ... and is routed again" lab_wait 10 lab_vip_via "$BALANCER_IP" "$BALANCER2_IP"
	else
		kill "$dl" 2>/dev/null
		wait "$dl" 2>/dev/null
	fi
else
	lab_fail "cluster: SIGTERM: a port of client1 routed to $term" "none in 43000..43199"
fi

# --- a client without TCP timestamps ------------------------------------------
CL_TS_BEFORE=$(lab_exec client2 sysctl -n net.ipv4.tcp_timestamps)
lab_exec client2 sysctl -qw net.ipv4.tcp_timestamps=0
failover "no timestamps" client2 /web3/64m.bin balancer2 44000
lab_exec client2 sysctl -qw "net.ipv4.tcp_timestamps=$CL_TS_BEFORE" && CL_TS_BEFORE=
if [[ -n $CL_DEAD ]]; then
	check "cluster: $CL_DEAD back after the second failover" lb_revive "$CL_DEAD"
fi

# --- the end -------------------------------------------------------------------
for n in balancer balancer2; do
	rc=0
	lb_stop "$n" || rc=$?
	check_eq "cluster: $n exits 0 on SIGTERM" 0 "$rc"
done
check "cluster: no route to the VIP once neither announces it" lab_wait 5 lab_vip_via
trap - EXIT
cluster_cleanup
check "cluster: the one-balancer lab is back (static route, no balancer2)" \
	bash -c "ip -n $ROUTER_NS route show $VIP | grep -q 'via $BALANCER_IP' && ! ip netns list | grep -qw $BALANCER2_NS"
