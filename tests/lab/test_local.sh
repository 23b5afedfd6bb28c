# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# lab-timeout: 300
#
# The balancer node also serves (`local: true`, docs/packet-walk.md §10): an
# nginx in the balancer's namespace holds /local/, and /mixed/ with web2. Real
# clients through the VIP get /local/ files byte-exact beside the backends'
# files, on keep-alive connections too, and after a move from another backend;
# flows to it settle when either side closes; least-loaded selection, drain
# and health checks treat it as any backend. The other backends run in the
# lab's mode (the replay pass makes a mixed site: the local one is cookie mode).

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

LOCAL_DIR=$LAB_RUN/balancer-local
LOCAL_LOG=$LOCAL_DIR/access.log
LOCAL_PID=
LOCAL_MIXED=$LAB_RUN/web2/html/mixed # /mixed/ on web2: the same bytes, hard links
# shellcheck disable=SC2034 # read by lab_curl
LAB_CURL_TIMEOUT=10

# --- set-up and tear-down, by PID and by name of what we made --------------------

local_nginx_start() {
	lab_nginx_start balancer "$LOCAL_DIR" && lab_wait 5 test -s "$LOCAL_DIR/nginx.pid" &&
		LOCAL_PID=$(cat "$LOCAL_DIR/nginx.pid")
}

local_nginx_stop() {
	[[ -n $LOCAL_PID ]] || return 0
	lab_stop_pids 5 "$LOCAL_PID"
	LOCAL_PID=
	rm -f "$LOCAL_DIR/nginx.pid"
}

local_cleanup() {
	trap - EXIT
	lab_balancer_stop
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach >/dev/null 2>&1
	lab_exec_bpf balancer "$LAB_LATEBIND" backend detach --interface lo >/dev/null 2>&1
	local_nginx_stop
	ip -n "$BALANCER_NS" addr del "$VIP/32" dev lo 2>/dev/null
	lab_exec balancer sysctl -qw net.ipv4.conf.lo.arp_ignore=0 net.ipv4.conf.lo.arp_announce=0 \
		>/dev/null
	rm -rf --one-file-system "$LOCAL_DIR" "$LOCAL_MIXED"
}
trap local_cleanup EXIT
trap 'exit 143' TERM

# keepalive_timeout: it ends idle connections itself, for the closing path below.
lab_nginx_conf self "$LOCAL_DIR" "keepalive_timeout 2s;"
mkdir -p "$LOCAL_DIR/html/local" "$LOCAL_DIR/html/mixed"
printf '<!doctype html>\n<title>self</title>\n<p>the balancer node serves too</p>\n' \
	>"$LOCAL_DIR/html/index.html"
head -c 1024 /dev/urandom >"$LOCAL_DIR/html/local/1k.bin"
head -c 1M /dev/urandom >"$LOCAL_DIR/html/local/1m.bin"
head -c 4M /dev/urandom >"$LOCAL_DIR/html/local/4m.bin"
head -c 1024 /dev/urandom >"$LOCAL_DIR/html/mixed/1k.bin"
cp -al "$LOCAL_DIR/html/mixed" "$LOCAL_MIXED"
declare -A SUM
for f in local/1k.bin local/1m.bin local/4m.bin mixed/1k.bin; do
	SUM[/$f]=$(sha256sum <"$LOCAL_DIR/html/$f" | cut -d' ' -f1)
done
# sum_of PATH: the expected SHA-256 of a lab path, ours or the lab's manifest.
sum_of() { if [[ -n ${SUM[$1]:-} ]]; then echo "${SUM[$1]}"; else lab_sha256 "$1"; fi; }

if ! local_nginx_start; then
	lab_fail "local: nginx starts in the balancer's namespace" "see $LOCAL_DIR/error.log"
	return 0
fi
# The VIP on the balancer's own lo, as on any backend: its stack owns the connections.
ip -n "$BALANCER_NS" addr add "$VIP/32" dev lo
lab_exec balancer sysctl -qw net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2 >/dev/null
lab_cookie_key
out=$(lab_exec_bpf balancer "$LAB_LATEBIND" backend attach --interface lo --vip "$VIP:$VIP_PORT" \
	--balancer-mac "$BALANCER_MAC" --cookie-key "$LAB_RUN/cookie.key" 2>&1)
