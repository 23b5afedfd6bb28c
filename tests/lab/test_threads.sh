# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Two dispatcher threads on the balancer's two RX queues (dispatcher: {threads:
# 2}): many new connections from both clients, every answer from the backend
# that holds what was asked, each thread owning some of them, whole first
# requests handed off by the thread that received them, other frames passed to
# their owner; keep-alive connections moving between backends; replay mode.
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
check "threads: thread 0 owns connections (decisions: ${d0:-none})" test "${d0:-0}" -gt 0
check "threads: thread 1 owns connections (decisions: ${d1:-none})" test "${d1:-0}" -gt 0
# A connection whose first segment came in on the other thread's queue: its
# whole request handed off by that thread (no state left for the owner), or the
# frame passed to the owner (a request not whole in it, the backends' frames).
whole=$(lab_dispatcher_counter thread_taken_whole)
n=$(lab_dispatcher_counter thread_handoffs)
if [[ $LAB_HANDOFF_MODE != replay ]]; then # a replay keeps state: its frames go to the owner
	check "threads: whole first requests handed off by the thread that received them (thread_taken_whole: $whole)" \
		test "$whole" -gt 0
fi
check "threads: frames of the other thread's connections taken or passed on (taken whole $whole + thread_handoffs $n)" \
	test "$((whole + n))" -gt 0
check_eq "threads: no frame dropped for a full ring" 0 "$(lab_dispatcher_counter thread_ring_full)"
sum=$(lab_dispatcher_counter decisions)
check_eq "threads: status's decisions are the threads' sum" "$((${d0:-0} + ${d1:-0}))" "$sum"

# status's row per thread: "thread queues first_queue frames handoffs_out
# handoffs_in ring_full decisions connections". thread_figures: those rows,
# then "handoffs N" with the dispatcher's thread_handoffs, from one status.
thread_figures() {
	lab_exec_bpf balancer "$LAB_LATEBIND" status | awk '
		/^Dispatcher threads/ { t = 1; next }
		/^[A-Z]/ { t = 0 }
		t { print }
		/^Dispatcher:/ { d = 1; next }
		d && $1 == "thread_handoffs" { print "handoffs", $2 }'
}
# Every frame passed on was taken by its owner, and the passes add up to the
# dispatcher's count, at least MIN (the main thread publishes both each turn:
# waited for). In cookie mode a whole first request is taken by the thread that
# got it, so passes may be none; replay mode passes frames (below).
passes_add_up() {
	awk -v min="$1" '$1 == "handoffs" { n = $2; next } { o += $5; i += $6 }
		END { exit !(o == n && i == n && n >= min) }' <<<"$(thread_figures)"
}
check "threads: status: frames passed out by the threads = taken in by the owners = thread_handoffs" \
	lab_wait 3 passes_add_up 0
rows=$(thread_figures | grep -v '^handoffs')
check_eq "threads: status lists each thread with its queue (thread queues first_queue)" \
	"0 1 0|1 1 1" "$(awk '{ print $1, $2, $3 }' <<<"$rows" | paste -sd'|')"
check_eq "threads: ... and its decisions, as the exporter has them" "0:$d0 1:$d1 " \
	"$(awk '{ printf "%s:%s ", $1, $8 }' <<<"$rows")"
# shellcheck disable=SC2016 # awk's own $
check "threads: ... and frames from its own socket, both threads ($(awk '{ printf "%s ", $4 }' <<<"$rows"))" \
	awk '$4 > 0 { n++ } END { exit n != 2 }' <<<"$rows"

thread_json='\{"thread":T,"queues":1,"first_queue":T(,"[a-z_]+":[0-9]+){6}\}'
check_match "threads: status --json: dispatcher_threads, one object per thread" \
	"\"dispatcher_threads\":\[${thread_json//T/0},${thread_json//T/1}\]," \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status --json)"

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

