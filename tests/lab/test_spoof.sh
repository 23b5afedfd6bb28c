# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Spoofed replay hand-offs (the hand-off option's half; the cookie
# ACK's half is section 5 of test_hostile.sh). In replay mode a backend takes a
# SYN to the VIP service only with the hand-off option, from the balancer's
# MAC, with a tag made with the cookie key and C a valid cookie for the SYN's
# ISN (bpf/backend_replay.bpf.c, replay_syn()). SYNs forged to web1 by forge
# (tests/hostile/), each section between two snapshots of web1's counters and
# hand-offs by state:
#   1. from the site segment (the router's namespace, its own MAC) to the VIP
#      on web1's MAC, a forged option;
#   2. on web1's own link (the switch, out of sw-web1) forging the balancer's
#      MAC as well: a random C, and a real cookie from a handshake with the
#      VIP, so that only the tag is wrong;
#   3. from the site segment, a SYN to the VIP with no option at all;
#   4. from client1 through the router to web1's real address with the
#      option: there it means nothing, the kernel's own handshake answers
#      (what any client of the real address and the health checks get).
# 1–3 get nothing back, are counted as forged or option-less, record no
# hand-off, and web1's kernel never answers them (had it, forge --complete
# would finish the handshake as the client holding C and send a request,
# which nginx would log). Real clients are served meanwhile through the VIP
# from web2 and web3 (web1's counters stay the forged traffic's own), and
# from web1 after.
#
# Needs web1 in replay mode: the replay and mixed passes of run.sh. In a
# cookie-mode lab it records a failure and checks nothing else.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

SPOOF_BIN=$LAB_ROOT/build/hostile
SPOOF_TMP=$LAB_RUN/spoof
SPOOF_PIDS=()
spoof_t0=$SECONDS

# Asked for by name in a cookie lab: nothing here could be tested, which is a
# failure, not a pass (run.sh leaves this test out of a full cookie pass).
if [[ $(lab_handoff_of web1) != replay ]]; then
	lab_fail "spoof: web1 in replay mode" \
		"web1 hands off in $(lab_handoff_of web1) mode: run with LB_LAB_HANDOFF=replay or mixed"
	return 0
fi

# --- helpers -----------------------------------------------------------------

# spoof_build: forge, rebuilt only when its sources are newer, compiled to a
# temporary name and renamed (test_hostile.sh builds the same binary).
spoof_build() {
	local src=$LAB_ROOT/tests/hostile/forge.c out=$SPOOF_BIN/forge
	mkdir -p "$SPOOF_BIN" || return 1
	if [[ -x $out && $out -nt $src && $out -nt $LAB_ROOT/tests/hostile/rawframe.h &&
		$out -nt $LAB_ROOT/headers/handoff_opt.h ]]; then
		return 0
	fi
	cc -O2 -Wall -Werror -I"$LAB_ROOT/tests/hostile" -I"$LAB_ROOT/headers" -o "$out.$$" "$src" &&
		mv -f "$out.$$" "$out"
}

