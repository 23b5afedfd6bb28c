# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Stateless handshakes: a real Linux client completes TCP handshakes with the
# VIP while nothing listens anywhere (the balancer's XDP program answers with
# SYN cookies), with timestamps, SACK and window scaling each switched off in
# turn. The negotiated options are read on the client's side (ss -ti); the
# balancer's counters show one SYN/ACK per SYN and no flow state.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

# handshake_info: connect from client1, print the socket's ss -ti line, close.
handshake_info() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec client1 timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		ss -tinoH state established dst "$0"
		exec 3<&-' "$VIP" "$VIP_PORT"
}

set_client_sysctls() { # TS SACK WS
	lab_exec client1 sysctl -q -w net.ipv4.tcp_timestamps="$1" net.ipv4.tcp_sack="$2" \
		net.ipv4.tcp_window_scaling="$3"
}

# Its own config: the file an earlier test left may name interfaces it added.
lab_balancer_config
# shellcheck disable=SC2119 # no extra daemon options here
if ! lab_balancer_start; then
	lab_fail "cookie: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi
lab_pass "cookie: balancer starts and pins its maps"

synacks_before=$(lab_balancer_counter tx_synack)
acks_before=$(lab_balancer_counter drop_handshake_ack)
handshakes=0

# name ts sack ws | regex the ss line must match | regex it must not match
while read -r name ts sack ws want unwanted; do
	set_client_sysctls "$ts" "$sack" "$ws"
	info=$(handshake_info) || true
	handshakes=$((handshakes + 1))
	check_match "cookie: handshake, $name: negotiated" "$want" "$info"
	# No connection, no ss line: nothing to judge, so no pass either.
	if [[ -z $info ]]; then
		lab_fail "cookie: handshake, $name: nothing more" "no established connection"
	elif [[ $unwanted != - && $info =~ $unwanted ]]; then
		lab_fail "cookie: handshake, $name: nothing more" "matched /$unwanted/: $info"
	else
		lab_pass "cookie: handshake, $name: nothing more"
	fi
done <<'CASES'
all-on     1 1 1 (^|[[:space:]])ts[[:space:]].*sack.*wscale:7,[0-9]+.*mss:1388          -
ts-off     0 1 1 sack.*wscale:7,[0-9]+.*mss:1400                                  (^|[[:space:]])ts[[:space:]]
sack-off   1 0 1 (^|[[:space:]])ts[[:space:]].*wscale:7,[0-9]+.*mss:1388               sack
wscale-off 1 1 0 (^|[[:space:]])ts[[:space:]].*sack.*mss:1388                          wscale
all-off    0 0 0 mss:1400                                                      (^|[[:space:]])ts[[:space:]]|sack|wscale
CASES
set_client_sysctls 1 1 1

synacks_after=$(lab_balancer_counter tx_synack)
check_eq "cookie: one SYN/ACK per SYN" "$handshakes" "$((synacks_after - synacks_before))"

# While handshaken connections sit idle, the balancer holds nothing for them.
# (Their FINs, later, do reach the dispatcher, which closes them properly.)
check "cookie: earlier connections closed and gone" lab_wait 8 lab_no_flows
taken=$(lab_dispatcher_counter conns_taken)
release=$LAB_RUN/cookie-idle-release
rm -f "$release"
# The connections sit idle, sending nothing, until $release exists (at most 20 s).
# shellcheck disable=SC2016 # expanded by the inner bash
lab_exec client1 timeout 30 bash -c '
	for fd in 3 4 5 6 7; do eval "exec $fd<>/dev/tcp/$0/$1" || exit 1; done
	for ((i = 0; i < 200; i++)); do
		if [[ -e $2 ]]; then exit 0; fi
		sleep 0.1
	done
	exit 1' "$VIP" "$VIP_PORT" "$release" &
idle=$!
established() { # N: exactly N connections to the VIP established on client1
	local n
	n=$(lab_exec client1 ss -tnH state established dst "$VIP" | wc -l)
	echo "$n established"
	((n == $1))
}
check "cookie: 5 idle connections established on the client" lab_wait 10 established 5
handshakes=$((handshakes + 5))
check_eq "cookie: ... no flow state kept for them" 0 "$(lab_balancer_flows)"
check_eq "cookie: ... nor dispatcher state" "$taken" "$(lab_dispatcher_counter conns_taken)"
check "cookie: ... and they were still open meanwhile" established 5
touch "$release"
rc=0
wait "$idle" || rc=$?
check_eq "cookie: the idle client held them until released" 0 "$rc"
# Each handshake's bare ACK is checked and counted as valid. drop_bad_cookie
# cannot judge it: earlier tests' connections still send now and then (a
# socket a backend kept for a keep-alive connection that moved, closed by nginx
# later: its FIN, retransmitted, goes to the client, whose answer comes here).
acks=$(($(lab_balancer_counter drop_handshake_ack) - acks_before))
check_eq "cookie: every real client's handshake ACK validates (drop_handshake_ack)" \
	"$handshakes" "$acks"
bad=$(lab_balancer_counter drop_bad_cookie)
echo "# cookie: segments that failed the cookie meanwhile (late ones of earlier tests): $bad"
# What a failure needs to be traced: the client's sockets to the VIP and the
# dispatcher's view.
if ((acks != handshakes)); then
	lab_exec client1 ss -tanH dst "$VIP" | grep -v TIME-WAIT | sed 's/^/# client1: /'
	lab_exec_bpf balancer "$LAB_LATEBIND" status 2>&1 | grep -E "conns|cookie|handshake" |
		sed 's/^/# /'
fi

# A stopped balancer leaves nothing behind: program detached, maps unpinned.
rc=0
lab_balancer_stop || rc=$?
check_eq "cookie: balancer exits 0 on SIGTERM" 0 "$rc"
# The interface must be read for its absence to count: a failed `ip` proves nothing.
no_xdp() {
	local out
	out=$(ip -n "$BALANCER_NS" link show "$LAB_IF") && ! grep -q xdp <<<"$out"
}
check "cookie: XDP program detached" no_xdp
# On the mounted bpffs the pins were on: a missing mount would pass for "unpinned".
unpinned() { mountpoint -q "$1" && test ! -e "$1/latebind"; }
check "cookie: maps unpinned" unpinned "$(lab_bpffs balancer)"
