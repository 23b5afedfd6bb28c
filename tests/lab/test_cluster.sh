# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Several balancers (docs/README.md, "Several balancers"): a second balancer
# and BIRD join the lab for this test (cluster.sh) and leave it again. Both
# balancers announce the VIP by BGP, the router spreads connections over them by
# ECMP, and a connection survives its balancer: a handshake answered by one and
# completed at the other, a download whose balancer is killed or stopped, a
# balancer joining, a client without TCP timestamps, and one keep-alive
# connection whose requests go to three backends while its packets move from
# one balancer to the other (per-request binding). The failover gap (the
# longest time a download got no byte) is printed as a figure.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"
# shellcheck source=tests/lab/cluster.sh
source "$LAB_DIR/cluster.sh"

CL_TS_BEFORE=

cluster_cleanup() {
	if [[ -n ${PR_CLIENT:-} ]]; then pr_stop; fi
	lab_unsteer >/dev/null 2>&1
	if [[ -n $CL_TS_BEFORE ]]; then
		lab_exec client2 sysctl -qw "net.ipv4.tcp_timestamps=$CL_TS_BEFORE" >/dev/null 2>&1
	fi
	lab_cluster_teardown || echo "FAIL - cluster: lab_cluster_down left something"
}
trap cluster_cleanup EXIT

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
LAB_BALANCER_EXTRA=$(lab_cluster_extra balancer) lab_balancer_config
LAB_BALANCER_EXTRA=$(lab_cluster_extra balancer2) lab_balancer2_config
if ! lab_cluster_start balancer || ! lab_cluster_start balancer2; then
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

# --- per-request binding across the balancers ----------------------------------
# One keep-alive connection asks for objects of different backends while its
# packets move from one balancer to the other between requests: through A (the
# balancer the router picks for it) web1's 1 MiB, then web1's 1 KiB (the
# same-holder hint: A's XDP moves the request boundary itself), then, steered
# to B, web2's 1 MiB (B re-binds), then routed to A again, web3's 1 MiB (A
# re-binds). Before each move the test waits until the balancer the connection
# goes to has the flow as the other left it (status --flows: backend, binds,
# req_end): a bound or re-bound flow is sent at once, a boundary the hint moved
# within about a second (docs/cluster.md, Limits). Not on time.
PR_DIR=$LAB_RUN/cl-per-request
PR_CLIENT=

# pr_client PATH...: from client1, one connection to the VIP asking for each
# PATH in turn, once $PR_DIR/go-N exists (at most 20 s each): the head into
# head-N, the body (Content-Length bytes) into body-N, then done-N; it closes
# the connection once $PR_DIR/stop exists (at most 20 s), or at once if stop
# comes before a go. bash reads a socket a byte at a time, so `read` takes the
# head and no more, and head -c reads only the bytes asked for. In the background.
pr_client() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec client1 timeout 60 bash -c '
		dir=$0 vip=$1 port=$2
		shift 2
		exec 3<>"/dev/tcp/$vip/$port" || exit 1
		n=0
		for path; do
			n=$((n + 1))
			for ((i = 0; i < 400; i++)); do
				[[ -e $dir/go-$n || -e $dir/stop ]] && break
				sleep 0.05 # a poll period, not a wait
			done
			[[ -e $dir/go-$n ]] || exit 2
			# One write, one segment (bash'"'"'s printf writes line by line).
			printf "GET %s HTTP/1.1\r\nHost: lab\r\n\r\n" "$path" >"$dir/req-$n"
			cat "$dir/req-$n" >&3
			len=
			while IFS= read -r -t 10 line <&3; do
				line=${line%[[:cntrl:]]}
				[[ -n $line ]] || break
				echo "$line" >>"$dir/head-$n"
				if [[ ${line,,} == content-length:* ]]; then len=${line#*:} len=${len// /}; fi
			done
			[[ $len =~ ^[0-9]+$ ]] || exit 3
			timeout 10 head -c "$len" <&3 >"$dir/body-$n" || exit 4
			date +%s%3N >"$dir/done-$n"
		done
		for ((i = 0; i < 400; i++)); do
			[[ -e $dir/stop ]] && break
			sleep 0.05
		done' "$PR_DIR" "$VIP" "$VIP_PORT" "$@" &
	PR_CLIENT=$!
}
pr_stop() {
	[[ -n $PR_CLIENT ]] || return 0
	touch "$PR_DIR/stop"
	wait "$PR_CLIENT" 2>/dev/null
	PR_CLIENT=
}

