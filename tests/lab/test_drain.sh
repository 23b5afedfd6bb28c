# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Draining: `latebind drain web1` during a 64 MiB download from web1 lets the
# download finish byte-exact while new requests for replicated content avoid
# web1 (and web1-only content gets 503 with Retry-After); `undrain` brings it back.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "drain: backends attach" "attach failed"
lab_balancer_config
# shellcheck disable=SC2119
if ! lab_balancer_start; then
	lab_fail "drain: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi

count_on() { # BACKEND TAG: requests tagged TAG in its access log
	grep -c "$2" "$(lab_access_log "$1")" || true
}

dl=$LAB_RUN/drain-dl
ip netns exec "$CLIENT1_NS" curl -s --max-time 60 --limit-rate 8M -o "$dl" -w '%{http_code}' \
	"http://$VIP/web1/64m.bin" >"$dl.code" &
dl_pid=$!
sleep 1
out=$(lab_exec_bpf balancer "$LAB_LATEBIND" drain web1)
check_match "drain: web1 draining, with its download in flight" "web1: draining \\([1-9][0-9]* active" "$out"
check_match "drain: status shows it" "$WEB1_IP +draining [1-9][0-9]* .* web1 \\(drained by operator\\)" \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status)"

for i in $(seq 1 12); do
	lab_curl client2 -s -o /dev/null "http://$VIP/shared/1k.bin?drained=$i"
done
check_eq "drain: replicated content avoids web1" 0 "$(count_on web1 'drained=')"
check_eq "drain: ... and goes to the others" 12 \
	"$(($(count_on web2 'drained=') + $(count_on web3 'drained=')))"
out=$(lab_curl client2 -si "http://$VIP/web1/1k.bin")
check_match "drain: content only web1 holds gets 503 with Retry-After" \
	"^HTTP/1.1 503 .*Retry-After: [0-9]+" "$(tr -d '\r\n' <<<"$out")"

wait "$dl_pid" || true
check_eq "drain: the download from web1 finished byte-exact" "200 $(lab_sha256 /web1/64m.bin)" \
	"$(cat "$dl.code") $(sha256sum <"$dl" | cut -d' ' -f1)"
rm -f "$dl" "$dl.code"

lab_exec_bpf balancer "$LAB_LATEBIND" undrain web1 >/dev/null
web1_back() { [[ $(lab_curl client2 -s -o /dev/null -w '%{http_code}' "http://$VIP/web1/1k.bin") == 200 ]]; }
check "drain: undrain brings web1 back" lab_wait 5 web1_back
for i in $(seq 1 12); do
	lab_curl client2 -s -o /dev/null "http://$VIP/shared/1k.bin?undrained=$i"
done
check "drain: replicated content reaches web1 again" test "$(count_on web1 'undrained=')" -ge 1
check_eq "drain: unknown backend refused" 1 \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" drain nosuch >/dev/null 2>&1; echo $?)"

rc=0
lab_balancer_stop || rc=$?
check_eq "drain: balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
