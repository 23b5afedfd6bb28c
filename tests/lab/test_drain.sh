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
# logged_all TAG N: N requests tagged TAG in the three access logs together (nginx
# writes its line as it finishes sending, so the client may be done a moment sooner).
logged_all() {
	(($(count_on web1 "$1") + $(count_on web2 "$1") + $(count_on web3 "$1") == $2))
}
active_of() { lab_backend_field "$1" active; }
# web1_least MIN: web1 has at least MIN and fewer active flows than web2 and web3, so least-loaded
# selection alone would send /shared/ to web1 (what the drain must overrule).
web1_least() {
	local a1 a2 a3
	a1=$(active_of web1) && a2=$(active_of web2) && a3=$(active_of web3) || return 1
	echo "active: web1 $a1, web2 $a2, web3 $a3"
	((a1 >= $1 && a1 < a2 && a1 < a3))
}

# web1 carries one download; web2 and web3 two idle bound connections each.
dl=$LAB_RUN/drain-dl
ip netns exec "$CLIENT1_NS" curl -s --max-time 60 --limit-rate 8M -o "$dl" -w '%{http_code}' \
	"http://$VIP/web1/64m.bin" >"$dl.code" &
dl_pid=$!
release=$LAB_RUN/drain-release
rm -f "$release"
holders=()
for w in web2 web3; do
	for n in 1 2; do
		lab_hold_bound client2 "/$w/1k.bin?hold=$n" "$release"
		holders+=($!)
	done
done
check "drain: web1's download is bound" lab_wait 10 lab_flow_bound "$CLIENT1_IP" "$WEB1_IP"
check "drain: web1 is the least loaded holder of /shared/" lab_wait 10 web1_least 1
lab_curl client2 -s -o /dev/null "http://$VIP/shared/1k.bin?predrain=1"
lab_wait 5 logged_all predrain= 1
check_eq "drain: before the drain, /shared/ goes to web1" 1 "$(count_on web1 'predrain=')"

out=$(lab_exec_bpf balancer "$LAB_LATEBIND" drain web1)
check_match "drain: web1 draining, with its download in flight" "web1: draining \\([1-9][0-9]* active" "$out"
check_match "drain: status shows it" "$WEB1_IP +draining [1-9][0-9]* .* web1 \\(drained by operator\\)" \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status)"

for i in $(seq 1 12); do
	lab_curl client2 -s -o /dev/null "http://$VIP/shared/1k.bin?drained=$i"
done
check "drain: ... web1 still the least loaded after them" web1_least 0
lab_wait 5 logged_all '[?]drained=' 12
check_eq "drain: replicated content avoids web1" 0 "$(count_on web1 '[?]drained=')"
check_eq "drain: ... and goes to the others" 12 \
	"$(($(count_on web2 '[?]drained=') + $(count_on web3 '[?]drained=')))"
touch "$release"
early=0
for pid in "${holders[@]}"; do wait "$pid" || early=$((early + 1)); done
check_eq "drain: the ${#holders[@]} held connections lasted until released (failed)" 0 "$early"
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
reached_web1() { logged_all undrained= 12 && (($(count_on web1 undrained=) >= 1)); }
check "drain: replicated content reaches web1 again" lab_wait 5 reached_web1
check_eq "drain: unknown backend refused" 1 \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" drain nosuch >/dev/null 2>&1; echo $?)"

rc=0
lab_balancer_stop || rc=$?
check_eq "drain: balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
