# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Health checks and backend failure: nginx stopped on web3 → within
# interval × fall its content gets 503 with Retry-After while replicated content
# keeps being served; started again → served after rise. A backend whose link
# dies mid-download: the client is reset within seconds, not left hanging, and
# the flow and count are cleaned up.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "health: backends attach" "attach failed"
lab_balancer_config
printf 'health: {path: /health, interval_ms: 200, timeout_ms: 200, rise: 2, fall: 3}\n' \
	>>"$LAB_BALANCER_CONF"
# shellcheck disable=SC2119
if ! lab_balancer_start; then
	lab_fail "health: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi

code_of() { lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP$1"; }
is_code() { [[ $(code_of "$2") == "$1" ]]; }
nginx_of() { echo "$LAB_RUN/$1/nginx.pid"; }
start_nginx_on() {
	local dir=$LAB_RUN/$1
	lab_exec "$1" nginx -q -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
}

check_eq "health: web3 content served while web3 is up" 200 "$(code_of /web3/1k.bin)"

# Stop nginx on web3 (the lab started it; its pid file names it).
kill -QUIT "$(cat "$(nginx_of web3)")"
start=$SECONDS
check "health: web3-only content gets 503 within interval x fall (+1 s)" lab_wait 2 is_code 503 /web3/1k.bin
out=$(lab_curl client1 -si "http://$VIP/web3/1k.bin")
check_match "health: ... with Retry-After" "Retry-After: [0-9]+" "$(tr -d '\r' <<<"$out")"
check_match "health: the log says why" "backend web3 is down: " "$(cat "$LAB_BALANCER_LOG")"
check_match "health: status shows web3 down" "$WEB3_IP +down " \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status)"
ok=0
for i in $(seq 1 30); do
	[[ $(code_of "/shared/1k.bin?steady=$i") == 200 ]] && ok=$((ok + 1))
done
check_eq "health: replicated content: no failed request after detection" 30 "$ok"
echo "# detected in about $((SECONDS - start)) s"

start_nginx_on web3
check "health: web3 served again after rise" lab_wait 3 is_code 200 /web3/1k.bin

# A link dies mid-download: health notices, the balancer resets the client.
dl=$LAB_RUN/health-dl
ip netns exec "$CLIENT2_NS" curl -s --max-time 30 --limit-rate 4M -o "$dl" \
	"http://$VIP/web2/64m.bin" &
dl_pid=$!
sleep 1
lab_exec web2 ip link set "$LAB_IF" down
start=$SECONDS
rc=0
wait "$dl_pid" || rc=$?
check_match "health: the client is reset (curl exit $rc), not left hanging" "^(56|18)$" "$rc"
check "health: ... within 3 s of the link going down ($((SECONDS - start)) s)" \
	test $((SECONDS - start)) -le 3
check "health: the balancer counted the reset" \
	test "$(lab_dispatcher_counter flows_reset)" -ge 1
no_active_web2() { [[ $(lab_backend_field web2 active) == 0 ]]; }
check "health: web2's active count back to 0" lab_wait 3 no_active_web2
lab_exec web2 ip link set "$LAB_IF" up
lab_exec web2 ip route replace default via "$ROUTER_SITE_IP"
rm -f "$dl"
check "health: web2 back after its link returns" lab_wait 5 is_code 200 /web2/1k.bin

# A backend's own check path, given by a reload: web1's is missing, so web1 is down.
sed -i 's|{name: web1, address: \([0-9.]*\)|{name: web1, address: \1, health_path: /no-such-check|' \
	"$LAB_BALANCER_CONF"
"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
check "health: web1's own failing check path (by reload) takes it down" \
	lab_wait 3 is_code 503 /web1/1k.bin
check_eq "health: ... the others stay up" 200 "$(code_of /web3/1k.bin)"

rc=0
lab_balancer_stop || rc=$?
check_eq "health: balancer exits 0 on SIGTERM" 0 "$rc"

# Failed hand-offs count toward fall: with checks a minute apart, web3's nginx
# gone makes each hand-off end in the backend's reset; the third takes it down.
lab_balancer_config
printf 'health: {path: /health, interval_ms: 60000, timeout_ms: 1000, rise: 2, fall: 3}\n' \
	>>"$LAB_BALANCER_CONF"
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "health: balancer restarts" "see $LAB_BALANCER_LOG"
kill -QUIT "$(cat "$(nginx_of web3)")"
lab_wait 5 bash -c "! ip netns exec $WEB3_NS ss -tlnH | grep -q ':80 '" || true
for i in 1 2 3; do
	code_of "/web3/1k.bin?handoff-fails=$i" >/dev/null || true
done
check "health: three reset hand-offs take web3 down (no check ran meanwhile)" \
	lab_wait 2 is_code 503 /web3/1k.bin
check_match "health: ... and the log says so" "backend web3 is down: .*hand-off" \
	"$(cat "$LAB_BALANCER_LOG")"
start_nginx_on web3
rc=0
lab_balancer_stop || rc=$?
check_eq "health: ... balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
