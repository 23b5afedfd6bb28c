# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The flow table full: the balancer runs with limits.flows: 64 and
# client1 opens 100 keep-alive connections, one after the other, each with a
# request answered and then held open. Past 64 the dispatcher evicts the flow
# silent longest to bind the new one:
#   - every one of the 100 is served (no 503 for want of room);
#   - evictions are counted (flow_evictions), at least one per connection
#     beyond the table's size;
#   - an evicted connection is reset by the balancer (its next request fails at
#     once), a kept one goes on serving on the fast path;
#   - a new connection from client2 is served while the table is full;
#   - the backends' active counts equal the bound flows in the table, while
#     full and after the clients close (0 then): no count leaked by eviction.
# The holder is one bash in client1 with a hard time limit; nothing outlives the
# test (cleanup by PID).

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

FT_SLOTS=64
FT_CONNS=100
FT_HOLD_S=30 # the holder's connections stay open at most this long
FT_OUT=$LAB_RUN/flowtable-holder.out
FT_STOP=$LAB_RUN/flowtable-holder.stop
FT_REQ=$LAB_RUN/flowtable-request # one write: bash printf would send a segment per line
FT_PID=

ft_cleanup() {
	trap - EXIT
	if [[ -n $FT_PID ]]; then
		lab_stop_pids 3 "$FT_PID"
	fi
	rm -f "$FT_STOP"
	lab_balancer_stop >/dev/null 2>&1
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach >/dev/null 2>&1
}
trap ft_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# The holder (runs in client1): opens N connections to the VIP in turn, each
# with a HEAD / answered (its status line read), then asks again on the first
# (evicted long since) and on the last (still in the table), reports, and keeps
# them all open until the stop file appears or the time is up.
# shellcheck disable=SC2016 # expanded by the inner bash
FT_HOLDER='
vip=$1 port=$2 n=$3 hold=$4 stop=$5 req=$6
cr=$(printf "\r")
ask() { # ask FD: the status code of one more request on FD, or "none"
	local line
	cat "$req" >&"$1" 2>/dev/null || { echo none; return; }
	read -r -t 3 line <&"$1" 2>/dev/null || { echo none; return; }
	line=${line%"$cr"}
	line=${line#HTTP/1.1 }
	echo "${line%% *}"
}
skip_head() { # the rest of a HEAD response: header lines up to the blank one
	local line k
	for ((k = 0; k < 50; k++)); do
		read -r -t 3 line <&"$1" || return
		[[ $line == "$cr" || -z $line ]] && return
	done
}
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
ok=0
for ((i = 0; i < n; i++)); do
	exec {fd}<>"/dev/tcp/$vip/$port" || continue
	fds[i]=$fd
	[[ $(ask "$fd") == 200 ]] && ok=$((ok + 1))
	skip_head "$fd"
	sleep 0.02 # the test itself: distinct idle times, so eviction order is age order
done
t0=$(ms)
first=$(ask "${fds[0]}")
first_ms=$(( $(ms) - t0 ))
last=$(ask "${fds[n - 1]}")
echo "opened=$n ok=$ok first_again=$first first_ms=$first_ms last_again=$last"
for ((t = 0; t < hold * 10; t++)); do # the test itself: hold them open until told
	[[ -e $stop ]] && break
	sleep 0.1
done
echo done
'

# bound_flows_raw: flows in state "bound" in the table (status --flows lists
# them all); nothing when status --flows has no flow list.
bound_flows_raw() {
	lab_exec_bpf balancer "$LAB_LATEBIND" status --flows --limit 100000 |
		awk '/^Flow list/ { f = 1; seen = 1; next } f && $3 == "bound" { n++ } /^Flows:/ { f = 0 }
			END { if (seen) print n + 0 }'
}

# active_sum_raw: the backends' active counts added up, from the status's
# "Backends" rows; nothing unless there is one per lab backend, each a number.
active_sum_raw() {
	lab_exec_bpf balancer "$LAB_LATEBIND" status |
		awk -v want="${#LAB_WEBS[@]}" '/^Backends/ { b = 1; next } b && /^[^ ]/ { b = 0 }
			b && NF >= 8 { rows++; if ($4 !~ /^[0-9]+$/) bad = 1; s += $4 }
			END { if (rows == want && !bad) print s }'
}

# The same, a failure when the value is missing (a changed status format).
bound_flows() { lab_number "status --flows bound flows" "$(bound_flows_raw)"; }
active_sum() { lab_number "status active counts of ${#LAB_WEBS[@]} backends" "$(active_sum_raw)"; }

# Polled by lab_wait: a missing value is "not yet" (never two missing values
# that read alike); the check around it reads them once more and fails then.
counts_agree() {
	local a b
	a=$(active_sum_raw)
	b=$(bound_flows_raw)
	[[ -n $a && $a == "$b" ]]
}
all_closed() { [[ $(active_sum_raw) == 0 && $(bound_flows_raw) == 0 ]]; }
holder_reported() { grep -q '^opened=' "$FT_OUT"; }

lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach >/dev/null; then
	lab_fail "flowtable: backends attach" "latebind backend attach failed"
	return 0
fi
LAB_BALANCER_CONF=$LAB_RUN/flowtable.yaml
lab_balancer_config
echo "limits: {flows: $FT_SLOTS}" >>"$LAB_BALANCER_CONF"
check_match "flowtable: check-config shows the table's size" "limits +flows $FT_SLOTS" \
	"$("$LAB_LATEBIND" check-config "$LAB_BALANCER_CONF" 2>&1)"
# shellcheck disable=SC2119 # no extra options
if ! lab_balancer_start; then
	lab_fail "flowtable: balancer starts with limits.flows: $FT_SLOTS" "see $LAB_BALANCER_LOG"
	return 0
fi
check_eq "flowtable: status lists a row for each of the ${#LAB_WEBS[@]} backends" "${#LAB_WEBS[@]}" \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status | awk '/^Backends/ { b = 1; next } b && /^[^ ]/ { b = 0 } b && NF >= 8 { n++ } END { print n + 0 }')"
check_match "flowtable: the pinned table has $FT_SLOTS entries" "max_entries $FT_SLOTS" \
	"$(bpftool map show pinned "$(lab_bpffs balancer)/latebind/flows_v3" 2>&1)"

