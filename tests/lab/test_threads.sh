# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Two dispatcher threads on the balancer's two RX queues (dispatcher: {threads:
# 2}): many new connections from both clients, every answer from the backend
# that holds what was asked, and each thread taking some of them.
#
# How flows reach both queues in the lab: veth has no queue selection of its
# own, so the switch's bridge picks the TX queue of sw-balancer from the
# packet's flow hash (skb_tx_hash), and veth hands the frame to the balancer's
# RX queue of the same number. A locally sent TCP segment carries its socket's
# random hash (sk_txhash) across the namespaces, so each client connection lands
# on one queue, a random one per connection (docs/architecture.md, "Threads").

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

THREADS_CONNS=30 # new connections per client

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "threads: backends attach" "attach failed"
lab_balancer_config
echo "dispatcher: {threads: 2}" >>"$LAB_BALANCER_CONF"
if ! lab_balancer_start; then
	lab_fail "threads: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi
check "threads: the balancer runs 2 dispatcher threads on 2 queues" \
	grep -q "dispatcher: 2 thread(s)" "$LAB_BALANCER_LOG"
check "threads: 2 AF_XDP sockets" grep -q "dispatcher: 2 AF_XDP socket(s)" "$LAB_BALANCER_LOG"

# fetch NODE: THREADS_CONNS requests, each on its own connection (Connection:
# close), rotating over the three backends' own pages; prints "asked served" per
# request (webN from the URL, webN from the page).
fetch() {
	local urls=() i web
	for ((i = 0; i < THREADS_CONNS; i++)); do
		web=web$((i % 3 + 1))
		urls+=("http://$VIP/$web/only-on-$web.html")
	done
	lab_curl "$1" -H 'Connection: close' -w ' %{url_effective}\n' "${urls[@]}" |
		awk 'match($0, /only on web[0-9]/) { served = substr($0, RSTART + 8, 4) }
		     match($0, /\/web[0-9]\/only-on/) { print substr($0, RSTART + 1, 4), served; served = "-" }'
}

out1=$(fetch client1)
out2=$(fetch client2)
all=$(printf '%s\n%s\n' "$out1" "$out2")
total=$(grep -c . <<<"$all") || true
right=$(awk '$1 == $2' <<<"$all" | grep -c .) || true
check_eq "threads: $((2 * THREADS_CONNS)) new connections from two clients, each answered by the right backend" \
	"$((2 * THREADS_CONNS)) $((2 * THREADS_CONNS))" "$total $right"

# Per-thread decisions from the exporter (metrics.listen's default, in the balancer's namespace).
scrape() { lab_exec balancer curl -sS --max-time 5 http://127.0.0.1:9180/metrics; }
decisions() {
	scrape | awk -v t="$1" '$1 == "latebind_dispatcher_thread_decisions_total{thread=\"" t "\"}" { print $2 }'
}
d0=$(decisions 0)
d1=$(decisions 1)
check "threads: thread 0 (queue 0) took connections (decisions: ${d0:-none})" test "${d0:-0}" -gt 0
check "threads: thread 1 (queue 1) took connections (decisions: ${d1:-none})" test "${d1:-0}" -gt 0
sum=$(lab_dispatcher_counter decisions)
check_eq "threads: status's decisions are the threads' sum" "$((${d0:-0} + ${d1:-0}))" "$sum"

# A reload reaches both threads: new routes served by each (a 404 for a route removed).
sed -i 's|^  - {name: pair, .*$||' "$LAB_BALANCER_CONF"
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
lab_exec balancer "$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
check "threads: reload taken" lab_wait 5 lab_log_has "$LAB_BALANCER_LOG" "$mark" "reloaded"
codes=$(for ((i = 0; i < 10; i++)); do
	lab_curl client1 -o /dev/null -w '%{http_code} ' "http://$VIP/pair/"
done)
check_match "threads: after the reload every connection sees the new routes (/pair/ gone)" \
	"^(404 ){10}$" "$codes"

lab_balancer_stop
check_eq "threads: balancer exits 0 on SIGTERM" 0 "$LAB_STOP_STATUS"
