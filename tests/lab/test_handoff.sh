# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The hand-off end to end, in the lab's mode (LB_LAB_HANDOFF: cookie, replay or
# mixed; tests/lab/run.sh runs it in each): real clients through the VIP, real nginx on
# the backends. Content arrives intact from its holder, replicated content is
# spread, the 64 MiB response does not cross the balancer, client TCP variants
# work, keep-alive stays on its backend, and every way a connection can end
# leaves the flow table and the active counts as they were.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"
# shellcheck source=tests/lab/lossy.sh
source "$LAB_DIR/lossy.sh"

lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach; then
	lab_fail "handoff: backends attach" "latebind backend attach failed"
	return 0
fi
lab_pass "handoff: backends attach"
lab_balancer_config
# shellcheck disable=SC2119 # no extra daemon options
if ! lab_balancer_start; then
	lab_fail "handoff: balancer starts" "see $LAB_BALANCER_LOG"
	# shellcheck disable=SC2119
	lab_backends_detach
	return 0
fi

# Every segment of a real client here belongs to a handshake the balancer answered
# or to a flow it holds (or held: a closed one lingers 3 s): none may meet the
# cookie check and fail it. Read once more at the end.
bad_cookie0=$(lab_balancer_counter drop_bad_cookie)

# fetch NODE PATH: download through the VIP; print "HTTP-code sha256".
fetch() {
	local tmp code
	tmp=$(mktemp)
	code=$(lab_curl "$1" -s -o "$tmp" -w '%{http_code}' "http://$VIP$2") || code="curl-failed:$code"
	echo "$code $(sha256sum <"$tmp" | cut -d' ' -f1)"
	rm -f "$tmp"
}

served_by() { # PATH: the backends whose access log has it, in order
	local w
	for w in "${LAB_WEBS[@]}"; do
		if grep -qF " $1 " "$(lab_access_log "$w")" 2>/dev/null; then printf '%s ' "$w"; fi
	done
}

for w in "${LAB_WEBS[@]}"; do
	counter=$(lab_handoff_counter "$w")
	n0=$(lab_backend_counter "$w" "$counter")
	check_eq "handoff: /$w/1m.bin intact" "200 $(lab_sha256 "/$w/1m.bin")" "$(fetch client1 "/$w/1m.bin")"
	check_eq "handoff: /$w/1m.bin served by its holder" "$w " "$(served_by "/$w/1m.bin")"
	# The mode the lab asked for is the one that took the connection.
	# (At least one: a replayed SYN retried on a slow machine counts twice.)
	check "handoff: $w took it in $(lab_handoff_of "$w") mode ($counter grew)" \
		test "$(($(lab_backend_counter "$w" "$counter") - n0))" -ge 1
done

# Replicated content: one request at a time, every holder idle at each choice,
# so the choice rotates over them all (in the mixed lab a replay-mode holder
# among cookie-mode ones, which the rotation once skipped); then 6 at a time,
# the least loaded winning, spread over them all too.
shared_served() { # TAG: "web1=N web2=N web3=N " for the requests tagged ?TAG=...
	local w
	for w in "${LAB_WEBS[@]}"; do
		printf '%s=%s ' "$w" "$(grep -c " /shared/1k.bin?$1=" "$(lab_access_log "$w")" || true)"
	done
}
shared_total() { # TAG
	local spread
	spread=$(shared_served "$1")
	echo $(($(tr ' ' '\n' <<<"$spread" | cut -s -d= -f2 | paste -sd+)))
}
shared_logged() { [[ $(shared_total "$1") == "$2" ]]; } # TAG N
for i in $(seq 1 15); do
	ip netns exec "$CLIENT2_NS" curl -s -o /dev/null --max-time 10 "http://$VIP/shared/1k.bin?one=$i"
done
lab_wait 5 shared_logged one 15 || true
check_match "handoff: replicated content, one request at a time: spread over every holder" \
	"^web1=[1-9][0-9]* web2=[1-9][0-9]* web3=[1-9][0-9]* $" "$(shared_served one)"
seq 1 60 | xargs -P 6 -I{} ip netns exec "$CLIENT2_NS" curl -s -o /dev/null --max-time 10 \
	"http://$VIP/shared/1k.bin?six={}"
lab_wait 5 shared_logged six 60 || true
check_match "handoff: replicated content, 6 at a time: all 60 answered, spread over every holder" \
	"^60: web1=[1-9][0-9]* web2=[1-9][0-9]* web3=[1-9][0-9]* $" "$(shared_total six): $(shared_served six)"

# Direct return: the big response leaves the backend, not the balancer.
tx0=$(lab_exec balancer cat "/sys/class/net/$LAB_IF/statistics/tx_bytes")
check_eq "handoff: 64 MiB byte-exact" "200 $(lab_sha256 /web3/64m.bin)" "$(fetch client1 /web3/64m.bin)"
tx=$(($(lab_exec balancer cat "/sys/class/net/$LAB_IF/statistics/tx_bytes") - tx0))
check "handoff: balancer sent < 1% of the 64 MiB ($tx bytes)" test "$tx" -lt $((64 * 1024 * 1024 / 100))

