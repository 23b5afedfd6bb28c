# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Running `latebind balancer` in the lab's balancer namespace: its config, start
# and stop (by PID). Sourced by lab tests and the demo, after lib.sh.

LAB_LATEBIND=$LAB_ROOT/build/latebind
# One config and one log per test file (run.sh exports LAB_TEST_NAME), so no
# test runs on a config or reads log lines an earlier one left.
LAB_BALANCER_CONF=$LAB_RUN/balancer${LAB_TEST_NAME:+-$LAB_TEST_NAME}.yaml
LAB_BALANCER_LOG=$LAB_RUN/balancer${LAB_TEST_NAME:+-$LAB_TEST_NAME}.log
LAB_BALANCER_PID=
# The node the helpers below act on: balancer, or balancer2 for one call
# (`LAB_BALANCER_NODE=balancer2 lab_balancer_counter tx_synack`; tests/lab/cluster.sh).
LAB_BALANCER_NODE=balancer

# The lab's site: each backend's own content, /pair/ on web1+web2, /shared/, / and
# /health on all; anything else has no route (404). Each backend's hand-off mode
# is the lab's (LB_LAB_HANDOFF, lab_handoff_of). LAB_HANDOFF overrides the
# handoff settings.
lab_balancer_config() {
	cat >"$LAB_BALANCER_CONF" <<-YAML
	interface: $LAB_IF
	vips:
	  - {address: $VIP, port: $VIP_PORT, mode: http}
	backends:
	  - {name: web1, address: $WEB1_IP, mac: "$WEB1_MAC", handoff: $(lab_handoff_of web1)}
	  - {name: web2, address: $WEB2_IP, mac: "$WEB2_MAC", handoff: $(lab_handoff_of web2)}
	  - {name: web3, address: $WEB3_IP, mac: "$WEB3_MAC", handoff: $(lab_handoff_of web3)}
	routes:
	  - {name: web1-only, host: "*", prefix: /web1/, backends: [web1]}
	  - {name: web2-only, host: "*", prefix: /web2/, backends: [web2]}
	  - {name: web3-only, host: "*", prefix: /web3/, backends: [web3]}
	  - {name: pair, host: "*", prefix: /pair/, backends: [web1, web2]}
	  - {name: shared, host: "*", prefix: /shared/, backends: [web1, web2, web3]}
	  - {name: index, host: "*", path: /, backends: [web1, web2, web3]}
	  - {name: health, host: "*", path: /health, backends: [web1, web2, web3]}
	handoff: ${LAB_HANDOFF:-{mss: 1400, wscale: 7\}}
	cookie: {key_file: $LAB_RUN/cookie.key}
	YAML
	# More top-level keys (several balancers: announce, peers).
	if [[ -n ${LAB_BALANCER_EXTRA:-} ]]; then printf '%s\n' "$LAB_BALANCER_EXTRA" >>"$LAB_BALANCER_CONF"; fi
}

# lab_balancer_serving N: the log has more than N "serving" lines.
lab_balancer_serving() {
	local n
	n=$(grep -c 'info: serving' "$LAB_BALANCER_LOG" 2>/dev/null) || true
	((${n:-0} > $1))
}

# lab_balancer_start [ARGS...]: start the daemon; wait until it serves.
lab_balancer_start() {
	local serving
	[[ -f $LAB_BALANCER_CONF ]] || lab_balancer_config
	serving=$(grep -c 'info: serving' "$LAB_BALANCER_LOG" 2>/dev/null) || true
	serving=${serving:-0}
	# exec all the way down, so $! is the daemon itself and stop can signal it.
	# shellcheck disable=SC2016 # expanded by the inner sh
	(exec ip netns exec "$(lab_ns "$LAB_BALANCER_NODE")" sh -c 'mount --bind "$0" /sys/fs/bpf && exec "$@"' \
		"$(lab_bpffs "$LAB_BALANCER_NODE")" "$LAB_LATEBIND" balancer --config "$LAB_BALANCER_CONF" \
		--pid-file "$LAB_RUN/$LAB_BALANCER_NODE.pid" "$@" \
		>>"$LAB_BALANCER_LOG" 2>&1) &
	LAB_BALANCER_PID=$!
	# Up when this daemon says so (pins left by a killed one exist already).
	if ! lab_wait 10 lab_balancer_serving "$serving"; then
		echo "$LAB_BALANCER_NODE did not come up; its log:" >&2
		cat "$LAB_BALANCER_LOG" >&2
		return 1
	fi
}