# On any exit (failure, timeout's SIGTERM): our jobs (by PID), the daemon, the backends.
spoof_cleanup() {
	trap - EXIT
	lab_stop_pids 3 "${SPOOF_PIDS[@]}"
	lab_balancer_stop >/dev/null 2>&1
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach >/dev/null 2>&1
}
trap spoof_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# wsnap ARRAY: web1's counters (`latebind backend status`, packets) and its
# hand-offs by state (syn_seen, established, closing) into ARRAY.
wsnap() {
	local -n _w=$1
	local k v
	_w=()
	while read -r k v; do
		_w["$k"]=$v
	done < <(lab_exec_bpf web1 "$LAB_LATEBIND" backend status | awk '
		/^Counters/ { s = 1; next }
		/^Hand-offs by state/ { s = 1; next }
		/^[^ ]/ { s = 0 }
		s && NF >= 2 { print $1, $2 }')
}

# entries ARRAY: hand-offs recorded, in every state.
entries() {
	local -n _e=$1
	echo $((${_e[syn_seen]:-0} + ${_e[established]:-0} + ${_e[closing]:-0}))
}

# SYN/ACKs web1's kernel sent from the VIP: diverted to the balancer as the
# answer to a replay, or dropped at egress as nobody's.
synacks() {
	local -n _s=$1
	echo $((${_s[replay_synack_diverted]:-0} + ${_s[egress_synack_dropped]:-0}))
}

spoof_id=spoof-replay-$$-$RANDOM
spoof_req="GET /web1/1k.bin?$spoof_id HTTP/1.1\\r\\nHost: $VIP\\r\\n\\r\\n"
# forge NODE ARGS...: with the tagged request as the payload (sent only if
# --complete finds a SYN/ACK to answer).
forge() {
	local node=$1
	shift
	lab_exec "$node" "$SPOOF_BIN/forge" --payload "$spoof_req" "$@"
}

# shellcheck disable=SC2034 # read through namerefs
declare -A A B

# not_let_in NAME LINE N REASON: the checks of a section whose N SYNs to the
# VIP web1 must refuse (between snapshots A and B): nothing back, each counted
# under REASON, no hand-off recorded, no SYN/ACK from web1's kernel.
not_let_in() {
	local name=$1 line=$2 n=$3 reason=$4
	echo "# spoof: $name: $line"
	echo "# spoof: $name: web1 $reason +$(grew A B "$reason"), replay_syn +$(grew A B replay_syn), hand-offs ${B[syn_seen]:-?}/${B[established]:-?}/${B[closing]:-?} (syn_seen/established/closing; before ${A[syn_seen]:-?}/${A[established]:-?}/${A[closing]:-?})"
	check_match "spoof: $name: nothing comes back" "sent=$n replies=0 .*completed=0\$" "$line"
	check_eq "spoof: $name: web1 counted $n $reason" "$n" "$(grew A B "$reason")"
	check_eq "spoof: $name: no hand-off recorded (replay_syn +0, entries +0, syn_seen +0)" "0 0 0" \
		"$(grew A B replay_syn) $(($(entries B) - $(entries A))) $(grew A B syn_seen)"
	check_eq "spoof: $name: web1's kernel never answered (no SYN/ACK diverted or dropped at egress)" 0 \
		"$(($(synacks B) - $(synacks A)))"
}

# --- setup ---------------------------------------------------------------------

mkdir -p "$SPOOF_TMP"
if ! spoof_build; then
	lab_fail "spoof: forge builds (cc -O2 -Wall -Werror)" "see the compiler output above"
	return 0
fi
lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach >/dev/null; then
	lab_fail "spoof: backends attach" "latebind backend attach failed"
	return 0
fi
lab_balancer_config
# shellcheck disable=SC2119 # no extra daemon options
if ! lab_balancer_start; then
	lab_fail "spoof: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi
# A real hand-off to web1 first: whatever it refuses later, it does take the
# balancer's own.
check_eq "spoof: web1 serves through the VIP in replay mode (before)" 200 \
	"$(lab_curl client1 -o /dev/null -w '%{http_code}' "http://$VIP/web1/1k.bin")"

# Real clients meanwhile, from client2: content only web2 and web3 hold, so
# nothing of theirs moves web1's counters. 20 requests, 8 a second.
lab_exec client2 timeout 20 curl -s -o /dev/null -H 'Connection: close' --rate 8/s \
	--connect-timeout 3 --max-time 5 -w '%{http_code}\n' \
	"http://$VIP/{web2,web3}/1k.bin?spoof-real=[1-10]" >"$SPOOF_TMP/real" 2>/dev/null &
real_pid=$!
SPOOF_PIDS+=("$real_pid")

# --- 1. the site segment, a forged option --------------------------------------
wsnap A
line=$(forge router --interface "$LAB_IF" --dst-mac "$WEB1_MAC" --src "$ROUTER_SITE_IP" \
	--dst "$VIP" --handoff-syn --count 5 --complete)
wsnap B
not_let_in "option SYN to the VIP on web1's MAC from the site segment" "$line" 5 drop_forged_handoff

# --- 2. web1's own link, the balancer's MAC forged ------------------------------
# Random C and tag; then C the balancer's cookie for this very tuple and ISN
# (a handshake with the VIP straight out of the switch's port to the
# balancer), only the tag forged.
wsnap A
line=$(forge switch --interface sw-web1 --dst-mac "$WEB1_MAC" --src-mac "$BALANCER_MAC" \
	--src "$CLIENT1_IP" --dst "$VIP" --handoff-syn --count 5 --complete)
wsnap B
not_let_in "as the balancer's MAC on web1's link, random C" "$line" 5 drop_forged_handoff
check_match "spoof: ... C was random" "^cookie=random " "$line"

wsnap A
line=$(forge switch --interface sw-web1 --dst-mac "$WEB1_MAC" --src-mac "$BALANCER_MAC" \
	--src "$CLIENT1_IP" --dst "$VIP" --handoff-syn --complete \
	--handshake --vip "$VIP" --vip-mac "$BALANCER_MAC" --vip-interface "$BALANCER_PEER")
wsnap B
not_let_in "as the balancer's MAC on web1's link, a real cookie (only the tag forged)" "$line" 1 \
	drop_forged_handoff
check_match "spoof: ... C was the balancer's cookie from a handshake" "^cookie=valid " "$line"

# --- 3. the site segment, no option --------------------------------------------
wsnap A
line=$(forge router --interface "$LAB_IF" --dst-mac "$WEB1_MAC" --src "$ROUTER_SITE_IP" \
	--dst "$VIP" --syn --count 5 --complete)
wsnap B
not_let_in "plain SYN to the VIP on web1's MAC from the site segment" "$line" 5 drop_syn_no_handoff

# --- 4. web1's real address, with the option ------------------------------------
# Not the VIP service: the TC program passes it untouched (pass_other, with
# the health checks' packets) and web1's kernel, which knows no such option,
# answers as it answers anyone: a SYN/ACK from the real address straight back
# to the client. (client1's kernel, knowing no such connection, resets it.)
wsnap A
line=$(forge client1 --interface "$LAB_IF" --dst-mac "$ROUTER_CLIENT_MAC" --src "$CLIENT1_IP" \
	--dst "$WEB1_IP" --handoff-syn --count 5)
wsnap B
name="option SYN to web1's real address from client1"
echo "# spoof: $name: $line"
echo "# spoof: $name: web1 pass_other +$(grew A B pass_other), replay_syn +$(grew A B replay_syn), drop_forged_handoff +$(grew A B drop_forged_handoff)"
check_match "spoof: $name: the kernel's own handshake answers, as for any client (5 SYN/ACKs, no RST)" \
	"sent=5 replies=5 rst=0 synack=5 acks=0 " "$line"
check_eq "spoof: $name: the option means nothing there (replay_syn, drop_forged_handoff, drop_syn_no_handoff +0)" \
	"0 0 0" "$(grew A B replay_syn) $(grew A B drop_forged_handoff) $(grew A B drop_syn_no_handoff)"
check_eq "spoof: $name: no hand-off recorded (entries +0, syn_seen +0)" "0 0" \
	"$(($(entries B) - $(entries A))) $(grew A B syn_seen)"
check "spoof: $name: counted as not for the VIP service (pass_other +$(grew A B pass_other) >= 5)" \
	test "$(grew A B pass_other)" -ge 5
check_eq "spoof: a client of web1's real address is served (curl, 200)" 200 \
	"$(lab_curl client1 -o /dev/null -w '%{http_code}' "http://$WEB1_IP/web1/1k.bin")"

# --- real clients, nginx's view ---------------------------------------------------
wait "$real_pid"
SPOOF_PIDS=()
check_eq "spoof: real clients served meanwhile (web2 and web3 through the VIP, 200s of 20)" 20 \
	"$(grep -c '^200$' "$SPOOF_TMP/real")"
check_eq "spoof: web1 serves through the VIP in replay mode (after)" 200 \
	"$(lab_curl client1 -o /dev/null -w '%{http_code}' "http://$VIP/web1/1k.bin")"
check "spoof: nginx on web1 never logged a forged request" \
	bash -c "! grep -qF '$spoof_id' '$(lab_access_log web1)'"

# --- the end ------------------------------------------------------------------------
rc=0
lab_balancer_stop || rc=$?
check_eq "spoof: balancer exits 0 on SIGTERM" 0 "$rc"
trap - EXIT
# shellcheck disable=SC2119 # every backend
lab_backends_detach >/dev/null
echo "# spoof: took $((SECONDS - spoof_t0)) s"