ev0=$(lab_dispatcher_counter flow_evictions)
rm -f "$FT_STOP" "$FT_OUT"
printf 'HEAD / HTTP/1.1\r\nHost: lab\r\n\r\n' >"$FT_REQ"
lab_exec client1 timeout $((FT_HOLD_S + 30)) bash -c "$FT_HOLDER" holder "$VIP" "$VIP_PORT" \
	"$FT_CONNS" "$FT_HOLD_S" "$FT_STOP" "$FT_REQ" >"$FT_OUT" 2>&1 &
FT_PID=$!
if ! lab_wait 40 holder_reported; then
	lab_fail "flowtable: $FT_CONNS keep-alive connections opened" "the holder did not report" \
		"$(cat "$FT_OUT")"
	return 0
fi
report=$(grep '^opened=' "$FT_OUT")
ev1=$(lab_dispatcher_counter flow_evictions)
evicted=$((ev1 - ev0))
echo "# flowtable: table $FT_SLOTS, $report, flow_evictions +$evicted, flows $(lab_balancer_flows), bound $(bound_flows), active $(active_sum)"

check_match "flowtable: all $FT_CONNS connections served with a table of $FT_SLOTS" \
	"ok=$FT_CONNS " "$report"
check "flowtable: evictions counted ($evicted >= $((FT_CONNS - FT_SLOTS)))" \
	test "$evicted" -ge $((FT_CONNS - FT_SLOTS))
check "flowtable: the table stays within its size" test "$(lab_balancer_flows)" -le "$FT_SLOTS"
first_ms=$(sed -n 's/.*first_ms=\([0-9]*\).*/\1/p' <<<"$report")
check_match "flowtable: the oldest connection was evicted: no answer on it" \
	"first_again=none" "$report"
check "flowtable: ... and reset by the balancer, not left hanging (${first_ms:-?} ms)" \
	test "${first_ms:-9999}" -lt 1500
check_match "flowtable: the newest connection still serves on the fast path" \
	"last_again=200" "$report"
check_eq "flowtable: a new connection is served while the table is full" 200 \
	"$(lab_curl client2 -o /dev/null -w '%{http_code}' "http://$VIP:$VIP_PORT/")"
ev2=$(lab_dispatcher_counter flow_evictions)
check "flowtable: it took room by eviction ($ev1 -> $ev2)" test "$ev2" -gt "$ev1"
check "flowtable: active counts = bound flows while full" lab_wait 5 counts_agree
echo "# flowtable: while full: active $(active_sum), bound flows $(bound_flows)"

touch "$FT_STOP"
lab_wait 10 bash -c "! kill -0 $FT_PID"
wait "$FT_PID" 2>/dev/null
FT_PID=
check "flowtable: after the clients close, no active count left and no bound flow" \
	lab_wait 10 all_closed
echo "# flowtable: after the clients close: active $(active_sum), bound flows $(bound_flows)"
# An evicted connection's client was reset, but its backend socket lives on
# until nginx's keep-alive timeout (the balancer cannot reach it in sequence).
# Close them here: a later test's client reusing one of those ports would meet
# that socket instead of a new connection.
for w in "${LAB_WEBS[@]}"; do
	lab_exec "$w" ss -K -tn state established src "$VIP:$VIP_PORT" >/dev/null 2>&1
done

# The table's size is fixed when it is created: a daemon left in place (SIGUSR2)
# pins a 64-entry table, and one started with another limits.flows must say so
# (the pinned size, the key, the file) rather than fail to load.
kill -USR2 "$LAB_BALANCER_PID"
lab_wait 10 bash -c "! kill -0 $LAB_BALANCER_PID"
wait "$LAB_BALANCER_PID" 2>/dev/null
LAB_BALANCER_PID=
sed "s/^limits: .*/limits: {flows: $((FT_SLOTS * 2))}/" "$LAB_BALANCER_CONF" >"$LAB_RUN/flowtable-2x.yaml"
out=$(lab_exec_bpf balancer timeout 20 "$LAB_LATEBIND" balancer --config "$LAB_RUN/flowtable-2x.yaml" \
	--pid-file "$LAB_RUN/flowtable-2x.pid" 2>&1)
rc=$?
check "flowtable: another limits.flows than the pinned table's: refused (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check_match "flowtable: ... naming the pinned size, the key and the pin to remove" \
	"flows_v3 holds $FT_SLOTS flows .* limits.flows in .* is $((FT_SLOTS * 2)): set limits.flows: $FT_SLOTS .* remove /sys/fs/bpf/latebind/flows_v3" \
	"$out"
# The same size takes the table over; stopping it then removes every pin.
# shellcheck disable=SC2119 # no extra options
if lab_balancer_start; then
	check "flowtable: the same size takes the pinned table over" lab_balancer_stop
else
	lab_fail "flowtable: the same size takes the pinned table over" "see $LAB_BALANCER_LOG"
fi