# pr_port: client1's local port of its one connection to the VIP.
pr_port() {
	lab_exec client1 ss -tnH state established dst "$VIP:$VIP_PORT" |
		awk '{ n = split($3, a, ":"); p = a[n]; c++ } END { if (c != 1) exit 1; print p }'
}

# pr_flow NODE PORT: "state backend binds req_end" of client1:PORT's flow on NODE.
pr_flow() {
	lab_exec_bpf "$1" "$LAB_LATEBIND" status --flows |
		awk -v c="$CLIENT1_IP:$2" '$1 == c { print $3, $4, $8, $9; f = 1 } END { exit !f }'
}

# pr_agree PORT ADDR BINDS: both balancers have client1:PORT's flow bound to the
# backend at ADDR, after BINDS bindings, with one request boundary.
pr_agree() {
	local a b
	a=$(pr_flow balancer "$1") && b=$(pr_flow balancer2 "$1") || return 1
	[[ $a == "$b" && $a =~ ^bound\ ${2//./\\.}\ $3\ [0-9]+$ ]]
}

# pr_show PORT: both balancers' copies of the flow and their peer counters, as
# figures (after a failed check: what each had).
pr_show() {
	local n
	for n in balancer balancer2; do
		echo "#   $n: flow '$(pr_flow "$n" "$1")'; $(lab_exec_bpf "$n" "$LAB_LATEBIND" status |
			awk '/^Dispatcher:/ { d = 1 } d && $1 ~ /^(peer_views_(applied|stale)|requests_next|rebinds|rebind_failed|requests_held)$/ { printf "%s %s ", $1, $2 }')"
	done
}

# pr_agreed NAME PORT ADDR BINDS: check that pr_agree comes true within 5 s.
pr_agreed() {
	checked "$1" lab_wait 5 pr_agree "$2" "$3" "$4" || pr_show "$2"
}

# pr_request N: the client asks its Nth path; waits until it has the answer.
pr_request() {
	lab_now_ms >"$PR_DIR/t-$1"
	touch "$PR_DIR/go-$1"
	lab_wait 10 test -e "$PR_DIR/done-$1"
}

# pr_served TAG: "BACKEND:STATUS:CLIENT_PORT:conn=N" of who logged ?cl=TAG since the marks.
declare -A PR_MARK
pr_served() {
	local w
	for w in "${LAB_WEBS[@]}"; do
		lab_log_since "$(lab_access_log "$w")" "${PR_MARK[$w]}" | awk -v t="$1" '
			$7 ~ "[?]cl=" t "$" { n = split($3, a, ":"); printf "%s:%s:%s:%s\n", $2, $9, a[n], $11 }'
	done | paste -sd' '
}
pr_logged() {
	local t
	for t; do [[ -n $(pr_served "$t") ]] || return 1; done
}

per_request() {
	local paths=(/web1/1m.bin /web1/1k.bin /web2/1m.bin /web3/1m.bin) webs=(web1 web1 web2 web3)
	local port a b i n w want got sums want_sums via tags=() rc=0
	# shellcheck disable=SC2034 # read by grew, through namerefs
	declare -A PA0 PB0 PA1 PB1
	rm -rf "$PR_DIR"
	mkdir -p "$PR_DIR"
	for w in "${LAB_WEBS[@]}"; do PR_MARK[$w]=$(lab_log_mark "$(lab_access_log "$w")"); done
	for ((i = 0; i < ${#paths[@]}; i++)); do tags+=("$((i + 1))"); done
	pr_client "${paths[0]}?cl=1" "${paths[1]}?cl=2" "${paths[2]}?cl=3" "${paths[3]}?cl=4"
	if ! lab_wait 5 pr_port || ! port=$(pr_port) ||
		! via=$(lab_exec router ip route get "$VIP" from "$CLIENT1_IP" iif lan0 ipproto tcp \
			sport "$port" dport "$VIP_PORT" | grep -oE 'via [0-9.]+'); then
		lab_fail "cluster: per request: the client's connection and its balancer" "port '${port:-}'"
		pr_stop
		return
	fi
	a=$(lab_node_of_ip "${via#via }")
	b=$(lab_other "$a")
	echo "# cluster: per request: client1:$port, routed to $a; moved to $b for the third request"
	lab_on "$a" lab_counters_snap PA0
	lab_on "$b" lab_counters_snap PB0
	check "cluster: per request: 1 (web1, 1 MiB) through $a" pr_request 1
	pr_agreed "cluster: per request: ... $b has the flow as $a bound it (web1, 1 bind, its req_end)" \
		"$port" "$WEB1_IP" 1
	check "cluster: per request: 2 (web1, 1 KiB, the same holder) through $a" pr_request 2
	pr_agreed "cluster: per request: ... $b has the boundary $a's XDP moved (req_end)" \
		"$port" "$WEB1_IP" 1
	echo "# cluster: per request: $b had the boundary the hint moved" \
		"$(($(lab_now_ms) - $(cat "$PR_DIR/done-2"))) ms after the answer (sent with the expiry pass)"
	if ! lab_steer "$a" "$b" "$CLIENT1_IP"; then
		lab_fail "cluster: per request: steering to $b attached" "lab_steer failed"
		pr_stop
		return
	fi
	check "cluster: per request: 3 (web2, 1 MiB) through $b" pr_request 3
	lab_unsteer
	pr_agreed "cluster: per request: ... $a has the flow as $b re-bound it (web2, 2 binds)" \
		"$port" "$WEB2_IP" 2
	check "cluster: per request: 4 (web3, 1 MiB) through $a again" pr_request 4
	pr_agreed "cluster: per request: ... $b has it as $a re-bound it (web3, 3 binds)" \
		"$port" "$WEB3_IP" 3
	touch "$PR_DIR/stop"
	wait "$PR_CLIENT" || rc=$?
	PR_CLIENT=
	check_eq "cluster: per request: the client asked everything on its one connection (exit status)" 0 "$rc"
	# Both re-binds counted (each balancer's last) before the counts are read.
	lab_on "$a" lab_wait 3 lab_counter_grown PA0 rebinds 1 || true
	lab_on "$b" lab_wait 3 lab_counter_grown PB0 rebinds 1 || true
	lab_on "$a" lab_counters_snap PA1
	lab_on "$b" lab_counters_snap PB1
	echo "# cluster: per request: ms from asking to the whole answer, each request (a 50 ms poll" \
		"included): $(for n in 1 2 3 4; do echo $(($(cat "$PR_DIR/done-$n") - $(cat "$PR_DIR/t-$n"))); done | xargs)"

	want="" got="" sums="" want_sums=""
	for ((i = 0; i < ${#paths[@]}; i++)); do
		n=$((i + 1))
		want+="200 "
		got+="$(awk 'NR == 1 { print $2 }' "$PR_DIR/head-$n" 2>/dev/null) "
		want_sums+="ok "
		if [[ $(sha256sum <"$PR_DIR/body-$n" 2>/dev/null) == "$(lab_sha256 "${paths[i]}") "* ]]; then
			sums+="ok "
		else
			sums+="differs "
		fi
	done
	check_eq "cluster: per request: every answer 200" "$want" "$got"
	check_eq "cluster: per request: every body as the manifest says (sha256)" "$want_sums" "$sums"
	lab_wait 5 pr_logged "${tags[@]}" || true
	want="" got=""
	for ((i = 0; i < ${#paths[@]}; i++)); do
		want+="${webs[i]}:200:$port "
		got+="$(pr_served "${tags[i]}" | cut -d: -f1-3) "
	done
	check_eq "cluster: per request: each request logged by its holder alone, from the one client port" \
		"$want" "$got"
	check "cluster: per request: web1 served 1 and 2 on one connection of its own (nginx \$connection)" \
		test "$(pr_served 1 | cut -d: -f4)" == "$(pr_served 2 | cut -d: -f4)"
	# What each balancer did with each request.
	check_eq "cluster: per request: $a took the connection, $b did not (conns_taken)" "1 0" \
		"$(grew PA0 PA1 conns_taken) $(grew PB0 PB1 conns_taken)"
	check_eq "cluster: per request: $a's XDP kept 2 on web1 by the hint (tx_same_holder, requests_same_holder)" \
		"1 0" "$(grew PA0 PA1 tx_same_holder) $(grew PA0 PA1 requests_same_holder)"
	check_eq "cluster: per request: $b took 3 and re-bound it (requests_next, rebinds)" "1 1" \
		"$(grew PB0 PB1 requests_next) $(grew PB0 PB1 rebinds)"
	check_eq "cluster: per request: $a took 4 and re-bound it (requests_next, rebinds)" "1 1" \
		"$(grew PA0 PA1 requests_next) $(grew PA0 PA1 rebinds)"
	check "cluster: per request: after it closed, no backend holds a socket for its port" \
		lab_wait 5 lab_no_backend_socket "$port"
}
per_request

# --- failover: the balancer of a download killed -------------------------------
# SIGKILL and its link down: the router drops the path when the BGP hold time
# (3 s) runs out, the connection rehashes to the other balancer, which knows
# its binding from the first (peers) and forwards the rest.
failover() { # NAME CLIENT PATH NODE PORT-BASE: a download through NODE, NODE killed
	local name=$1 client=$2 path=$3 node=$4 f=$LAB_RUN/cl-${1// /-} dl prog t0 port
	CL_DEAD=
	rm -f "$f"
	if ! port=$(lab_port_via "$node" "$client" "$5"); then
		lab_fail "cluster: $name: a port of $client routed to $node" "none in $5..$(($5 + 199))"
		return 1
	fi
	lab_download "$client" "$path" "$f" "$port"
	dl=$!
	lab_progress "$f" "$dl" "$f.progress" "$client" "$port"
	prog=$!
	if ! checked "cluster: $name: download through $node under way" lab_wait 6 lab_has_bytes "$f" $((8 << 20)); then
		kill "$dl" 2>/dev/null
		wait "$dl" "$prog" 2>/dev/null
		return 1
	fi
	t0=$(lab_now_ms)
	lab_cluster_kill "$node"
	CL_DEAD=$node
	check "cluster: $name: $node killed, the router drops its path" \
		lab_wait 10 lab_vip_via "$(lab_ip "$(lab_other "$node")")"
	echo "# cluster: $name: path dropped $(($(lab_now_ms) - t0)) ms after the kill"
	wait "$dl" 2>/dev/null
	wait "$prog" 2>/dev/null
	download_ok "cluster: $name: 64 MiB byte-exact through $(lab_other "$node")" "$path" "$f"
	echo "# cluster: $name: failover gap $(lab_max_gap "$f.progress" 3) ms on the wire," \
		"$(lab_max_gap "$f.progress" 2) ms at curl (longest time without a new byte)"
}

failover "failover" client1 /web1/64m.bin balancer 42000
dead=$CL_DEAD

# --- a balancer joining -------------------------------------------------------
# The dead one comes back while a download runs through the other: new
# connections reach it, the download goes on byte-exact (rehashed or not).
if [[ -n $dead ]]; then
	f=$LAB_RUN/cl-join
	lab_download client2 /web2/64m.bin "$f"
	dl=$!
	lab_wait 10 lab_has_bytes "$f" $((4 << 20))
	check "cluster: $dead rejoins (new daemon, link up)" lab_cluster_revive "$dead"
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
if port=$(lab_port_via "$term" client1 43000); then
	lab_download client1 /web3/64m.bin "$f" "$port"
	dl=$!
	if checked "cluster: SIGTERM: download through $term under way" lab_wait 6 lab_has_bytes "$f" $((8 << 20)); then
		t0=$(lab_now_ms)
		kill -TERM "$LAB_BALANCER2_PID"
		check "cluster: SIGTERM: the router drops $term's path within 2 s" \
			lab_wait 2 lab_vip_via "$BALANCER_IP"
		echo "# cluster: SIGTERM: path gone $(($(lab_now_ms) - t0)) ms after the signal"
		check "cluster: SIGTERM: withdrawn while $term still runs" pid_alive "$LAB_BALANCER2_PID"
		check "cluster: SIGTERM: a withdrawal, not a lost session (BGP still up)" \
			lab_bgp_established router balancer2
		rc=0
		lab_cluster_stop "$term" || rc=$?
		check_eq "cluster: $term exits 0 on SIGTERM" 0 "$rc"
		wait "$dl" 2>/dev/null
		download_ok "cluster: SIGTERM: the transfer finishes through balancer byte-exact" /web3/64m.bin "$f"
		check "cluster: $term starts again" lab_cluster_start "$term"
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
	check "cluster: $CL_DEAD back after the second failover" lab_cluster_revive "$CL_DEAD"
fi

# --- the end -------------------------------------------------------------------
for n in balancer balancer2; do
	rc=0
	lab_cluster_stop "$n" || rc=$?
	check_eq "cluster: $n exits 0 on SIGTERM" 0 "$rc"
done
check "cluster: no route to the VIP once neither announces it" lab_wait 5 lab_vip_via
trap - EXIT
cluster_cleanup
check "cluster: the one-balancer lab is back (static route, no balancer2)" \
	bash -c "ip -n $ROUTER_NS route show $VIP | grep -q 'via $BALANCER_IP' && ! ip netns list | grep -qw $BALANCER2_NS"
