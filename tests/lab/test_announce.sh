# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Announcing the VIP (announce: in the config): the balancer keeps
# `blackhole VIP/32 proto 176` in table 200 while it is ready, for BIRD to
# export. Withdrawn when every backend is drained, back on undrain; left in
# place across a SIGUSR2 restart; withdrawn on SIGTERM before the daemon stops
# serving (it serves on through withdraw_grace_ms); a reload moves it to another
# table; a killed daemon's route is
# removed by the next daemon whose config does not announce it, and only ours.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

TABLE=200
GRACE_MS=3000 # long enough for a request during the grace on a busy machine

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "announce: backends attach" "attach failed"
with_announce() {
	lab_balancer_config
	echo "announce: {table: $TABLE, withdraw_grace_ms: $GRACE_MS}" >>"$LAB_BALANCER_CONF"
}
with_announce

# Routes in the table, ours or not, as `ip route` prints them.
table_routes() { lab_exec balancer ip route show table "$TABLE" 2>/dev/null; }
ours() { lab_exec balancer ip route show table "$TABLE" proto 176 2>/dev/null; }
announced() { [[ $(ours) =~ ^blackhole\ $VIP\ *$ ]]; }
withdrawn() { [[ -z $(ours) ]]; }
status_line() { lab_exec_bpf balancer "$LAB_LATEBIND" status | grep '^Announce:'; }
metrics() { lab_exec balancer curl -s --max-time 5 http://127.0.0.1:9180/metrics; }
metric() { # NAME: its value for our table
	lab_number "$1" "$(metrics | awk -v m="$1{table=\"$TABLE\"}" '$1 == m { print $2 }')"
}
fetch() { # the VIP serves a request now
	[[ $(lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP/shared/1k.bin") == 200 ]]
}
drain_all() {
	local w
	for w in "${LAB_WEBS[@]}"; do
		lab_exec_bpf balancer "$LAB_LATEBIND" "$1" "$w" >/dev/null || return 1
	done
}

check_eq "announce: table $TABLE holds nothing before the balancer" "" "$(table_routes)"
# shellcheck disable=SC2119
if ! lab_balancer_start; then
	lab_fail "announce: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi
check "announce: the VIP's route is in table $TABLE, proto 176" lab_wait 5 announced
check_match "announce: ... as a blackhole /32 and nothing else" "^blackhole $VIP proto 176 *$" \
	"$(table_routes)"
check_match "announce: status shows it announced" \
	"^Announce: table $TABLE announced yes routes 1 withdrawals 0: serving" "$(status_line)"
check_match "announce: status --json has it" \
	"\"announce\":\\{\"table\":$TABLE,\"announced\":true,\"routes\":1,\"reason\":\"ready\"" \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status --json)"
check_eq "announce: latebind_announced is 1" 1 "$(metric latebind_announced)"
check_eq "announce: no withdrawal counted yet" 0 "$(metric latebind_announce_withdrawals_total)"
if command -v promtool >/dev/null; then
	check_eq "announce: promtool check metrics is clean" "" \
		"$(metrics | promtool check metrics 2>&1)"
else
	lab_fail "announce: promtool check metrics is clean" "promtool missing (make deps)"
fi

# --- every backend drained: withdrawn; one back: announced again ---------------
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
drain_all drain || lab_fail "announce: drain every backend" "latebind drain failed"
check "announce: every backend drained → withdrawn" lab_wait 5 withdrawn
check "announce: ... the log says why" lab_log_has "$LAB_BALANCER_LOG" "$mark" \
	"announce: table $TABLE: withdrawn: no backend takes new flows"
check_match "announce: status shows it withdrawn, and why" \
	"^Announce: table $TABLE announced no routes 0 withdrawals 1: no backend takes new flows" \
	"$(status_line)"
check_eq "announce: latebind_announced is 0" 0 "$(metric latebind_announced)"
check_eq "announce: one withdrawal counted" 1 "$(metric latebind_announce_withdrawals_total)"
lab_exec_bpf balancer "$LAB_LATEBIND" undrain web2 >/dev/null
check "announce: web2 undrained → announced again" lab_wait 5 announced
check "announce: ... the log says so" lab_log_has "$LAB_BALANCER_LOG" "$mark" \
	"announce: table $TABLE: 1 VIP route\\(s\\) announced: serving"
check_eq "announce: each change logged once" "1 1" \
	"$(lab_log_since "$LAB_BALANCER_LOG" "$mark" | grep -c 'withdrawn:') $(
		lab_log_since "$LAB_BALANCER_LOG" "$mark" | grep -c 'announced:')"
drain_all undrain || lab_fail "announce: undrain every backend" "latebind undrain failed"

# --- SIGUSR2: the route stays for the next daemon --------------------------------
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
kill -USR2 "$LAB_BALANCER_PID"
rc=0
wait "$LAB_BALANCER_PID" 2>/dev/null || rc=$?
LAB_BALANCER_PID=
check_eq "announce: SIGUSR2 exits 0" 0 "$rc"
check "announce: ... and leaves the route in place" announced
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "announce: the next daemon starts" "see $LAB_BALANCER_LOG"
check "announce: the next daemon holds the route" lab_wait 5 lab_log_has "$LAB_BALANCER_LOG" \
	"$mark" "announce: table $TABLE: 1 VIP route\\(s\\) announced"
check "announce: ... still in the table" announced
check "announce: ... never withdrawn across the restart" \
	bash -c "! grep -q 'withdrawn' <<<\"\$1\"" _ "$(lab_log_since "$LAB_BALANCER_LOG" "$mark")"

# --- reload: another table takes the route at once --------------------------------
in_201() { [[ $(lab_exec balancer ip route show table 201 proto 176 2>/dev/null) =~ ^blackhole\ $VIP ]]; }
moved() { in_201 && withdrawn; }
sed -i "s/table: $TABLE,/table: 201,/" "$LAB_BALANCER_CONF"
"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
check "announce: a reload to table 201 moves the route there" lab_wait 5 moved
sed -i "s/table: 201,/table: $TABLE,/" "$LAB_BALANCER_CONF"
"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
back() { announced && ! in_201; }
check "announce: ... and one back to $TABLE brings it back" lab_wait 5 back

# --- SIGTERM: withdrawn first, served through the grace, then gone ---------------
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
pid=$LAB_BALANCER_PID
kill -TERM "$pid"
check "announce: SIGTERM withdraws the route" lab_wait 5 withdrawn
served_in_grace() { fetch && pid_alive "$pid"; }
check "announce: ... while the daemon still serves (the grace)" served_in_grace
check "announce: ... then it exits" lab_wait $((GRACE_MS / 1000 + 5)) pid_gone "$pid"
rc=0
wait "$pid" 2>/dev/null || rc=$?
LAB_BALANCER_PID=
check_eq "announce: ... with 0" 0 "$rc"
check_eq "announce: no route after the exit" "" "$(table_routes)"
order=$(lab_log_since "$LAB_BALANCER_LOG" "$mark" |
	grep -oE 'withdrawn: stopping|serving [0-9]+ ms more|grace over: detaching' | paste -sd,)
check_eq "announce: the log: withdrawn, grace, then detached" \
	"withdrawn: stopping,serving $GRACE_MS ms more,grace over: detaching" "$order"

# --- SIGKILL: the route stays; a daemon that will not announce it removes it ------
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "announce: balancer starts again" "see $LAB_BALANCER_LOG"
check "announce: announced again" lab_wait 5 announced
kill -KILL "$LAB_BALANCER_PID"
wait "$LAB_BALANCER_PID" 2>/dev/null || true
LAB_BALANCER_PID=
check "announce: a killed daemon's route stays" announced
# Someone else's route in the table: not ours to remove.
lab_exec balancer ip route add blackhole 192.0.2.99/32 table "$TABLE" proto static
lab_balancer_config # the same site, no announce:
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "announce: a daemon without announce starts" "see $LAB_BALANCER_LOG"
check "announce: it removed the stale route" withdrawn
check "announce: ... and says so" lab_log_has "$LAB_BALANCER_LOG" "$mark" \
	"announce: removed $VIP/32 from table $TABLE: left by an earlier latebind"
check_match "announce: ... leaving the operator's own route" "^blackhole 192.0.2.99 proto static" \
	"$(table_routes)"
check_match "announce: status says it is off" "^Announce: off" "$(status_line)"
check_eq "announce: no announce families in the metrics without announce:" 0 \
	"$(metrics | grep -c latebind_announce)"
lab_exec balancer ip route del blackhole 192.0.2.99/32 table "$TABLE" proto static

rc=0
lab_balancer_stop || rc=$?
check_eq "announce: balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
