# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# A backend behind another interface of the balancer (XDP_REDIRECT). This test
# adds a second site segment to the default lab and takes it away again; every
# other test sees the default lab only.
#
#   router eth1 192.0.2.129 ───┐ switch2: br1
#   balancer eth1 192.0.2.130 ─┼─ (each port with the XDP pass program)
#   web4 192.0.2.140 ──────────┘ VIP on lo, default via the router (DSR)
#
# web4 alone holds /web4/. Its client packets leave the balancer through eth1
# (redirected by XDP), its hand-offs through a packet socket on eth1, its
# diverted FIN/RST come back on eth1 and are redirected out of eth0 to the
# client; its responses go to the client through the router, not the balancer.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

WEB4_NS=$LAB_PREFIX-web4
SWITCH2_NS=$LAB_PREFIX-switch2
SEG2_ROUTER_IP=192.0.2.129
SEG2_BALANCER_IP=192.0.2.130
WEB4_IP=192.0.2.140
SEG2_ROUTER_MAC=02:00:00:00:03:01
SEG2_BALANCER_MAC=02:00:00:00:03:02
WEB4_MAC=02:00:00:00:03:40
SEG2_IF=eth1
WEB4_DIR=$LAB_RUN/web4
WEB4_BPFFS=$(lab_bpffs web4)

# veth2 NS IF MAC PORT PORT_MAC: NS's IF to a port of br1 in switch2, the port with
# the XDP pass program (frames XDP-redirected into a veth need XDP on its peer).
veth2() {
	ip -n "$1" link add name "$2" address "$3" type veth peer name "$4" address "$5" \
		netns "$SWITCH2_NS" || return 1
	ip -n "$1" link set "$2" up
	ip -n "$SWITCH2_NS" link set "$4" master br1 up
	ip netns exec "$1" ethtool -K "$2" tx off rx off >/dev/null
	ip netns exec "$SWITCH2_NS" ethtool -K "$4" tx off rx off >/dev/null
	ip -n "$SWITCH2_NS" link set dev "$4" xdpdrv obj "$LAB_XDP_PASS" sec xdp 2>/dev/null ||
		ip -n "$SWITCH2_NS" link set dev "$4" xdpgeneric obj "$LAB_XDP_PASS" sec xdp
}

segment2_up() {
	local ns
	for ns in "$WEB4_NS" "$SWITCH2_NS"; do
		ip netns add "$ns" || return 1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null
		ip -n "$ns" link set lo up
	done
	ip -n "$SWITCH2_NS" link add name br1 address 02:00:00:00:13:ff type bridge stp_state 0 \
		mcast_snooping 0
	ip -n "$SWITCH2_NS" link set br1 up
	# As lab.sh does for web1-3: the VIP on lo is never announced over ARP.
	ip netns exec "$WEB4_NS" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.default.arp_ignore=1 \
		net.ipv4.conf.default.arp_announce=2 >/dev/null
	veth2 "$ROUTER_NS" "$SEG2_IF" "$SEG2_ROUTER_MAC" sw2-router 02:00:00:00:13:01 &&
		veth2 "$BALANCER_NS" "$SEG2_IF" "$SEG2_BALANCER_MAC" sw2-balancer 02:00:00:00:13:02 &&
		veth2 "$WEB4_NS" "$LAB_IF" "$WEB4_MAC" sw2-web4 02:00:00:00:13:40 || return 1
	ip -n "$ROUTER_NS" addr add "$SEG2_ROUTER_IP/25" dev "$SEG2_IF"
	# web4 answers from the VIP on this side while the VIP's route points to eth0.
	ip netns exec "$ROUTER_NS" sysctl -qw "net.ipv4.conf.$SEG2_IF.rp_filter=0" >/dev/null
	ip -n "$BALANCER_NS" addr add "$SEG2_BALANCER_IP/25" dev "$SEG2_IF"
	ip -n "$WEB4_NS" addr add "$WEB4_IP/25" dev "$LAB_IF"
	ip -n "$WEB4_NS" addr add "$VIP/32" dev lo
	ip -n "$WEB4_NS" route add default via "$SEG2_ROUTER_IP"
	mkdir -p "$WEB4_DIR/html/web4" "$WEB4_DIR/tmp" "$WEB4_BPFFS"
	mount -t bpf bpf "$WEB4_BPFFS"
	printf 'ok web4\n' >"$WEB4_DIR/html/health"
	# The health checks ask for / (health.path).
	printf '<!doctype html>\n<title>web4</title>\n<h1>web4</h1>\n' >"$WEB4_DIR/html/index.html"
	head -c 1024 /dev/urandom >"$WEB4_DIR/html/web4/1k.bin"
	head -c 1M /dev/urandom >"$WEB4_DIR/html/web4/1m.bin"
	head -c 64M /dev/urandom >"$WEB4_DIR/html/web4/64m.bin"
	lab_nginx_conf web4 "$WEB4_DIR"
	lab_nginx_start web4 "$WEB4_DIR"
}