# keepalive NAME: one connection per client fetching web1, web2, web3, web1 in
# turn, three times: the connection moves between backends (the probe's answer
# and the new backend's frames come back on either queue); checks every body.
keepalive() {
	local node out urls=() i want="" got=""
	for i in 1 2 3 1; do urls+=("http://$VIP/web$i/only-on-web$i.html"); done
	for node in client1 client2 client1 client2 client1 client2; do
		out=$(lab_curl "$node" --http1.1 -w ' %{num_connects}\n' "${urls[@]}")
		want+="web1 web2 web3 web1 1/ "
		got+="$(grep -o 'only on web[0-9]' <<<"$out" | awk '{ printf "%s ", $3 }')"
		got+="$(awk '/^ [0-9]+$/ { n += $1 } END { print n }' <<<"$out")/ "
	done
	check_eq "$1: keep-alive connections rotating over web1, web2, web3, web1 (bodies; connections)" \
		"$want" "$got"
}
keepalive "threads"

# Stopped right after them: what they left parked on web2 and web3 is retired,
# also for a connection whose last move a dispatcher thread still held (its
# record, freed with the thread, takes the flow and its list along).
lab_balancer_stop
check_eq "threads: balancer exits 0 on SIGTERM" 0 "$LAB_STOP_STATUS"
backends_quiet() { [[ -z $(lab_open_connections "${LAB_WEBS[@]}") ]]; }
check "threads: no backend socket of the keep-alive connections left after the stop" \
	lab_wait 3 backends_quiet

# Replay mode: the backends' SYN/ACKs come back on whichever queue the switch
# picks, and must reach the thread that replayed the SYN.
saved_mode=$LAB_HANDOFF_MODE
if [[ $saved_mode != replay ]]; then
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach
	LAB_HANDOFF_MODE=replay
	# shellcheck disable=SC2119 # every backend
	lab_backends_attach >/dev/null || lab_fail "threads (replay): backends attach" "attach failed"
fi
# threads: 0 this time: one thread per RX queue, two in the lab.
lab_balancer_config
echo "dispatcher: {threads: 0}" >>"$LAB_BALANCER_CONF"
if lab_balancer_start; then
	check "threads (replay): threads: 0 runs a thread per queue, 2" \
		grep -q "dispatcher: 2 thread(s)" "$LAB_BALANCER_LOG"
	out1=$(fetch client1)
	out2=$(fetch client2)
	all=$(printf '%s\n%s\n' "$out1" "$out2")
	total=$(grep -c . <<<"$all") || true
	right=$(awk '$1 == $2' <<<"$all" | grep -c .) || true
	check_eq "threads (replay): $((2 * THREADS_CONNS)) new connections, each answered by the right backend" \
		"$((2 * THREADS_CONNS)) $((2 * THREADS_CONNS))" "$total $right"
	n=$(lab_dispatcher_counter replay_done)
	check "threads (replay): every replay done ($n)" test "$n" -ge "$((2 * THREADS_CONNS))"
	check_eq "threads (replay): none failed" 0 "$(lab_dispatcher_counter replay_failed)"
	n=$(lab_dispatcher_counter thread_handoffs)
	check "threads (replay): frames reached the thread that replayed their SYN from the other queue (thread_handoffs: $n)" \
		test "$n" -gt 0
	check "threads (replay): status: frames passed out = taken in = thread_handoffs, some" \
		lab_wait 3 passes_add_up 1
	keepalive "threads (replay)"
	lab_balancer_stop
	check_eq "threads (replay): balancer exits 0 on SIGTERM" 0 "$LAB_STOP_STATUS"
else
	lab_fail "threads (replay): balancer starts" "see $LAB_BALANCER_LOG"
fi
if [[ $saved_mode != replay ]]; then
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach
	LAB_HANDOFF_MODE=$saved_mode
	# shellcheck disable=SC2119 # every backend
	lab_backends_attach >/dev/null || lab_fail "threads: backends attach again" "attach failed"
fi
