# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The threads section of bench/run.sh (h): new connections per second and the
# balancer's CPU per connection with one and with two threads, latebind
# (`dispatcher: {threads: N}`, one AF_XDP socket per RX queue of the lab's
# two-queue balancer link) side by side with HAProxy (`nbthread N`), in the
# same rounds, their order rotated each round:
#
#   latebind-t1, latebind-t2, haproxy-t1, haproxy-t2, direct
#
# direct (wrk to web1's own address, no balancer at all) is the bound of the
# goal: on a machine whose CPUs the clients and backends share, no balancer
# makes more connections than no balancer.
#
# Each mode: the objects verified (http_verify), then wrk with a new connection
# per request (Connection: close), as the http section's (a). Around it, the
# process's CPU (all its threads), and for latebind the frames the XDP program
# sent to the dispatcher and how many of them one thread passed to another
# (thread_handoffs, thread_ring_full): the hand-off's share.
#
# Sourced by bench/run.sh after bench/http.sh (its modes, measuring and
# record() are this section's too; rows go to HTTP_RAW under these modes,
# workload close); defines, does nothing.

THREADS_ROUNDS=${BENCH_THREADS_ROUNDS:-5}
THREADS_MODES=(latebind-t1 latebind-t2 haproxy-t1 haproxy-t2 direct)
# Per round and latebind mode: round, mode, frames to the dispatcher,
# frames passed between threads, frames dropped at a full ring.
THREADS_RAW=$OUT/threads-raw.tsv

THREADS_TRING_FRAMES=2000000
threads_quick() { THREADS_ROUNDS=1 THREADS_TRING_FRAMES=200000; }

# threads_tring: the hand-off's parts alone (bench/tring.c), no network: the
# ring's cost per frame, and a wake-up's per batch of one and of 16 frames.
threads_tring() {
	local b
	: >"$OUT/tring.out"
	for b in 1 16; do
		"$ROOT/build/bench/tring" --frames "$THREADS_TRING_FRAMES" --batch "$b" >>"$OUT/tring.out" 2>&1 ||
			die "bench/tring failed: $(tail -n 3 "$OUT/tring.out")"
	done
	sed 's/^/bench:   tring: /' "$OUT/tring.out"
}

# threads_of MODE: the thread count in a mode's name (latebind-t2: 2).
threads_of() { echo "${1##*-t}"; }

# lb_thread_frames: "FRAMES HANDOFFS RING_FULL" from `latebind status`: the
# frames XDP redirected to the dispatcher's sockets, of which passed to their
# owner thread, and dropped because its ring was full.
lb_thread_frames() {
	lab_exec_bpf balancer "$LAB_LATEBIND" status | awk '
		/^Dispatcher:/ { d = 1 }
		!d && $1 ~ /^redirect_(dispatch|replay|next_request|probe_answer|moving)$/ { f += $2 }
		d && $1 == "thread_handoffs" { h = $2 }
		d && $1 == "thread_ring_full" { r = $2 }
		END { print f + 0, h + 0, r + 0 }'
}

# threads_mode_start MODE: latebind with `dispatcher: {threads: N}`, or HAProxy
# with `nbthread N`, serving the VIP; or nothing there (direct).
threads_mode_start() {
	local n
	n=$(threads_of "$1")
	case $1 in
	latebind-t*)
		LAB_BALANCER_EXTRA="dispatcher: {threads: $n}" lab_balancer_config
		http_mode_start latebind
		grep -q "dispatcher: $n thread(s)" "$LAB_BALANCER_LOG" ||
			die "$1: the daemon did not start $n dispatcher thread(s); see $LAB_BALANCER_LOG"
		;;
	haproxy-t*)
		HAPROXY_CONF=$OUT/haproxy-t$n.cfg
		http_mode_start haproxy
		;;
	direct) http_mode_start direct ;;
	esac
}