check_match "local: backend programs attach to the balancer's lo" "cookie-mode hand-off attached to lo" "$out"
# shellcheck disable=SC2119
if ! lab_backends_attach >/dev/null 2>&1; then
	lab_fail "local: backends attach" "latebind backend attach failed"
	return 0
fi
lab_balancer_config
sed -i -e "/^  - {name: web3, /a\\  - {name: self, address: $BALANCER_IP, local: true}" \
	-e "/^routes:/a\\  - {name: local, host: \"*\", prefix: /local/, backends: [self]}\\n  - {name: mixed, host: \"*\", prefix: /mixed/, backends: [self, web2]}" \
	"$LAB_BALANCER_CONF"
out=$(lab_exec balancer "$LAB_LATEBIND" check-config "$LAB_BALANCER_CONF" 2>&1)
check_match "local: check-config shows the local backend" "self \\(cookie, local: this host" "$out"
# shellcheck disable=SC2119
if ! lab_balancer_start; then
	lab_fail "local: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi

# --- helpers -------------------------------------------------------------------------

status() { lab_exec_bpf balancer "$LAB_LATEBIND" status; }
self_field() { lab_backend_field balancer "$1"; }
# settled: no flow left, every backend's count back to 0, the local one's too.
settled() { lab_settled && [[ $(self_field active) == 0 ]]; }
self_state() { status | awk -v ip="$BALANCER_IP" '$2 == ip { print $3 }'; }
self_is() { [[ $(self_state) == "$1" ]]; }
# fetch_ok PATH...: each fetched on its own connection, byte-exact, status 200.
fetch_ok() {
	local p got
	for p; do
		got=$(lab_curl client1 -o - "http://$VIP$p" | sha256sum | cut -d' ' -f1)
		if [[ $got != "$(sum_of "$p")" ]]; then
			echo "$p: sha256 $got, expected $(sum_of "$p")"
			return 1
		fi
	done
}
# logged_local TAG: lines of the local nginx's log for requests tagged ?t=TAG.
logged_local() { grep -a "[?]t=$1 " "$LOCAL_LOG" 2>/dev/null; }
code_of() { lab_curl client2 -s -o /dev/null -w '%{http_code}' "http://$VIP$1"; }
local_serves() { [[ $(code_of /local/1k.bin) == 200 ]]; }
# held_on_both N: N flows bound to the local backend and web2 together.
held_on_both() { (($(self_field active) + $(lab_backend_field web2 active) == $1)); }
# idle_closed PID: the idle connection is off the local backend's count and no longer
# bound, while its client (PID) still holds it open.
idle_closed() {
	[[ $(self_field active) == 0 ]] && ! lab_flow_bound "$CLIENT2_IP" "$BALANCER_IP" && pid_alive "$1"
}
# drained_to_web2: six /mixed/ requests, none reaching the local nginx.
drained_to_web2() {
	local i
	for i in 1 2 3 4 5 6; do lab_curl client2 -s -o /dev/null "http://$VIP/mixed/1k.bin?t=drained$i"; done
	! grep -aq "t=drained" "$LOCAL_LOG"
}
local_egress_on() { lab_exec balancer tc filter show dev "$LAB_IF" egress | grep -q lb_local_egress; }
no_local_egress() { ! local_egress_on; }

# --- serving, byte-exact, beside the other backends ------------------------------------

check "local: lb_local_egress attached to eth0's TC egress" local_egress_on

# shellcheck disable=SC2034 # read through grew's namerefs
declare -A C0 C1
lab_counters_snap C0
adopted0=$(lab_number "lo adopted" "$(lab_exec_bpf balancer "$LAB_LATEBIND" backend status |
	awk '$1 == "adopted" { print $2 }')")
