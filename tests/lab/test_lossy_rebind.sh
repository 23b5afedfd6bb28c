# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Per-request binding under loss, in the lab's mode (run.sh runs it in the
# cookie, replay and mixed passes): one keep-alive connection asks for 1 MiB
# from web1, web2, web3 and web1 again, so it moves three times. First without
# loss, then with the lossy link of test_lossy.sh on both ends of the router's
# link (tests/lab/lossy.sh), each way; both times as a curl that asks for one
# object after the other, and as the four requests in one write, where each
# move waits for the old backend's answer to be acknowledged while the loss
# makes it retransmit (the probe's job, docs/packet-walk.md §5a).
#
# Each run: every answer 200 and byte-exact, on one connection, each request
# logged by its holder alone from the connection's port; the dispatcher's
# rebinds counter grew by the three moves; the client's TCP rejected no segment
# for an old timestamp (PAWSEstab: each new backend's clock must continue from
# the last one's); once the connection is closed, no backend keeps a socket for
# its port but in TIME-WAIT. Under loss, segments must have been dropped both
# ways during the run, or it proves nothing and fails.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"
# shellcheck source=tests/lab/lossy.sh
source "$LAB_DIR/lossy.sh"

# The lossy link's rates: the same program as test_lossy.sh, denser, as a run
# here moves 4 MiB, not 64: ~3 000 data segments site → client and a few hundred
# ACKs and requests client → site, so about 30 drops each way per run.
LR_EVERY_DATA=${LR_EVERY_DATA:-100}
LR_EVERY_ACK=${LR_EVERY_ACK:-10}
LR_MAX=${LR_MAX:-400}
# A run takes well under a second without loss; a dropped request costs the
# client a retransmission timeout (200 ms, then 400 ms). A request the balancer
# lost fails its transfer in 4 s instead of hanging the test.
LR_TIMEOUT=4
LR_PATHS=(/web1/1m.bin /web2/1m.bin /web3/1m.bin /web1/1m.bin)
LR_MOVES=3
LR_TMP=$LAB_RUN/lossy-rebind
mkdir -p "$LR_TMP"
attached=0
bg_pid=