# lab_balancer_stop: SIGTERM the daemon we started and wait for it (bounded);
# returns its exit status. Call it from the shell that started it.
lab_balancer_stop() {
	[[ -n $LAB_BALANCER_PID ]] || return 0
	lab_stop_pids 10 "$LAB_BALANCER_PID"
	LAB_BALANCER_PID=
	return "$LAB_STOP_STATUS"
}

# lab_balancer_counter NAME: packets counted under NAME (see headers/stats.h).
lab_balancer_counter() {
	lab_number "balancer counter $1" "$(lab_exec_bpf "$LAB_BALANCER_NODE" "$LAB_LATEBIND" status |
		awk -v n="$1" '$1 == n { print $2 }')"
}

# lab_dispatcher_counter NAME: the dispatcher's counter NAME.
lab_dispatcher_counter() {
	lab_number "dispatcher counter $1" "$(lab_exec_bpf "$LAB_BALANCER_NODE" "$LAB_LATEBIND" status |
		awk -v n="$1" '/^Dispatcher:/ { d = 1; next } d && $1 == n { print $2 }')"
}

lab_balancer_flows() {
	lab_number "status Flows:" "$(lab_exec_bpf "$LAB_BALANCER_NODE" "$LAB_LATEBIND" status |
		awk '$1 == "Flows:" { print $2 }')"
}

# lab_no_flows: the balancer's flow table is empty.
lab_no_flows() { [[ $(lab_balancer_flows) == 0 ]]; }

# lab_settled: no flow left, and every backend's active count back to 0.
lab_settled() {
	local w
	lab_no_flows || return 1
	for w in "${LAB_WEBS[@]}"; do [[ $(lab_backend_field "$w" active) == 0 ]] || return 1; done
}

# lab_unsettled: what keeps lab_settled from passing, for a failure to name it
# (check shows 20 lines, so the totals first): the flow count and the
# dispatcher's counters of hand-offs and moves that went wrong or crossed
# threads, each backend's active count, then every flow left (`status --flows`:
# client, state, backend, idle time).
lab_unsettled() {
	lab_exec_bpf "$LAB_BALANCER_NODE" "$LAB_LATEBIND" status --flows | awk '
		/^Backends/ { part = "b"; next }
		/^Flow list/ { part = "f"; next }
		/^Flows:/ { part = ""; total = $0; next }
		/^Dispatcher:/ { part = "d"; next }
		/^[A-Z]/ { part = ""; next }
		part == "b" { b = b "\n" $0 }
		part == "f" { f = f "\n" $0 }
		part == "d" && $1 ~ /^(replay_failed|rebind_failed|thread_handoffs|thread_ring_full|conns_evicted|stays_busy)$/ && $2 != 0 { d = d " " $1 "=" $2 }
		END {
			print total (d == "" ? "" : ";" d)
			print "backends (index address state active ...):" b
			print "flows left (client vip state backend packets bytes idle_s binds req_end):" f
		}'
}

# lab_wait_settled SECONDS: lab_wait SECONDS lab_settled, and on a timeout
# what is left (lab_unsettled) on stdout, which check shows under the failure
# (run.sh keeps the failed test's balancer log, for the whole story).
lab_wait_settled() {
	lab_wait "$1" lab_settled && return 0
	echo "not settled after $1 s:"
	lab_unsettled
	return 1
}

# lab_counters_snap ARRAY: every counter `latebind status` prints, name -> value
# (XDP's packets, then the dispatcher's), for grew().
lab_counters_snap() {
	local -n _snap=$1
	local k v
	_snap=()
	while read -r k v; do
		_snap["$k"]=$v
	done < <(lab_exec_bpf "$LAB_BALANCER_NODE" "$LAB_LATEBIND" status |
		awk '/^Counters|^Dispatcher:/ { d = 1; next } d && NF >= 2 { print $1, $2 }')
}

# lab_counter_grown SNAP COUNTER N: the balancer's COUNTER is N or more above
# snapshot SNAP's. The dispatcher's threads count as they act, but the main
# thread publishes their counts a moment later, and a move that XDP settled
# (the client's ACK of the new backend's bytes) is counted at the dispatcher's
# next timer, up to 100 ms after: a check waits with this for the count it
# expects (lab_wait), then snapshots.
lab_counter_grown() {
	local -n _since=$1
	local -A now
	lab_counters_snap now
	[[ ${now[$2]:-} =~ ^[0-9]+$ && ${_since[$2]:-} =~ ^[0-9]+$ ]] &&
		((now[$2] - _since[$2] >= $3))
}