# Client TCP variants, one at a time.
while read -r name sysctl value; do
	lab_exec client1 sysctl -q -w "$sysctl=$value"
	check_eq "handoff: client with $name" "200 $(lab_sha256 /web2/1m.bin)" "$(fetch client1 /web2/1m.bin)"
	lab_exec client1 sysctl -q -w "$sysctl=1"
done <<'VARIANTS'
timestamps-off net.ipv4.tcp_timestamps 0
sack-off net.ipv4.tcp_sack 0
wscale-off net.ipv4.tcp_window_scaling 0
VARIANTS
lab_exec client1 ip route replace default via "$ROUTER_CLIENT_IP" advmss 536
check_eq "handoff: client with MSS 536" "200 $(lab_sha256 /web2/1m.bin)" "$(fetch client1 /web2/1m.bin)"
lab_exec client1 ip route replace default via "$ROUTER_CLIENT_IP"

# Keep-alive: 100 requests on one connection, all on the bound backend.
out=$(lab_curl client1 -s -o /dev/null -w '%{http_code} %{num_connects}\n' \
	"http://$VIP/web1/1k.bin?k=[1-100]")
check_eq "handoff: keep-alive, 100 requests succeed" 100 "$(grep -c '^200 ' <<<"$out")"
check_eq "handoff: keep-alive, on one connection" 1 "$(awk '{ s += $2 } END { print s }' <<<"$out")"

# Port reuse: the backend closed each connection first and holds its tuple in
# TIME_WAIT; the next connection from the same client port must still be adopted.
reuse_before=$(lab_backend_counter web1 time_wait_cleared)
codes=""
for i in 1 2 3; do
	codes+="$(lab_curl client2 -s -o /dev/null -w '%{http_code}' --local-port "${LAB_CLIENT_FIXED_PORTS%-*}" \
		-H 'Connection: close' "http://$VIP/web1/1k.bin?reuse=$i") "
done
check_eq "handoff: same client port three times, server closing first" "200 200 200 " "$codes"
reuse_after=$(lab_backend_counter web1 time_wait_cleared)
# Cookie mode clears the TIME_WAIT socket itself and counts it. In replay mode
# the replayed SYN meets the TIME_WAIT socket in the backend's kernel, which
# decides about reuse itself: there the three answers above are the check.
if [[ $(lab_handoff_of web1) == cookie ]]; then
	check "handoff: ... through the backend's TIME_WAIT ($reuse_before → $reuse_after)" \
		test "$((reuse_after - reuse_before))" -ge 2
fi

# Endings: every order of FIN and RST leaves no flow and no count behind.

lab_curl client1 -s -o /dev/null -H 'Connection: close' "http://$VIP/web1/1k.bin"
check "handoff: server closes first: flow and count settle" lab_wait_settled 8
lab_curl client1 -s -o /dev/null "http://$VIP/web1/1k.bin"
check "handoff: client closes first: flow and count settle" lab_wait_settled 8

# The backend resets mid-transfer: the client hears of it promptly, not by timeout.
# slow_download: client2 fetches web2's 64 MiB at 2 MB/s in the background
# (its pid in $slow), until web2 has the connection.
slow_download() {
	lab_curl client2 -s -o /dev/null --limit-rate 2M "http://$VIP/web2/64m.bin" &
	slow=$!
	lab_wait 5 bash -c "ip netns exec $WEB2_NS ss -tnH state established src $VIP:80 | grep -q ."
}
slow_download
lab_exec web2 ss -K -tn state established src "$VIP:80" >/dev/null
# The client's kernel drops the connection as soon as the reset arrives (curl
# itself may notice later, between its rate-limited reads).
client_reset() { ! lab_exec client2 ss -tnH state established dst "$VIP:80" | grep -q .; }
check "handoff: backend RST reaches the client within 2 s" lab_wait 2 client_reset
rc=0
wait "$slow" || rc=$?
check_match "handoff: ... and curl reports the reset (exit $rc)" "^(56|18|52)$" "$rc"
check "handoff: backend RST: flow and count settle" lab_wait_settled 8

# The backend's RST overtakes its own data, as it may on the way round through
# the balancer: the router's site link drops every data segment to the clients
# (tests/lab/lossy.bpf.c; RSTs pass), so the RST lands past what client2 has.
# The RST goes once a drop has left web2 with bytes in flight (unacked), not at
# the first drop: that may be a tail loss probe, a copy of bytes client2 has,
# and with nothing else sent the RST is exactly where client2 expects it.
# Client2 answers it with a challenge ACK (RFC 5961) that the backend, its
# socket gone, would drop as a bad cookie: the balancer answers it instead,
# with a RST at that ACK (tx_client_reset). Without that, curl hangs to its
# timeout.
# The program goes on before the transfer, dropping nothing until it runs.
resets0=$(lab_balancer_counter tx_client_reset)
lossy_ok=0
lossy_attach router "$LAB_IF" 0 0 80 && lossy_ok=1
slow_download
data_lost() {
	(($(lossy_stat router "$LAB_IF" dropped_data || echo 0) > 0)) &&
		lab_exec web2 ss -tinH state established src "$VIP:80" | grep -qE 'unacked:[1-9]'
}
if ((lossy_ok)) && lossy_set router "$LAB_IF" 1 100000 80 && lab_wait 5 data_lost; then
	lab_exec web2 ss -K -tn state established src "$VIP:80" >/dev/null
	check "handoff: backend RST ahead of its data: the client is reset within 2 s" lab_wait 2 client_reset
