# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Hand-offs under loss (translation under stress), in the lab's mode
# (LB_LAB_HANDOFF; run.sh runs this in the cookie and replay passes; for moves
# between backends under loss see test_lossy_rebind.sh): the router's site-side
# link drops every Nth data or ACK segment in each direction
# (tests/lab/lossy.bpf.c), and 64 MiB through the VIP still arrives byte-exact
# with TCP timestamps on, with them off, and from a backend whose own window
# scale differs from the one the balancer advertised, SACK on throughout. Loss
# recovery is where sequence, SACK, timestamp and window translation go wrong
# first. The drops must have happened, or the test proves nothing and fails.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"
# shellcheck source=tests/lab/lossy.sh
source "$LAB_DIR/lossy.sh"

# Site → client carries the data (~46 000 segments per 64 MiB), client → site
# the ACKs (~2 000: the client acknowledges coalesced data); about 90 and 20
# drops per transfer, bounded in all.
LOSSY_EVERY_DATA=${LOSSY_EVERY_DATA:-500}
LOSSY_EVERY_ACK=${LOSSY_EVERY_ACK:-100}
LOSSY_MAX=${LOSSY_MAX:-2000}
# A rate limit makes each transfer last ~1.5 s, long enough to read its TCP
# options with ss while it runs; losses still cost it retransmissions.
LOSSY_RATE=${LOSSY_RATE:-48M}
# web3's receive buffer limit raised so its kernel picks window scale 11 (the
# balancer advertises 7): its windows need rescaling in replay mode.
LOSSY_WEB_RMEM="4096 131072 67108864"

saved_ts=$(lab_exec client1 sysctl -n net.ipv4.tcp_timestamps)
saved_sack=$(lab_exec client1 sysctl -n net.ipv4.tcp_sack)
saved_rmem=$(lab_exec web3 sysctl -n net.ipv4.tcp_rmem)
attached=0
dl_pid=

