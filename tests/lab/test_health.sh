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
HC_INTERVAL_MS=200
HC_TIMEOUT_MS=200
HC_RISE=2
HC_FALL=3
printf 'health: {path: /health, interval_ms: %d, timeout_ms: %d, rise: %d, fall: %d}\n' \
	"$HC_INTERVAL_MS" "$HC_TIMEOUT_MS" "$HC_RISE" "$HC_FALL" >>"$LAB_BALANCER_CONF"
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

# The bounds below: a state change is seen within its run of probes, one per
# interval (per timeout when probes hang), the first up to a probe away; plus
# what this run measured one poll to cost (the slowest of three requests, and
# lab_wait's 0.1 s), so a loaded machine widens them.
slowest_ms=0
for i in 1 2 3; do
	t0=$(lab_now_ms)
	code=$(code_of "/web3/1k.bin?up=$i")
	t=$(($(lab_now_ms) - t0))
	((t > slowest_ms)) && slowest_ms=$t
done
check_eq "health: web3 content served while web3 is up" 200 "$code"
probe_ms=$((HC_INTERVAL_MS > HC_TIMEOUT_MS ? HC_INTERVAL_MS : HC_TIMEOUT_MS))
down_ms=$(((HC_FALL + 1) * probe_ms + slowest_ms + 100))
up_ms=$(((HC_RISE + 1) * HC_INTERVAL_MS + slowest_ms + 100))
echo "# health: slowest request ${slowest_ms} ms: down seen within ${down_ms} ms, up within ${up_ms} ms"
# waited MS CMD...: how long CMD took to come true (polled), waiting up to MS + 5 s.
waited() {
	local ms=$1 t0
	shift
	t0=$(lab_now_ms)
	lab_wait $((ms / 1000 + 5)) "$@" || true # a timeout shows as a time over the bound
	echo $(($(lab_now_ms) - t0))
}

# Stop nginx on web3 (the lab started it; its pid file names it).
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
kill -QUIT "$(cat "$(nginx_of web3)")"
start=$SECONDS
took=$(waited "$down_ms" is_code 503 /web3/1k.bin)
check "health: web3-only content gets 503 within (fall + 1) probes ($took ms, bound $down_ms)" \
	test "$took" -le "$down_ms"
out=$(lab_curl client1 -si "http://$VIP/web3/1k.bin")
check_match "health: ... with Retry-After" "Retry-After: [0-9]+" "$(tr -d '\r' <<<"$out")"
check "health: the log says why" lab_wait 2 lab_log_has "$LAB_BALANCER_LOG" "$mark" "backend web3 is down: "
check_match "health: status shows web3 down" "$WEB3_IP +down " \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status)"
ok=0
for i in $(seq 1 30); do
	[[ $(code_of "/shared/1k.bin?steady=$i") == 200 ]] && ok=$((ok + 1))
done
check_eq "health: replicated content: no failed request after detection" 30 "$ok"
echo "# detected in about $((SECONDS - start)) s"

start_nginx_on web3
took=$(waited "$up_ms" is_code 200 /web3/1k.bin)
check "health: web3 served again within (rise + 1) probes ($took ms, bound $up_ms)" \
	test "$took" -le "$up_ms"

# A link dies mid-download: health notices, the balancer resets the client.
dl=$LAB_RUN/health-dl
ip netns exec "$CLIENT2_NS" curl -s --max-time 30 --limit-rate 4M -o "$dl" \
	"http://$VIP/web2/64m.bin" &
dl_pid=$!
# Mid-download: the first MiB has arrived (a 64 MiB file at 4 MB/s takes 16 s).
got_mib() { (($(stat -c %s "$dl" 2>/dev/null || echo 0) >= 1048576)); }
check "health: the download is under way" lab_wait 10 got_mib
resets=$(lab_dispatcher_counter flows_reset)
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
lab_exec web2 ip link set "$LAB_IF" down
t0=$(lab_now_ms)
took=$(waited "$down_ms" lab_log_has "$LAB_BALANCER_LOG" "$mark" "backend web2 is down: ")
check "health: web2's dead link found within (fall + 1) probes ($took ms, bound $down_ms)" \
	test "$took" -le "$down_ms"
check "health: ... and its client's connection reset" \
	lab_wait 2 lab_log_has "$LAB_BALANCER_LOG" "$mark" "backend web2: reset 1 client connection"
rc=0
wait "$dl_pid" || rc=$?
# Reset (56) or cut short (18), not its 30 s timeout (28): the client was not
# left hanging. The time is a figure: it includes what the client had queued.
check_match "health: the client is reset (curl exit $rc after $(($(lab_now_ms) - t0)) ms), not left hanging" \
	"^(56|18)$" "$rc"
check_eq "health: the balancer counted the reset" 1 \
	"$(lab_minus "$(lab_dispatcher_counter flows_reset)" "$resets")"
no_active_web2() { [[ $(lab_backend_field web2 active) == 0 ]]; }
check "health: web2's active count back to 0" lab_wait 3 no_active_web2
lab_exec web2 ip link set "$LAB_IF" up
lab_exec web2 ip route replace default via "$ROUTER_SITE_IP"
rm -f "$dl"
check "health: web2 back after its link returns" lab_wait 5 is_code 200 /web2/1k.bin

# A backend's own check path, given by a reload: web1's is missing, so web1 is down.
sed -i 's|{name: web1, address: \([0-9.]*\)|{name: web1, address: \1, health_path: /no-such-check|' \
	"$LAB_BALANCER_CONF"
check "health: reload with web1's own check path" \
	"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
check "health: web1's own failing check path (by reload) takes it down" \
	lab_wait $((down_ms / 1000 + 3)) is_code 503 /web1/1k.bin
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
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
web3_listens() { lab_exec web3 ss -tlnH "sport = :80" | grep -q .; }
web3_closed() { ! web3_listens; }
kill -QUIT "$(cat "$(nginx_of web3)")"
check "health: web3's nginx stopped listening" lab_wait 5 web3_closed
for i in 1 2 3; do
	code_of "/web3/1k.bin?handoff-fails=$i" >/dev/null || true
done
check "health: three reset hand-offs take web3 down (no check ran meanwhile)" \
	lab_wait 2 is_code 503 /web3/1k.bin
check "health: ... and the log says so" \
	lab_wait 2 lab_log_has "$LAB_BALANCER_LOG" "$mark" "backend web3 is down: .*hand-off"
start_nginx_on web3
# The lab as it was for the next test: web3 serving again.
check "health: web3's nginx listens again" lab_wait 5 web3_listens
rc=0
lab_balancer_stop || rc=$?
check_eq "health: ... balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