else
	lab_fail "handoff: backend RST ahead of its data" "no data lost on the router's link in 5 s" \
		"lossy: seen $(lossy_stat router "$LAB_IF" seen), dropped $(lossy_stat router "$LAB_IF" dropped), data $(lossy_stat router "$LAB_IF" dropped_data)
web2: $(lab_exec web2 ss -tinH state established src "$VIP:80" | tr '\n' ' ')
client2: $(lab_exec client2 ss -tinH dst "$VIP:80" | tr '\n' ' ')"
fi
rc=0
wait "$slow" || rc=$?
check_match "handoff: ... curl reports that reset (exit $rc)" "^(56|18|52)$" "$rc"
check "handoff: ... answered by the balancer (tx_client_reset +$(($(lab_balancer_counter tx_client_reset) - resets0)))" \
	test "$(($(lab_balancer_counter tx_client_reset) - resets0))" -ge 1
lossy_restore || lab_fail "handoff: the router's link restored" "lossy_restore failed"
check "handoff: ... flow and count settle" lab_wait_settled 8

# Small responses on connections the server closes: nginx sends the
# last bytes and its FIN in one segment. That segment goes to the client
# directly (a clone, counted egress_fin_direct when it passes the egress
# program again), and the balancer gets only a header-only notice
# (egress_fin_notice), which closes the flow and is dropped (drop_fin_notice).
# Before this, every such segment crossed the balancer whole: its interface
# sent 110 % of what the client received (this check on the old build: 1703
# bytes a connection); now 24 % (371 bytes: the SYN/ACK and the client's
# segments it forwards), 29 % in replay mode (452: the replayed SYN and the
# backend's SYN/ACK too). The bound leaves room for health checks.
be_sum() { # COUNTER: its packets summed over every backend
	local w n=0 v
	for w in "${LAB_WEBS[@]}"; do
		v=$(lab_backend_counter "$w" "$1") || { echo "$v"; return 1; }
		n=$((n + v))
	done
	echo "$n"
}
if_bytes() { lab_exec "$1" cat "/sys/class/net/$LAB_IF/statistics/$2_bytes"; }
lab_wait 8 lab_settled || true
direct0=$(be_sum egress_fin_direct)
notice0=$(be_sum egress_fin_notice)
dropped0=$(lab_balancer_counter drop_fin_notice)
tx0=$(if_bytes balancer tx)
rx0=$(if_bytes client1 rx)
out=$(lab_curl client1 -s -o /dev/null -H 'Connection: close' \
	-w '%{http_code} %{size_download} %{num_connects}\n' "http://$VIP/shared/1k.bin?fin=[1-200]")
tx=$(($(if_bytes balancer tx) - tx0))
rx=$(($(if_bytes client1 rx) - rx0))
direct=$(($(be_sum egress_fin_direct) - direct0))
notice=$(($(be_sum egress_fin_notice) - notice0))
dropped=$(($(lab_balancer_counter drop_fin_notice) - dropped0))
check_eq "handoff: 200 × 1 KiB, Connection: close, each on its own connection" \
	"200 204800 200" "$(awk '$1 == 200 { n++; b += $2; c += $3 } END { print n, b, c }' <<<"$out")"
check "handoff: ... every data+FIN went direct, with a notice each ($direct direct, $notice notices)" \
	test "$direct" -ge 200 -a "$direct" -eq "$notice"
check_eq "handoff: ... the balancer dropped every notice ($dropped)" "$notice" "$dropped"
echo "# 1 KiB responses: balancer sent $tx bytes, client received $rx ($((tx * 100 / rx)) %)"
check "handoff: ... the balancer sent < 35 % of what the client received ($tx of $rx bytes)" \
	test $((tx * 100)) -lt $((rx * 35))
check "handoff: ... flows and counts settle" lab_wait_settled 8
bad_cookie1=$(lab_balancer_counter drop_bad_cookie)
check_eq "handoff: no real client's segment dropped as a bad cookie ($bad_cookie0 → $bad_cookie1)" \
	0 "$((bad_cookie1 - bad_cookie0))"

rc=0
lab_balancer_stop || rc=$?
check_eq "handoff: balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
check "handoff: backend detach leaves no pins" test ! -e "$(lab_bpffs web1)/latebind-backend"