# Everything this test changed, put back even when it fails or is killed.
lossy_cleanup() {
	trap - EXIT TERM INT
	if [[ -n $dl_pid ]]; then
		kill -TERM "$dl_pid" 2>/dev/null || true
		wait "$dl_pid" 2>/dev/null || true
	fi
	if ((${#LOSSY_ATTACHED[@]})); then
		lossy_restore || lab_fail "lossy: XDP programs restored" "lossy_restore failed"
		check_match "lossy: the switch port runs the lab's pass program again" " name xdp_pass " \
			"$(ip -n "$SWITCH_NS" -d link show dev sw-router)"
		check_eq "lossy: the router's link has no XDP program again" none \
			"$(lossy_xdp_state router "$LAB_IF")"
	fi
	lab_exec client1 sysctl -qw "net.ipv4.tcp_timestamps=$saved_ts" "net.ipv4.tcp_sack=$saved_sack"
	lab_exec web3 sysctl -qw "net.ipv4.tcp_rmem=$saved_rmem"
	lab_balancer_stop >/dev/null 2>&1 || true
	if ((attached)); then
		# shellcheck disable=SC2119 # every backend
		lab_backends_detach >/dev/null 2>&1 || true
	fi
}
trap lossy_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach >/dev/null; then
	lab_fail "lossy: backends attach ($LAB_HANDOFF_MODE mode)" "latebind backend attach failed"
	return 0
fi
attached=1
lab_balancer_config
# shellcheck disable=SC2119 # no extra daemon options
if ! lab_balancer_start; then
	lab_fail "lossy: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi
advertised=$(lab_number "handoff wscale in $LAB_BALANCER_CONF" \
	"$(sed -n 's/^handoff:.*wscale: *\([0-9]*\).*/\1/p' "$LAB_BALANCER_CONF")")

# Both ends of the router's site-side link: the switch's port (ingress: what the
# router sends on, client → site) and the router's eth0 (site → client).
if ! lossy_attach switch sw-router "$LOSSY_EVERY_ACK" "$LOSSY_MAX" "$VIP_PORT" ||
	! lossy_attach router "$LAB_IF" "$LOSSY_EVERY_DATA" "$LOSSY_MAX" "$VIP_PORT"; then
	lab_fail "lossy: lossy.bpf.o on both ends of the router's link" "attach or map update failed"
	return 0
fi
lab_pass "lossy: lossy.bpf.o on both ends of the router's link (every $LOSSY_EVERY_ACK / $LOSSY_EVERY_DATA, at most $LOSSY_MAX each way)"
lab_exec client1 sysctl -qw net.ipv4.tcp_sack=1

# counters NAME: "client→site site→client" values of the lossy programs' NAME.
counters() {
	echo "$(lossy_stat switch sw-router "$1") $(lossy_stat router "$LAB_IF" "$1")"
}

# ss_of NODE FILTER...: the `ss -ti` line of NODE's established connection that
# matches, as one line (empty if none).
ss_of() {
	local node=$1
	shift
	lab_exec "$node" ss -tinH state established "$@" | paste -sd ' '
}

# transfer NAME PATH WEB: fetch PATH through the VIP from client1 over the lossy
# link; check the bytes, that segments were dropped both ways and that SACK
# blocks flowed. Leaves what the link saw in DROPPED, SEEN_TS and SEEN_SACK
# ("client→site site→client", this transfer only), and the connection's TCP
# info as each side's ss showed it while it ran in CLIENT_SS and BACKEND_SS.
transfer() {
	local name=$1 path=$2 web=$3 out=$LAB_RUN/lossy.out c code
	local -A before
	local handoffs n0
	handoffs=$(lab_handoff_counter "$web")
	for c in dropped seen_ts seen_sack; do before[$c]=$(counters "$c"); done
	n0=$(lab_backend_counter "$web" "$handoffs")
	CLIENT_SS='' BACKEND_SS=''
	rm -f "$out"
	lab_exec client1 curl -sS --connect-timeout 3 --max-time 60 --limit-rate "$LOSSY_RATE" \
		-o "$out" -w '%{http_code}' "http://$VIP$path" >"$out.code" 2>&1 &
	dl_pid=$!
	# Both sides' window scales, read as soon as each side's connection is
	# established (up to 10 s); what is missing fails the scale checks below.
	# shellcheck disable=SC2317 # called by lab_wait
	both_ss() {
		[[ -n $CLIENT_SS ]] || CLIENT_SS=$(ss_of client1 dst "$VIP:$VIP_PORT")
		[[ -n $BACKEND_SS ]] || BACKEND_SS=$(ss_of "$web" src "$VIP:$VIP_PORT" dst "$CLIENT1_IP")
		[[ -n $CLIENT_SS && -n $BACKEND_SS ]] || pid_gone "$dl_pid"
	}
	lab_wait 10 both_ss || true # the transfer's own checks below say what went wrong
	wait "$dl_pid" || true
	dl_pid=
	code=$(cat "$out.code")
	check_eq "lossy: $name: 64 MiB byte-exact" "200 $(lab_sha256 "$path")" \
		"$code $(sha256sum <"$out" | cut -d' ' -f1)"
	rm -f "$out" "$out.code"
	check "lossy: $name: $web took it in $(lab_handoff_of "$web") mode ($handoffs +1)" \
		test "$(lab_minus "$(lab_backend_counter "$web" "$handoffs")" "$n0")" -ge 1
	DROPPED=$(delta "${before[dropped]}" "$(counters dropped)")
	SEEN_TS=$(delta "${before[seen_ts]}" "$(counters seen_ts)")
	SEEN_SACK=$(delta "${before[seen_sack]}" "$(counters seen_sack)")
	echo "# lossy: $name: client→site / site→client: dropped $DROPPED, with timestamps $SEEN_TS, with SACK blocks $SEEN_SACK"
	check "lossy: $name: segments were dropped both ways ($DROPPED)" both_positive "$DROPPED"
	# The client SACKs what arrived past a hole: proof that SACK was on and used.
	check "lossy: $name: the client sent SACK blocks (${SEEN_SACK% *})" \
		test "$(lab_number "client SACK blocks" "${SEEN_SACK% *}")" -gt 0
}

# delta "A B" "C D": "C-A D-B"; a counter that could not be read is a failure
# (lab_missing) and makes its half a non-number, so no check on it passes.
delta() {
	local -a a b
	local i out=()
	read -ra a <<<"$1"
	read -ra b <<<"$2"
	for i in 0 1; do
		if [[ ${a[i]:-} =~ ^[0-9]+$ && ${b[i]:-} =~ ^[0-9]+$ ]]; then
			out+=("$((b[i] - a[i]))")
		else
			out+=("$(lab_missing "lossy counter (${a[i]:-none} -> ${b[i]:-none})")")
		fi
	done
	echo "${out[*]}"
}
both_positive() { # "A B"
	[[ $1 =~ ^([0-9]+)\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[2] > 0))
}
none_at_all() { [[ $1 == "0 0" ]]; }

transfer "timestamps on" /web1/64m.bin web1
check "lossy: timestamps on: on the wire both ways ($SEEN_TS)" both_positive "$SEEN_TS"

lab_exec client1 sysctl -qw net.ipv4.tcp_timestamps=0
transfer "timestamps off" /web1/64m.bin web1
check "lossy: timestamps off: none on the wire ($SEEN_TS)" none_at_all "$SEEN_TS"
lab_exec client1 sysctl -qw "net.ipv4.tcp_timestamps=$saved_ts"

# Window scale: web3's kernel would choose 11. The client sees what the balancer
# advertised; in cookie mode web3 takes that scale over with the cookie, in
# replay mode it keeps its own and the TC programs rescale its windows.
lab_exec web3 sysctl -qw "net.ipv4.tcp_rmem=$LOSSY_WEB_RMEM"
transfer "web3 with its own window scale" /web3/64m.bin web3
client_scale=$(grep -oE 'wscale:[0-9]+' <<<"$CLIENT_SS" | head -n 1)
backend_scale=$(grep -oE 'wscale:[0-9]+,[0-9]+' <<<"$BACKEND_SS" | head -n 1)
backend_scale=${backend_scale##*,}
echo "# lossy: window scale advertised to the client ${client_scale#wscale:}, web3's receive scale ${backend_scale:-unknown}"
check_eq "lossy: the client was advertised the balancer's window scale" "wscale:$advertised" "$client_scale"
if [[ $(lab_handoff_of web3) == replay ]]; then
	check "lossy: web3's own window scale (${backend_scale:-unknown}) differs from the advertised $advertised" \
		test "${backend_scale:-$advertised}" -ne "$advertised"
else
	check_eq "lossy: cookie mode: web3 took over the advertised window scale" "$advertised" "$backend_scale"
fi
lab_exec web3 sysctl -qw "net.ipv4.tcp_rmem=$saved_rmem"

check "lossy: no flow left after the transfers" lab_wait 8 lab_no_flows