# lab_backend_sockets PORT: every backend socket for client1's PORT but
# TIME-WAIT (a socket its own kernel closed properly); empty if there is none.
lab_backend_sockets() {
	local w
	for w in "${LAB_WEBS[@]}"; do
		lab_exec "$w" ss -tanH exclude time-wait dst "$CLIENT1_IP:$1" | sed "s/^/$w: /"
	done
}
lab_no_backend_socket() { [[ -z $(lab_backend_sockets "$1") ]]; }

# lab_backends_attach [NODE...]: the hand-off programs on the backends (default
# all), each in its mode (lab_handoff_of), as the balancer's config says. Fails
# with the first failing attach's exit status.
# LAB_BALANCER_MACS (default: the balancer's) lists every balancer the backends
# accept hand-offs from, one --balancer-mac each.
lab_backends_attach() {
	local w m macs=()
	[[ -f $LAB_RUN/cookie.key ]] || lab_cookie_key
	for m in ${LAB_BALANCER_MACS:-$BALANCER_MAC}; do macs+=(--balancer-mac "$m"); done
	for w in "${@:-${LAB_WEBS[@]}}"; do
		lab_exec_bpf "$w" "$LAB_LATEBIND" backend attach --interface "$LAB_IF" \
			--vip "$VIP:$VIP_PORT" "${macs[@]}" \
			--cookie-key "$LAB_RUN/cookie.key" --mode "$(lab_handoff_of "$w")" || return
	done
}

# lab_backend_counter NODE NAME: packets counted under NAME by the backend's
# programs (`latebind backend status`); a counter it does not list is a failure.
lab_backend_counter() {
	lab_number "$1 backend counter $2" "$(lab_exec_bpf "$1" "$LAB_LATEBIND" backend status |
		awk -v n="$2" '$1 == n { print $2 }')"
}

# lab_handoff_counter NODE: the backend counter that grows by one per hand-off
# taken in its mode (cookie: a connection adopted; replay: a replayed SYN let in).
lab_handoff_counter() {
	if [[ $(lab_handoff_of "$1") == replay ]]; then echo replay_syn; else echo adopted; fi
}

lab_backends_detach() {
	local w
	for w in "${@:-${LAB_WEBS[@]}}"; do
		lab_exec_bpf "$w" "$LAB_LATEBIND" backend detach --interface "$LAB_IF"
	done
}

# The shared key, made before anyone starts (the balancer would create it too).
lab_cookie_key() {
	(umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LAB_RUN/cookie.key")
}

# lab_backend_field NODE FIELD: a field of `latebind status` for a backend's row
# (FIELD: active, chosen, packets, bytes).
lab_backend_field() {
	local ip col
	ip=$(lab_ip "$1")
	case $2 in active) col=4 ;; chosen) col=5 ;; packets) col=6 ;; bytes) col=7 ;; esac
	lab_number "status $2 of $1" "$(lab_exec_bpf "$LAB_BALANCER_NODE" "$LAB_LATEBIND" status |
		awk -v ip="$ip" -v c="$col" '$2 == ip { print $c }')"
}

# lab_flow_bound CLIENT_IP BACKEND_IP: `status --flows` lists a flow from
# CLIENT_IP to the VIP bound to BACKEND_IP (a transfer is under way there).
lab_flow_bound() {
	lab_exec_bpf "$LAB_BALANCER_NODE" "$LAB_LATEBIND" status --flows |
		grep -qE "^ +${1//./\\.}:[0-9]+ ${VIP//./\\.}:$VIP_PORT bound ${2//./\\.} "
}

# lab_hold_bound NODE PATH STOP: from NODE, one connection to the VIP that asks
# for PATH once and then stays open, idle and bound to PATH's holder, until the
# file STOP exists (at most 30 s). In the background: $! to wait for it.
lab_hold_bound() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec "$1" timeout 30 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET %s HTTP/1.1\r\nHost: lab\r\n\r\n" "$2" >&3
		for ((i = 0; i < 300; i++)); do
			if [[ -e $3 ]]; then exit 0; fi
			sleep 0.1
		done
		exit 1' "$VIP" "$VIP_PORT" "$2" "$3" &
}