threads_mode_stop() {
	case $1 in
	latebind-t*)
		http_mode_stop latebind
		lab_balancer_config # the lab's own config again, for the sections after this one
		;;
	haproxy-t*)
		http_mode_stop haproxy
		# shellcheck disable=SC2034 # read by haproxy_start (bench/http.sh)
		HAPROXY_CONF=$OUT/haproxy.cfg
		;;
	direct) http_mode_stop direct ;;
	esac
}

threads_section() {
	local round mode i n=${#THREADS_MODES[@]} modes f0 f1
	: >"$THREADS_RAW"
	for i in 1 2; do
		HAPROXY_CONF=$OUT/haproxy-t$i.cfg haproxy_config "$i"
	done
	# shellcheck disable=SC2034 # read by haproxy_start (bench/http.sh)
	HAPROXY_CONF=$OUT/haproxy.cfg
	say "threads: $THREADS_ROUNDS round(s) of ${THREADS_MODES[*]} (order rotated per round):" \
		"wrk ${HTTP_SECONDS} s, a new connection per request, $WRK_CONNS connections"
	for ((round = 1; round <= THREADS_ROUNDS; round++)); do
		modes=()
		for ((i = 0; i < n; i++)); do modes+=("${THREADS_MODES[(i + round - 1) % n]}"); done
		for mode in "${modes[@]}"; do
			threads_mode_start "$mode"
			http_verify "${mode%-t*}"
			if [[ $mode == latebind-* ]]; then f0=$(lb_thread_frames); fi
			# w_wrk measures through the VIP for any mode but direct.
			w_wrk "$round" "$mode" close
			if [[ $mode == latebind-* ]]; then
				f1=$(lb_thread_frames)
				paste <(echo "$round" "$mode") <(echo "$f0") <(echo "$f1") | awk '{
					printf "%s\t%s\t%d\t%d\t%d\n", $1, $2, $6 - $3, $7 - $4, $8 - $5 }' >>"$THREADS_RAW"
			fi
			threads_mode_stop "$mode"
			awk -F'\t' -v r="$round" -v m="$mode" '$1 == r && $2 == m && $3 == "close" {
				printf "bench: round %d %-12s %.0f/s p50 %.0f µs, CPU %.1f µs per request, %d errors\n",
					r, m, $5 / $4, $8, $5 ? $11 * 1e6 / $5 : 0, $7 }' "$HTTP_RAW"
		done
	done
	threads_tring
}