# Everything segment2_up made, whatever state it got to; the peers of the eth1s
# in router and balancer go with switch2.
segment2_down() {
	local pid
	pid=$(cat "$WEB4_DIR/nginx.pid" 2>/dev/null || true)
	if [[ -n $pid ]]; then lab_stop_pids 5 "$pid"; fi
	if mountpoint -q "$WEB4_BPFFS" 2>/dev/null; then umount "$WEB4_BPFFS"; fi
	for ns in "$WEB4_NS" "$SWITCH2_NS"; do
		if ip netns list | grep -qw "$ns"; then ip netns del "$ns"; fi
	done
	rm -rf --one-file-system "$WEB4_DIR"
}

redirect_cleanup() {
	lab_balancer_stop >/dev/null 2>&1
	# shellcheck disable=SC2119 # every default backend
	lab_backends_detach >/dev/null 2>&1
	lab_exec_bpf web4 "$LAB_LATEBIND" backend detach --interface "$LAB_IF" >/dev/null 2>&1
	segment2_down
}
trap 'redirect_cleanup; exit 143' TERM

if ! segment2_up; then
	lab_fail "redirect: second segment up" "see above"
	segment2_down
	return 0
fi
web4_ready() {
	ip netns exec "$ROUTER_NS" curl -sf --max-time 2 -o /dev/null "http://$WEB4_IP/health"
}
check "redirect: web4 on the second segment answers the router" lab_wait 10 web4_ready

lab_cookie_key
# shellcheck disable=SC2119 # every default backend
lab_backends_attach >/dev/null &&
	lab_exec_bpf web4 "$LAB_LATEBIND" backend attach --interface "$LAB_IF" --vip "$VIP:$VIP_PORT" \
		--balancer-mac "$SEG2_BALANCER_MAC" --cookie-key "$LAB_RUN/cookie.key" >/dev/null
check_eq "redirect: backends attach (web4 to the balancer's $SEG2_IF MAC)" 0 "$?"

lab_balancer_config
# The default site plus web4 behind eth1, holding /web4/ alone.
sed -i -e "/^backends:/a\\  - {name: web4, address: $WEB4_IP, mac: \"$WEB4_MAC\", interface: $SEG2_IF}" \
	-e "/^routes:/a\\  - {name: web4-only, host: \"*\", prefix: /web4/, backends: [web4]}" \
	"$LAB_BALANCER_CONF"
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
# shellcheck disable=SC2119 # no extra daemon options
if ! lab_balancer_start; then
	lab_fail "redirect: balancer starts" "see $LAB_BALANCER_LOG"
	redirect_cleanup
	return 0
fi
check "redirect: the balancer attaches to $SEG2_IF too" \
	lab_log_has "$LAB_BALANCER_LOG" "$mark" "attached to $SEG2_IF too"
check "redirect: lb_xdp on the balancer's $SEG2_IF" \
	bash -c "ip -n $BALANCER_NS link show $SEG2_IF | grep -q 'prog/xdp'"

fetch() { # NODE PATH: "HTTP-code sha256" of a download through the VIP
	local tmp code
	tmp=$(mktemp)
	code=$(lab_curl "$1" -s -o "$tmp" -w '%{http_code}' "http://$VIP$2") || code="curl-failed:$code"
	echo "$code $(sha256sum <"$tmp" | cut -d' ' -f1)"
	rm -f "$tmp"
}
sum_of() { sha256sum <"$WEB4_DIR/html$1" | cut -d' ' -f1; }
served_by_web4() { grep -c " \"GET $1 HTTP/1.1\" 200 " "$WEB4_DIR/access.log" 2>/dev/null || true; }
tx_bytes() { # the balancer's bytes sent on both its interfaces
	echo $(($(lab_exec balancer cat "/sys/class/net/$LAB_IF/statistics/tx_bytes") + \
		$(lab_exec balancer cat "/sys/class/net/$SEG2_IF/statistics/tx_bytes")))
}

redir0=$(lab_balancer_counter redirect_fast_path)
check_eq "redirect: /web4/1m.bin intact through the VIP" "200 $(sum_of /web4/1m.bin)" \
	"$(fetch client1 /web4/1m.bin)"
# nginx logs a request as it ends, which may be just after curl has it all.
served_once() { [[ $(served_by_web4 "$1") == 1 ]]; }
check "redirect: ... served by web4 (its access log)" lab_wait 5 served_once /web4/1m.bin
check "redirect: ... the client's packets were redirected out of $SEG2_IF" \
	test "$(lab_balancer_counter redirect_fast_path)" -gt "${redir0:-0}"
check_eq "redirect: /web1/1m.bin still intact through eth0 (XDP_TX)" \
	"200 $(lab_sha256 /web1/1m.bin)" "$(fetch client2 /web1/1m.bin)"

