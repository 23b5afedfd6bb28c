# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The dispatcher with real clients: the balancer's own replies (404 for no route,
# 400 for garbage, 431 for a head over the limit, 408 for a request that never
# completes), a request head split over many small segments (client MSS 536)
# reassembled, decided exactly once and handed off intact, and every connection
# cleaned up after.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

# raw_request NODE BYTES: send BYTES (printf format) on a new connection to the
# VIP and print what comes back until the balancer closes it.
raw_request() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec "$1" timeout 10 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "$2" >&3
		cat <&3' "$VIP" "$VIP_PORT" "$2"
}

status_line() { head -n 1 | tr -d '\r'; }

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "dispatcher: backends attach" "attach failed"
LAB_HANDOFF="{mss: 1400, wscale: 7, request_limit: 16384, request_timeout_ms: 2000}" \
	lab_balancer_config
# --verbose: the log shows each decision.
if ! lab_balancer_start --verbose; then
	lab_fail "dispatcher: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi

out=$(lab_curl client1 -si "http://$VIP/no/such/thing")
check_eq "dispatcher: unrouted path gets 404" "HTTP/1.1 404 Not Found" "$(status_line <<<"$out")"
check_match "dispatcher: 404 says why and closes" "Connection: close.*no route" "$(tr -d '\r\n' <<<"$out")"

out=$(lab_curl client1 -sI "http://$VIP/no/such/thing")
check_match "dispatcher: HEAD gets the status without a body" \
	"^HTTP/1.1 404 Not Found.*Content-Length: [0-9]+" "$(tr -d '\r\n' <<<"$out")"

out=$(raw_request client1 'HELLO THERE\r\n\r\n')
check_eq "dispatcher: garbage gets 400" "HTTP/1.1 400 Bad Request" "$(status_line <<<"$out")"

out=$(raw_request client2 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')
check_eq "dispatcher: duplicate Host gets 400" "HTTP/1.1 400 Bad Request" "$(status_line <<<"$out")"

big=$(head -c 20000 /dev/zero | tr '\0' 'a')
out=$(lab_curl client2 -si -H "X-Big: $big" "http://$VIP/shared/1k.bin")
check_eq "dispatcher: head over the limit gets 431" \
	"HTTP/1.1 431 Request Header Fields Too Large" "$(status_line <<<"$out")"

out=$(raw_request client1 'GET /shared/1k.bin HTTP/1.1\r\nHost: x\r\n')
check_eq "dispatcher: unfinished head gets 408 after the timeout" \
	"HTTP/1.1 408 Request Timeout" "$(status_line <<<"$out")"

# A 6 KiB head in segments of at most 536 bytes: reassembled, decided once, and
# handed off whole (nginx answers only a complete head).
lab_exec client1 ip route replace default via "$ROUTER_CLIENT_IP" advmss 536
decisions=$(lab_dispatcher_counter decisions)
taken=$(lab_dispatcher_counter conns_taken)
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
filler=$(head -c 6144 /dev/zero | tr '\0' 'b')
body=$(mktemp)
code=$(lab_curl client1 -s -o "$body" -w '%{http_code}' -H "X-Filler: $filler" "http://$VIP/web2/1k.bin")
lab_exec client1 ip route replace default via "$ROUTER_CLIENT_IP"
check_eq "dispatcher: split head decided once" 1 \
	"$(lab_minus "$(lab_dispatcher_counter decisions)" "$decisions")"
check_eq "dispatcher: split head is one connection" 1 \
	"$(lab_minus "$(lab_dispatcher_counter conns_taken)" "$taken")"
check "dispatcher: split head routed to its holder" \
	lab_wait 2 lab_log_has "$LAB_BALANCER_LOG" "$mark" "/web2/1k\.bin .*→ route web2-only → web2"
check_eq "dispatcher: split head handed off whole: web2 answers 200" 200 "$code"
check_eq "dispatcher: ... with the right body" "$(lab_sha256 /web2/1k.bin)" \
	"$(sha256sum <"$body" | cut -d' ' -f1)"
rm -f "$body"

# A head written in three pieces, so the dispatcher ACKs the first ones with its
# own, later, TSvals. The hand-off must carry the backend's timestamp clock on
# from those: an older one fails the client's PAWS check (counted as
# TcpExtPAWSEstab), which drops the response until its retransmission. The
# 20 ms pauses are the test: each piece goes out as a segment of its own.
pieces_request() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec client1 timeout 10 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET /web1/1k.bin HTTP/1.1\r\n" >&3; sleep 0.02
		printf "Host: x\r\n" >&3; sleep 0.02
		printf "Connection: close\r\n\r\n" >&3
		head -n 1 <&3' "$VIP" "$VIP_PORT"
}
paws() {
	lab_number "client1 TcpExtPAWSEstab" "$(lab_exec client1 nstat -az TcpExtPAWSEstab |
		awk '$1 == "TcpExtPAWSEstab" { print $2 }')"
}
paws0=$(paws)
ok=0
for _ in 1 2 3 4 5 6 7 8; do
	[[ $(pieces_request | tr -d '\r') == "HTTP/1.1 200 OK" ]] && ok=$((ok + 1))
done
check_eq "dispatcher: a head in three pieces is answered 200 (8 of 8)" 8 "$ok"
check_eq "dispatcher: ... and the client's PAWS check drops nothing of the backend's" 0 \
	"$(lab_minus "$(paws)" "$paws0")"

# Every connection ends: nothing left in the flow table after the linger.
check "dispatcher: no flow left behind" lab_wait 6 lab_no_flows

rc=0
lab_balancer_stop || rc=$?
check_eq "dispatcher: balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