threads_report() {
	local m
	echo "## Threads: latebind \`dispatcher: {threads: N}\` next to HAProxy \`nbthread N\` (h)"
	echo
	echo "Same lab, same rounds ($THREADS_ROUNDS; the modes' order rotated each round), min / median / max"
	echo "over rounds. wrk $WRK_VERSION from client1: -t$WRK_THREADS -c$WRK_CONNS, ${HTTP_SECONDS} s, a new connection per"
	echo "request (Connection: close), /web1/1k.bin, as (a). latebind in cookie mode, one AF_XDP"
	echo "socket per RX queue of the balancer's link (2 queues), served by 1 or 2 threads; HAProxy"
	echo "$HAPROXY_VERSION as in the http section but with \`nbthread 1\` or \`2\`. CPU: the process's"
	echo "user + system time, all its threads (kernel work it runs inline — on veth, delivering the"
	echo "frames it sends through the next hops — included, for both). **This machine has $(nproc) CPUs,"
	echo "shared by wrk, the three nginx, the lab's forwarding and the balancer**: a second balancer"
	echo "thread takes CPU from the others, so requests/s cannot double here. direct: wrk to web1's"
	echo "own address, no balancer: the most the clients and nginx make of these CPUs, so the"
	echo "goal's bound — 2 × HAProxy above direct cannot be met here by any balancer."
	echo
	echo "| measure | latebind, 1 thread | latebind, 2 threads | HAProxy, nbthread 1 | HAProxy, nbthread 2 | direct |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	trow() { # LABEL METRIC FORMAT [balancer]: with "balancer", none for direct
		echo -n "| $1 |"
		for m in "${THREADS_MODES[@]}"; do
			if [[ $m == direct && ${4:-} == balancer ]]; then
				echo -n " – |"
			else
				echo -n " $(hs "$m" close "$2" "$3") |"
			fi
		done
		echo
	}
	trow "new-connection requests/s" rps %.0f
	trow "p50 µs (wrk)" p50 %.0f
	trow "p99 µs" p99 %.0f
	trow "balancer CPU, µs per request" cpu_us_req %.2f balancer
	trow "+ latebind's XDP program, µs per request" xdp_us_req %.2f balancer
	echo -n "| errors, summed over rounds |"
	for m in "${THREADS_MODES[@]}"; do
		echo -n " $(awk -F'\t' -v m="$m" '$2 == m && $3 == "close" { e += $7 } END { print e + 0 }' "$HTTP_RAW") |"
	done
	echo
	echo -n "| frames to the dispatcher, passed to another thread, % |"
	for m in "${THREADS_MODES[@]}"; do
		if [[ $m == latebind-* ]]; then
			echo -n " $(awk -F'\t' -v m="$m" '$2 == m && $3 { print 100 * $4 / $3 }' "$THREADS_RAW" | spread %.1f) |"
		else
			echo -n " – |"
		fi
	done
	echo
	echo
	echo "| paired by round (min / median / max) | 1 thread | 2 threads |"
	echo "| --- | ---: | ---: |"
	echo "| requests/s, latebind / HAProxy (goal ≥ 2) | $(hps latebind-t1 haproxy-t1 close rps %.3f) | $(hps latebind-t2 haproxy-t2 close rps %.3f) |"
	echo "| CPU per request, HAProxy / latebind | $(hps haproxy-t1 latebind-t1 close cpu_us_req %.3f) | $(hps haproxy-t2 latebind-t2 close cpu_us_req %.3f) |"
	echo "| requests/s, latebind / direct | $(hps latebind-t1 direct close rps %.3f) | $(hps latebind-t2 direct close rps %.3f) |"
	echo "| requests/s, HAProxy / direct (the goal needs latebind at twice this) | $(hps haproxy-t1 direct close rps %.3f) | $(hps haproxy-t2 direct close rps %.3f) |"
	echo
	echo "| paired by round | latebind | HAProxy |"
	echo "| --- | ---: | ---: |"
	echo "| requests/s, 2 threads / 1 | $(hps latebind-t2 latebind-t1 close rps %.3f) | $(hps haproxy-t2 haproxy-t1 close rps %.3f) |"
	echo "| CPU per request, 2 threads / 1 | $(hps latebind-t2 latebind-t1 close cpu_us_req %.3f) | $(hps haproxy-t2 haproxy-t1 close cpu_us_req %.3f) |"
	echo
	echo "Frames dropped at a full ring between threads (thread_ring_full), all rounds:"
	echo "$(awk -F'\t' '{ r += $5 } END { print r + 0 }' "$THREADS_RAW")."
	echo
	echo "The hand-off's parts alone (bench/tring.c, no network; frames of 150 bytes): the ring's"
	echo "cost per frame on one thread (push and drain: two copies and the atomics), and a wake-up"
	echo "per batch between two threads on two CPUs (the producer's eventfd write, the consumer's"
	echo "return from poll(), its read and drain; the producer's figure also holds its own"
	echo "wake-up for the consumer's answer, which the daemon does not wait for):"
	echo
	echo "| measure | figure |"
	echo "| --- | ---: |"
	awk '$1 == "copy" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		printf "| ring, one frame pushed and drained, ns of CPU (wall) | %s (%s) |\n", f["cpu_ns_per_frame"], f["ns_per_frame"]; exit }' "$OUT/tring.out"
	awk '$1 == "wake" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		printf "| a wake-up with %s frame(s): consumer µs of CPU / producer µs of CPU / µs wall |" \
			" %s / %s / %s |\n", f["batch"], f["consumer_us_per_batch"], f["producer_us_per_batch"], f["wall_us_per_batch"] }' "$OUT/tring.out"
	echo
}