check "local: /local/ files byte-exact beside web1, web2 and web3's" \
	fetch_ok /local/1k.bin /web1/1k.bin /local/1m.bin /web2/1m.bin /local/4m.bin /web3/1k.bin \
	/shared/1m.bin
out=$(lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP/local/1k.bin?t=where")
check_eq "local: answered 200" 200 "$out"
check_match "local: the balancer's nginx served it on the VIP, to the client's own address" \
	"self $CLIENT1_IP:[0-9]+ -> $VIP:$VIP_PORT \"GET /local/1k.bin\\?t=where HTTP/1.1\" 200 1024" \
	"$(logged_local where)"
lab_counters_snap C1
check "local: its packets went up the local stack from XDP (pass_local)" \
	test "$(grew C0 C1 pass_local)" -ge 4
adopted1=$(lab_number "lo adopted" "$(lab_exec_bpf balancer "$LAB_LATEBIND" backend status |
	awk '$1 == "adopted" { print $2 }')")
check_eq "local: 4 hand-offs adopted on lo" 4 "$(lab_minus "$adopted1" "$adopted0")"
check "local: flows and counts settle" lab_wait 10 settled

# --- keep-alive, and a move to it ---------------------------------------------------

lab_counters_snap C0
ka=$LAB_RUN/local-ka
out=$(lab_curl client1 -o "$ka.1" "http://$VIP/local/1k.bin?t=ka1" -o "$ka.2" \
	"http://$VIP/local/1m.bin?t=ka2" -o "$ka.3" "http://$VIP/local/4m.bin?t=ka3" \
	-w '%{num_connects} ' 2>&1)
check_eq "local: three requests on one connection" "1 0 0" "${out% }"
check_eq "local: ... each byte-exact" \
	"${SUM[/local/1k.bin]} ${SUM[/local/1m.bin]} ${SUM[/local/4m.bin]}" \
	"$(for i in 1 2 3; do sha256sum <"$ka.$i" | cut -d' ' -f1; done | paste -sd' ')"
conns=$(for t in ka1 ka2 ka3; do logged_local "$t" | grep -o 'conn=[0-9]* req=[0-9]*'; done |
	paste -sd' ')
check_match "local: ... served by the local nginx on one connection" \
	"^conn=([0-9]+) req=1 conn=\\1 req=2 conn=\\1 req=3$" "$conns"
# A connection on web1 first, then /local/: it moves to the balancer's own stack.
out=$(lab_curl client1 -o "$ka.1" "http://$VIP/web1/1k.bin?t=mv1" -o "$ka.2" \
	"http://$VIP/local/1m.bin?t=mv2" -w '%{num_connects} ' 2>&1)
check_eq "local: web1 then /local/ on one connection" "1 0" "${out% }"
check_eq "local: ... both byte-exact" "$(lab_sha256 /web1/1k.bin) ${SUM[/local/1m.bin]}" \
	"$(for i in 1 2; do sha256sum <"$ka.$i" | cut -d' ' -f1; done | paste -sd' ')"
check_match "local: ... the second from the local nginx" "GET /local/1m.bin\\?t=mv2 HTTP/1.1\" 200" \
	"$(logged_local mv2)"
rm -f "$ka".*
# moved_once: the dispatcher counted the move (it may learn of it from the flow, at its next timer).
moved_once() {
	lab_counters_snap C1
	[[ $(grew C0 C1 rebinds) == 1 ]]
}
check "local: one move to it (rebinds)" lab_wait 5 moved_once
check "local: the local connections stayed bound to it (stays_local)" \
	test "$(grew C0 C1 stays_local)" -ge 2
check "local: flows and counts settle after keep-alive" lab_wait 10 settled

# --- the closing path: either side first --------------------------------------------

lab_counters_snap C0
lab_curl client1 -s -o /dev/null -H 'Connection: close' "http://$VIP/local/1k.bin?t=srvclose"
check "local: server closes first: flow and count settle" lab_wait 10 settled
lab_counters_snap C1
check "local: ... its FIN seen leaving by lb_local_egress (local_end)" \
	test "$(grew C0 C1 local_end)" -ge 1
lab_curl client1 -s -o /dev/null "http://$VIP/local/1k.bin?t=cliclose"
check "local: client closes first: flow and count settle" lab_wait 10 settled
# nginx ends an idle connection (keepalive_timeout) the client keeps open: only
# lb_local_egress sees that end, as no client FIN follows it.
release=$LAB_RUN/local-release
rm -f "$release"
lab_hold_bound client2 "/local/1k.bin?t=idle" "$release"
idle_pid=$!
check "local: an idle connection bound to the local backend" \
	lab_wait 10 lab_flow_bound "$CLIENT2_IP" "$BALANCER_IP"
check "local: nginx closes it: off the count while the client still holds it" \
	lab_wait 10 idle_closed "$idle_pid"
touch "$release"
wait "$idle_pid"
check "local: ... then settles" lab_wait 10 settled

# --- least-loaded selection and drain, as any backend ------------------------------------

rm -f "$release"
holders=()
for n in 1 2; do
	lab_hold_bound client2 "/mixed/1k.bin?t=hold$n" "$release"
	holders+=($!)
	# One at a time: the second choice sees the first's count.
	lab_wait 10 held_on_both "$n"
done
check_eq "local: two held /mixed/ connections: one on the local backend, one on web2" "1 1" \
	"$(self_field active) $(lab_backend_field web2 active)"
touch "$release"
for pid in "${holders[@]}"; do wait "$pid"; done
check "local: held connections settle" lab_wait 10 settled

out=$(lab_exec_bpf balancer "$LAB_LATEBIND" drain self)
check_match "local: drain self" "self: draining" "$out"
check "local: drained: /mixed/ goes to web2 only" drained_to_web2
check_eq "local: drained: /local/ gets 503" 503 "$(code_of /local/1k.bin)"
lab_exec_bpf balancer "$LAB_LATEBIND" undrain self >/dev/null
check "local: undrained: /local/ served again" lab_wait 5 local_serves

# --- health checks, as any backend ----------------------------------------------------------

local_nginx_stop
check "local: its nginx stopped: health checks mark it down" lab_wait 10 self_is down
check_eq "local: down: /local/ gets 503" 503 "$(code_of /local/1k.bin)"
check_eq "local: down: /mixed/ goes to web2" "200 0" \
	"$(code_of '/mixed/1k.bin?t=down') $(logged_local down | wc -l)"
if local_nginx_start; then
	check "local: its nginx back: marked up" lab_wait 10 self_is up
	check "local: ... and serving byte-exact" fetch_ok /local/1m.bin
else
	lab_fail "local: nginx starts again" "see $LOCAL_DIR/error.log"
fi
check "local: everything settles" lab_wait 10 settled

# --- restart without loss: SIGUSR2 leaves the filter, the next daemon takes it ----------

rm -f "$release"
lab_hold_bound client2 "/local/1k.bin?t=restart" "$release"
restart_pid=$!
check "local: a connection bound to it across the restart" \
	lab_wait 10 lab_flow_bound "$CLIENT2_IP" "$BALANCER_IP"
kill -USR2 "$LAB_BALANCER_PID"
rc=0
wait "$LAB_BALANCER_PID" 2>/dev/null || rc=$?
LAB_BALANCER_PID=
check_eq "local: SIGUSR2 exits 0" 0 "$rc"
check "local: ... leaving lb_local_egress attached" local_egress_on
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "local: the next daemon starts" "see $LAB_BALANCER_LOG"
check "local: the next daemon's filter is in place" local_egress_on
check "local: ... and serves /local/ byte-exact" fetch_ok /local/1m.bin
check "local: the connection from before is closed by its nginx and counted off" \
	lab_wait 10 idle_closed "$restart_pid"
touch "$release"
wait "$restart_pid"
check "local: ... everything settles" lab_wait 10 settled

rc=0
lab_balancer_stop || rc=$?
check_eq "local: balancer exits 0 on SIGTERM" 0 "$rc"
check "local: lb_local_egress is gone from eth0" no_local_egress
local_cleanup