lr_cleanup() {
	trap - EXIT TERM INT
	if [[ -n $bg_pid ]]; then
		kill -TERM "$bg_pid" 2>/dev/null || true
		wait "$bg_pid" 2>/dev/null || true
	fi
	if ((${#LOSSY_ATTACHED[@]})); then
		lossy_restore || lab_fail "lossy_rebind: XDP programs restored" "lossy_restore failed"
	fi
	lab_balancer_stop >/dev/null 2>&1 || true
	if ((attached)); then
		# shellcheck disable=SC2119 # every backend
		lab_backends_detach >/dev/null 2>&1 || true
	fi
	rm -rf "$LR_TMP"
}
trap lr_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach >/dev/null; then
	lab_fail "lossy_rebind: backends attach ($LAB_HANDOFF_MODE mode)" "latebind backend attach failed"
	return 0
fi
attached=1
lab_balancer_config
# --verbose: the dispatcher logs every probe's answer, counted below.
if ! lab_balancer_start --verbose; then
	lab_fail "lossy_rebind: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi

# --- helpers --------------------------------------------------------------------

# Marks of the three access logs and the balancer's, so a run reads only its own lines.
declare -A LR_MARK
lr_marks() {
	local w
	for w in "${LAB_WEBS[@]}"; do LR_MARK[$w]=$(lab_log_mark "$(lab_access_log "$w")"); done
	LR_MARK[balancer]=$(lab_log_mark "$LAB_BALANCER_LOG")
}

# served TAG: who logged the request tagged ?lr=TAG since lr_marks, one
# "BACKEND:METHOD:STATUS:CLIENT_PORT:BODY_BYTES_SENT" each (nothing: no backend
# saw it).
served() {
	local w
	for w in "${LAB_WEBS[@]}"; do
		lab_log_since "$(lab_access_log "$w")" "${LR_MARK[$w]}" | awk -v t="$1" '
			$7 ~ "[?]lr=" t "$" {
				n = split($3, a, ":")
				sub(/^"/, "", $6)
				printf "%s:%s:%s:%s:%s\n", $2, $6, $9, a[n], $10
			}'
	done | paste -sd' '
}
logged() {
	local t
	for t; do [[ -n $(served "$t") ]] || return 1; done
}

# client_stat FILE NAME: client1's TCP counter NAME from FILE (/proc/net/netstat
# for TcpExt's, /proc/net/snmp for Tcp's), as its namespace counts it.
client_stat() {
	# shellcheck disable=SC2016 # awk's own $
	lab_number "client1 $2" "$(lab_exec client1 awk -v n="$2" '
		$1 == "TcpExt:" || $1 == "Tcp:" {
			if (!seen[$1]++) { for (i = 2; i <= NF; i++) col[$1, $i] = i; next }
			if (($1, n) in col) print $(col[$1, n])
		}' "$1")"
}

# lossy_counters NAME: "client→site site→client" values of the lossy programs' NAME.
lossy_counters() {
	echo "$(lossy_stat switch sw-router "$1") $(lossy_stat router "$LAB_IF" "$1")"
}
# pair_delta "A B" "C D": "C-A D-B", a non-number for a half that could not be read.
pair_delta() {
	local -a a b
	read -ra a <<<"$1"
	read -ra b <<<"$2"
	echo "$(lab_minus "${b[0]:-}" "${a[0]:-}") $(lab_minus "${b[1]:-}" "${a[1]:-}")"
}
both_positive() { # "A B"
	[[ $1 =~ ^([0-9]+)\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[2] > 0))
}


# responses FILE: one line per HTTP/1.1 response in FILE, in order: "STATUS
# SHA256" (of the body, as long as its Content-Length says). Stops at the first
# thing that is not a status line.
responses() {
	local line status len
	exec 4<"$1"
	while IFS= read -r line <&4; do
		[[ $line =~ ^HTTP/1\.1\ ([0-9]+) ]] || break
		status=${BASH_REMATCH[1]} len=0
		while IFS= read -r line <&4 && [[ $line != $'\r' && -n $line ]]; do
			[[ ${line,,} =~ ^content-length:\ *([0-9]+) ]] && len=${BASH_REMATCH[1]}
		done
		# dd reads exactly the body (bash's read left the offset after the head).
		echo "$status $(dd bs=64K count="$len" iflag=count_bytes,fullblock status=none <&4 |
			sha256sum | cut -d' ' -f1)"
	done
	exec 4<&-
}

# fetch_curl TAG: curl on one connection, each of LR_PATHS in turn, tagged
# ?lr=TAG-N. Prints "STATUS SHA256" per transfer; sets CONNS (connections
# opened per transfer) and PORTS (the client ports, distinct).
fetch_curl() {
	local tag=$1 p n=0 out code args=()
	for p in "${LR_PATHS[@]}"; do
		n=$((n + 1))
		args+=(-o "$LR_TMP/$tag-$n" "http://$VIP$p?lr=$tag-$n")
	done
	out=$(LAB_CURL_TIMEOUT=$LR_TIMEOUT lab_curl client1 --http1.1 \
		-w '%{http_code} %{num_connects} %{local_port}\n' "${args[@]}")
	CONNS=$(awk '{ printf "%s ", $2 }' <<<"$out")
	PORTS=$(awk '{ print $3 }' <<<"$out" | sort -u | paste -sd' ')
	n=0
	while read -r code _; do
		n=$((n + 1))
		echo "$code $(sha256sum <"$LR_TMP/$tag-$n" 2>/dev/null | cut -d' ' -f1)"
	done <<<"$out"
}

# fetch_pipelined TAG: the same requests in one write on one connection (the
# last asks to close), read to the end, at most 2 x LR_TIMEOUT. Prints "STATUS
# SHA256" per response; sets CONNS (one connection by construction) and PORTS
# (the first request's client port, from its holder's access log). curl asks
# for the next object once it has the whole answer, so the backend it leaves
# is idle by then; here each next request is there while the answer before it
# is still on its way: it is held until the backend's framing report proves
# that answer complete (nginx's answers carry Content-Length), then moved, so
# each holder answers its own, whole, in request order.
fetch_pipelined() {
	local tag=$1 p n=0 rc=0 close
	: >"$LR_TMP/$tag.req"
	for p in "${LR_PATHS[@]}"; do
		n=$((n + 1))
		close=
		((n < ${#LR_PATHS[@]})) || close=$'Connection: close\r\n'
		printf 'GET %s?lr=%s-%d HTTP/1.1\r\nHost: lab\r\n%s\r\n' "$p" "$tag" "$n" "$close" \
			>>"$LR_TMP/$tag.req"
	done
	# One write of all the heads (cat of a file).
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec client1 timeout $((2 * LR_TIMEOUT)) bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		cat "$2" >&3
		cat <&3' "$VIP" "$VIP_PORT" "$LR_TMP/$tag.req" >"$LR_TMP/$tag.out" &
	bg_pid=$!
	wait "$bg_pid" || rc=$?
	bg_pid=
	((rc == 0)) || echo "# pipelined: the reader exited $rc" >&2
	CONNS="1 0 0 0 "
	responses "$LR_TMP/$tag.out"
	lab_wait 3 logged "$tag-1" || true
	PORTS=$(served "$tag-1" | cut -d: -f4)
}

# --- one run --------------------------------------------------------------------

# run_once NAME KIND LOSSY: one connection of KIND (curl, pipelined) through the
# VIP from client1, LOSSY 1 with the lossy link on; the checks above.
run_once() {
	local name="lossy_rebind: $1" kind=$2 lossy=$3 tag=$2-$3 p n=0 out port t0 ms c
	local got="" want="" got_served="" want_served="" paws retrans dropped ts probes busy tags=()
	# shellcheck disable=SC2034 # D0, D1: read by grew, through namerefs
	local -A before D0 D1
	lab_counters_snap D0
	before[paws]=$(client_stat /proc/net/netstat PAWSEstab)
	before[retrans]=$(client_stat /proc/net/snmp RetransSegs)
	if ((lossy)); then
		for c in dropped seen_ts; do before[$c]=$(lossy_counters "$c"); done
	fi
	lr_marks
	t0=$(lab_now_ms)
	# Not in a subshell: the fetch sets CONNS and PORTS.
	"fetch_$kind" "$tag" >"$LR_TMP/$tag.result"
	ms=$(($(lab_now_ms) - t0))
	port=${PORTS%% *}
	n=0
	while read -r c p; do
		n=$((n + 1))
		if [[ $p == "$(lab_sha256 "${LR_PATHS[n - 1]:-none}")" ]]; then got+="$c ok|"; else got+="$c differs|"; fi
	done <"$LR_TMP/$tag.result"
	n=0
	for p in "${LR_PATHS[@]}"; do
		n=$((n + 1))
		tags+=("$tag-$n")
		want+="200 ok|"
		want_served+="${p:1:4}:GET:200:$port:$(stat -c %s "$LAB_RUN/${p:1:4}/html$p") "
	done
	if [[ $got == "$want" ]]; then
		lab_pass "$name: every answer 200, its body as the manifest says (per request)"
	else
		# What the dispatcher decided, and what each probe found, for the record.
		lab_fail "$name: every answer 200, its body as the manifest says (per request)" \
			"expected '$want', got '$got'" "$(lab_log_since "$LAB_BALANCER_LOG" "${LR_MARK[balancer]}" |
				grep -E 'probe answer|→ route|pipelined:' | tail -n 20)"
	fi
	check_eq "$name: one connection (connections opened per request / client ports)" \
		"1 0 0 0 / 1" "$CONNS/ $(wc -w <<<"$PORTS")"
	lab_wait 3 logged "${tags[@]}" || true
	for n in "${tags[@]}"; do
		got_served+="$(served "$n") "
	done
	check_eq "$name: each request logged by its holder alone, from the connection's port, whole (bytes sent)" \
		"$want_served" "$got_served"
	lab_wait 2 lab_counter_grown D0 rebinds "$LR_MOVES" || true
	lab_counters_snap D1
	n=$(grew D0 D1 rebinds)
	check "$name: the dispatcher moved it $LR_MOVES times (rebinds +$n)" test "$n" -ge "$LR_MOVES"
	if [[ $kind == pipelined ]]; then
		# The moves waited for the answer before them, proven whole by its framing
		# (a request the client sent again after that answer moves by its ACK).
		n=$(grew D0 D1 pipelined_proven)
		check "$name: ... once the answer before it was proven complete (pipelined_proven +$n)" \
			test "$n" -ge 1
		check_eq "$name: ... none left on web1 (stays_pipelined)" 0 "$(grew D0 D1 stays_pipelined)"
	fi
	check_eq "$name: ... no move failed, no request left on a busy backend (rebind_failed, stays_busy)" \
		"0 0" "$(grew D0 D1 rebind_failed) $(grew D0 D1 stays_busy)"
	probes=$(lab_log_since "$LAB_BALANCER_LOG" "${LR_MARK[balancer]}" | grep -c 'probe answer') || true
	busy=$(lab_log_since "$LAB_BALANCER_LOG" "${LR_MARK[balancer]}" | grep -c 'probe answer.*status 2,') || true
	retrans=$(lab_minus "$(client_stat /proc/net/snmp RetransSegs)" "${before[retrans]}")
	echo "# $name: $ms ms; probes answered $probes, busy $busy; requests_held +$(grew D0 D1 requests_held);" \
		"frames passed between threads +$(grew D0 D1 thread_handoffs);" \
		"the client retransmitted $retrans segments"
	if ((lossy)); then
		dropped=$(pair_delta "${before[dropped]}" "$(lossy_counters dropped)")
		ts=$(pair_delta "${before[seen_ts]}" "$(lossy_counters seen_ts)")
		echo "# $name: client→site / site→client: dropped $dropped, with timestamps $ts"
		check "$name: segments were dropped both ways during the run ($dropped)" both_positive "$dropped"
		check "$name: ... timestamps on the wire both ways ($ts)" both_positive "$ts"
	fi
	# Every backend's TSvals continue from the last one's: the client takes them all.
	paws=$(lab_minus "$(client_stat /proc/net/netstat PAWSEstab)" "${before[paws]}")
	check_eq "$name: the client's TCP dropped no segment for an old timestamp (TcpExtPAWSEstab +$paws)" \
		0 "$paws"
	# The connection is closed (curl, or the last answer's Connection: close): its
	# last backend closes with it, the ones it left before hold nothing for it.
	t0=$(lab_now_ms)
	if [[ $port =~ ^[0-9]+$ ]] && lab_wait 5 lab_no_backend_socket "$port"; then
		lab_pass "$name: after it closed, no backend holds a socket for its port but in TIME-WAIT ($(($(lab_now_ms) - t0)) ms)"
	else
		lab_fail "$name: after it closed, no backend holds a socket for its port but in TIME-WAIT" \
			"client port '$port', after 5 s" "$(lab_backend_sockets "$port")"
	fi
	rm -f "$LR_TMP/$tag"*
}

# --- without loss, then with it -------------------------------------------------

run_once "no loss: curl" curl 0
run_once "no loss: pipelined" pipelined 0

if ! lossy_attach switch sw-router "$LR_EVERY_ACK" "$LR_MAX" "$VIP_PORT" ||
	! lossy_attach router "$LAB_IF" "$LR_EVERY_DATA" "$LR_MAX" "$VIP_PORT"; then
	lab_fail "lossy_rebind: lossy.bpf.o on both ends of the router's link" "attach or map update failed"
	return 0
fi
lab_pass "lossy_rebind: lossy.bpf.o on both ends of the router's link (every $LR_EVERY_ACK / $LR_EVERY_DATA, at most $LR_MAX each way)"

run_once "loss: curl" curl 1
run_once "loss: pipelined" pipelined 1

lossy_restore || lab_fail "lossy_rebind: XDP programs restored" "lossy_restore failed"
check_match "lossy_rebind: the switch port runs the lab's pass program again" " name xdp_pass " \
	"$(ip -n "$SWITCH_NS" -d link show dev sw-router)"
check_eq "lossy_rebind: the router's link has no XDP program again" none \
	"$(lossy_xdp_state router "$LAB_IF")"

# A closed flow goes 3 s after its last packet (docs/limits.md); with it the
# active count of the backend it ended on. Each move carried one count over.
check "lossy_rebind: no flow left, every backend's active count back to 0" lab_wait_settled 8