tx0=$(tx_bytes)
check_eq "redirect: 64 MiB from web4 byte-exact" "200 $(sum_of /web4/64m.bin)" \
	"$(fetch client1 /web4/64m.bin)"
tx=$(($(tx_bytes) - tx0))
check "redirect: balancer sent < 1% of the 64 MiB on eth0+$SEG2_IF ($tx bytes)" \
	test "$tx" -lt $((64 * 1024 * 1024 / 100))

out=$(lab_curl client2 -s -o /dev/null -w '%{http_code} %{num_connects}\n' \
	"http://$VIP/web4/1k.bin?k=[1-50]")
check_eq "redirect: keep-alive, 50 requests succeed" 50 "$(grep -c '^200 ' <<<"$out")"
check_eq "redirect: keep-alive, on one connection" 1 "$(awk '{ s += $2 } END { print s }' <<<"$out")"

no_active() {
	local w
	for w in web1 web2 web3 web4; do
		[[ $(lab_exec_bpf balancer "$LAB_LATEBIND" status |
			awk -v ip="$(if [[ $w == web4 ]]; then echo "$WEB4_IP"; else lab_ip "$w"; fi)" \
				'$2 == ip { print $4 }') == 0 ]] || return 1
	done
}
settled() { lab_no_flows && no_active; }
check "redirect: after keep-alive, flows and active counts settle" lab_wait 8 settled

div0=$(lab_balancer_counter redirect_diverted)
lab_curl client1 -s -o /dev/null -H 'Connection: close' "http://$VIP/web4/1k.bin"
check "redirect: web4 closes first: flow and count settle" lab_wait 8 settled
check "redirect: ... its FIN came back on $SEG2_IF and went out of eth0" \
	test "$(lab_balancer_counter redirect_diverted)" -gt "${div0:-0}"
lab_curl client1 -s -o /dev/null "http://$VIP/web4/1k.bin"
check "redirect: client closes first: flow and count settle" lab_wait 8 settled
check_eq "redirect: nothing dropped for want of a tx port" 0 \
	"$(lab_balancer_counter drop_no_tx_port)"

# Killed, the daemon leaves lb_xdp on both interfaces forwarding; the next one
# replaces it on each, and web4's flows and closes work as before.
xdp_id() { ip -n "$BALANCER_NS" -d link show "$1" | awk '/prog\/xdp/ { for (i = 1; i < NF; i++) if ($i == "id") print $(i + 1) }'; }
old_id=$(lab_number "XDP program id on $SEG2_IF" "$(xdp_id "$SEG2_IF")")
kill -KILL "$LAB_BALANCER_PID"
wait "$LAB_BALANCER_PID" 2>/dev/null || true
LAB_BALANCER_PID=
check_eq "redirect: after SIGKILL lb_xdp stays on $SEG2_IF" "prog $old_id" "prog $(xdp_id "$SEG2_IF")"
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "redirect: new daemon starts" "see $LAB_BALANCER_LOG"
new_id=$(xdp_id "$SEG2_IF")
check "redirect: the new daemon replaced it on $SEG2_IF ($old_id → $new_id)" \
	test -n "$new_id" -a "$new_id" != "$old_id"
check_eq "redirect: /web4/1m.bin intact after the restart" "200 $(sum_of /web4/1m.bin)" \
	"$(fetch client2 /web4/1m.bin)"
lab_curl client1 -s -o /dev/null -H 'Connection: close' "http://$VIP/web4/1k.bin"
check "redirect: ... and closes settle" lab_wait 8 settled

rc=0
lab_balancer_stop || rc=$?
check_eq "redirect: balancer exits 0 on SIGTERM" 0 "$rc"
# The interface must be there to be read: a failed `ip` is no proof of absence.
no_xdp_on() { # NS IF
	local out
	out=$(ip -n "$1" link show "$2") && ! grep -q 'prog/xdp' <<<"$out"
}
check "redirect: ... and leaves no XDP program on $SEG2_IF" no_xdp_on "$BALANCER_NS" "$SEG2_IF"

# Health checks reach web4 through eth1 too: never marked down all along.
check "redirect: web4 stayed up" bash -c "! grep 'backend web4 is down' '$LAB_BALANCER_LOG'"
trap - TERM
redirect_cleanup
# Deleting a namespace removes its veths asynchronously: the peers' eth1 in the
# router and the balancer go a moment later. Wait for that, then all must be gone.
segment2_gone() {
	! ip netns list | grep -qE "^($WEB4_NS|$SWITCH2_NS)\b" &&
		ip -n "$BALANCER_NS" link show lo >/dev/null && ip -n "$ROUTER_NS" link show lo >/dev/null &&
		! ip -n "$BALANCER_NS" link show "$SEG2_IF" 2>/dev/null &&
		! ip -n "$ROUTER_NS" link show "$SEG2_IF" 2>/dev/null
}
check "redirect: the second segment is gone" lab_wait 10 segment2_gone
