# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The HTTP side-by-side section of bench/run.sh (workloads a–d):
# clients in the lab fetch from the same nginx backends three ways,
#
#   direct    to the backend's real address (198.51.100.1x): no balancer at all;
#   latebind  through the VIP, `latebind balancer` in cookie mode;
#   haproxy   through the VIP, Debian's HAProxy in the balancer namespace, which
#             holds the VIP on its loopback while it runs (latebind stopped);
#   replay    through the VIP, latebind with every backend in replay mode
#             (`handoff: replay`, `backend attach --mode replay`): connection
#             setup only, the unloaded and close workloads;
#   ceiling   through the VIP, bench/xdp_ceiling.bpf.c in latebind's place: a
#             plain XDP program that rewrites the MACs of the clients' frames
#             towards a backend and sends them back out (XDP_TX), the backend
#             accepting the connection itself and answering the client
#             directly — the most any direct-return balancer can do on this
#             topology; the big workload only (the backends' hand-off programs
#             are detached meanwhile: they would take its connections for
#             latebind's);
#
# with the same routes, the same client path (client → router → switch) and the
# same backends (the hand-off programs stay attached on them in every mode, in
# cookie mode but while replay is measured, and none while ceiling is).
# Workloads per mode, in this order:
#
#   unloaded   sequential new-connection requests for a 1 KiB object (curl,
#              one at a time): latency with the handshake, no queueing; also
#              the time to the first byte (connection setup + hand-off);
#   close      (a) wrk, a new connection per request (Connection: close), 1 KiB;
#   keepalive  (b) wrk, persistent connections, 1 KiB;
#   rotate     (g) wrk, persistent connections, each asking for /web1/1k.bin,
#              /web2/1k.bin, /web3/1k.bin in turn (bench/wrk-rotate.lua):
#              every request for another backend than the one before it on
#              its connection; the direct mode asks web1, which holds copies
#              of all three under /bench-rotate/ for the bench alone
#              (rotate_content); non-2xx responses counted per mode;
#   rotate1    (g) the same on one connection (wrk -t1 -c1): no queueing, so
#              latebind's p50 less direct's is what changing backend costs;
#   big        (c) parallel curls for 64 MiB objects from both clients.
#
# Around each workload: CPU seconds of the balancer's process (the latebind
# daemon or haproxy, from /proc/PID/stat), bytes in and out of the balancer's
# eth0, and the kernel's BPF run time (bench/progstat, in every mode alike) of
# latebind's XDP program and of the backends' TC programs (d).
#
# Sourced by bench/run.sh after tests/lab/lib.sh, tests/lab/balancer.sh and its
# own helpers (say, die, spread, OUT, PROGSTAT, QUICK); defines, does nothing.
# run.sh calls http_setup once before this section and the threads section
# (bench/threads.sh, which measures with this file's helpers), and detaches the
# backends' programs after both.

HTTP_ROUNDS=${BENCH_HTTP_ROUNDS:-5}
HTTP_SECONDS=${BENCH_HTTP_SECONDS:-3}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
WRK_CONNS=${BENCH_WRK_CONNS:-16}
BIG_PER_CLIENT=${BENCH_BIG_PER_CLIENT:-4}
BIG_FILE=${BENCH_BIG_FILE:-64m.bin}
UNLOADED_SAMPLES=${BENCH_UNLOADED_SAMPLES:-200}
NAPI_THREADED=${BENCH_NAPI_THREADED:-0}
HTTP_MODES=(direct latebind haproxy replay ceiling)
# Replay mode measures connection setup (what the hand-off itself costs): the
# unloaded and close workloads only; ceiling mode the big workload only (http_section).

HTTP_RAW=$OUT/http-raw.tsv
HAPROXY_CONF=$OUT/haproxy.cfg
HAPROXY_LOG=$OUT/haproxy.log
WRK_LUA=$BENCH_DIR/wrk-report.lua
WRK_ROTATE_LUA=$BENCH_DIR/wrk-rotate.lua
# The rotated workload's objects: /webN/ROTATE_OBJECT, held by webN only; and
# web1's copies of all of them under /ROTATE_DIR/webN/ for the direct mode.
ROTATE_OBJECT=1k.bin
ROTATE_DIR=bench-rotate
# Ceiling mode: the program (built by bench/run.sh with ceiling_cflags), and the
# client ports that pick each backend (webN: CEILING_PORT_SPAN ports from
# CEILING_PORT_BASE + (N - 1) × span), above the clients' ephemeral range
# (32768–60999), so no other connection of theirs lands there by chance.
CEILING_OBJ=$OUT/xdp_ceiling.bpf.o
CEILING_PORT_BASE=61000
CEILING_PORT_SPAN=1000

HAPROXY_PID=
PROGSTAT_PID=
VIP_ON_BALANCER=0
BACKENDS_ATTACHED=0
BG_PIDS=()     # curls of the big workload while it runs
TC_PROG_IDS=() # the backends' TC programs (ingress and egress of each)
BAL_PID=       # the balancer-side process of the current mode
XDP_ID=        # the XDP program on the balancer's eth0: latebind's, or the ceiling's
CEILING_ON=0   # the ceiling program is attached

http_quick() {
	HTTP_ROUNDS=1 HTTP_SECONDS=1 BIG_PER_CLIENT=1 BIG_FILE=1m.bin UNLOADED_SAMPLES=20
}

# --- helpers -------------------------------------------------------------------

# proc_cpu PID: user + system CPU seconds of the process (all its threads).
proc_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
		"/proc/$1/stat"
}

# bal_if_bytes: "rx tx" bytes of the balancer's eth0 so far. XDP_TX'd frames
# are in both (in as received, out as sent on).
bal_if_bytes() {
	lab_exec balancer cat "/sys/class/net/$LAB_IF/statistics/rx_bytes" \
		"/sys/class/net/$LAB_IF/statistics/tx_bytes" | paste -sd ' '
}

# http_base MODE [WEB]: the origin clients use in MODE (direct: WEB's own address).
http_base() {
	if [[ $1 == direct ]]; then
		echo "http://$(lab_ip "${2:-web1}")"
	else
		echo "http://$VIP"
	fi
}

# ceiling_cflags: clang's -D flags that give bench/xdp_ceiling.bpf.c the lab's
# VIP, port, backend MACs (in LAB_WEBS order) and the client ports per backend.
ceiling_cflags() {
	local w macs=() a b c d
	for w in "${LAB_WEBS[@]}"; do macs+=("0x$(lab_mac "$w" | sed 's/:/,0x/g')"); done
	IFS=. read -r a b c d <<<"$VIP"
	echo "-DCEILING_VIP=$(((a << 24) | (b << 16) | (c << 8) | d))u -DCEILING_PORT=$VIP_PORT" \
		"-DCEILING_MACS=$(IFS=,; echo "${macs[*]}") -DCEILING_PORT_BASE=$CEILING_PORT_BASE" \
		"-DCEILING_PORT_SPAN=$CEILING_PORT_SPAN"
}

# client_port MODE WEB: curl's option that makes the ceiling program send the
# connection to WEB (its ports, see CEILING_PORT_BASE); nothing in other modes.
client_port() {
	local i
	[[ $1 == ceiling ]] || return 0
	for i in "${!LAB_WEBS[@]}"; do
		if [[ ${LAB_WEBS[i]} == "$2" ]]; then
			echo "--local-port $((CEILING_PORT_BASE + i * CEILING_PORT_SPAN))-$((CEILING_PORT_BASE + (i + 1) * CEILING_PORT_SPAN - 1))"
			return
		fi
	done
	die "client_port: $2 is not a backend"
}

# rotate_path MODE WEB: the path the rotated workload asks for to get WEB's
# object in MODE: /WEB/ROTATE_OBJECT, or in the direct mode web1's copy of it.
rotate_path() {
	if [[ $1 == direct ]]; then
		echo "/$ROTATE_DIR/$2/$ROTATE_OBJECT"
	else
		echo "/$2/$ROTATE_OBJECT"
	fi
}

# rotate_content: the direct mode's backend that holds every rotated object:
# web1 gets each backend's object under /ROTATE_DIR/webN/ (hard links: the same
# bytes, and the same Last-Modified and ETag, so every mode's responses have the
# same size). A path of its own, because web1 must go on answering 404 for
# /web2/ and /web3/: that is how a request a balancer sends to the wrong
# backend shows. No route of latebind's or HAProxy's leads there; the lab's
# nginx config stays as it is, and the lab's run dir goes when the lab goes.
rotate_content() {
	local w dir
	for w in "${LAB_WEBS[@]}"; do
		dir=$LAB_RUN/web1/html/$ROTATE_DIR/$w
		mkdir -p "$dir"
		ln -f "$LAB_RUN/$w/html/$w/$ROTATE_OBJECT" "$dir/$ROTATE_OBJECT"
	done
}

# rotate_changes LOG MARK: "CHANGED COMPARED" over the rotated requests an
# access log (the lab's format: path in field 7, conn=N in field 11) got after
# MARK: of the requests that had one before them on their connection, how many
# asked for another backend's object than that one.
rotate_changes() {
	lab_log_since "$1" "$2" | awk -v d="/$ROTATE_DIR/" '
		index($7, d) == 1 {
			split($7, p, "/")
			if ($11 in last) { n++; if (last[$11] != p[3]) ch++ }
			last[$11] = p[3]
		}
		END { print ch + 0, n + 0 }'
}

# holder_of PATH: the backend a direct client asks for PATH (its first holder).
holder_of() {
	awk -v p="${1#/}" '$1 == p { print $2; exit }' "$LAB_HOLDERS"
}

# pct P: the P-th percentile (nearest rank) of the numbers on stdin.
pct() {
	sort -g | awk -v p="$1" '{ v[NR] = $1 } END {
		if (!NR) { print 0; exit }
		r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
		print v[r] }'
}

# --- HAProxy: a config generated from latebind's, so the routes are the same --------

# The lab's routes (tests/lab/balancer.sh) as HAProxy content switching: one
# backend per route holding the same servers, exact paths first, then prefixes
# longest first (latebind's precedence), anything else answered 404 by HAProxy
# itself, as latebind answers it. haproxy_config [THREADS] (default: one per
# CPU) writes HAPROXY_CONF.
# shellcheck disable=SC2120 # bench/threads.sh passes THREADS
haproxy_config() {
	awk -v vip="$VIP" -v port="$VIP_PORT" -v threads="${1:-$(nproc)}" '
		function field(line, key,   m) {
			if (match(line, key ": *[^,}]+")) {
				m = substr(line, RSTART, RLENGTH); sub(/^[^:]*: */, "", m); gsub(/"/, "", m)
				return m
			}
			return ""
		}
		/^backends:/ { sec = "b"; next }
		/^routes:/ { sec = "r"; next }
		/^[a-z]/ { sec = "" }
		sec == "b" && /name:/ { addr[field($0, "name")] = field($0, "address") }
		sec == "r" && /name:/ {
			n++
			name[n] = field($0, "name"); host[n] = field($0, "host")
			path[n] = field($0, "path"); prefix[n] = field($0, "prefix")
			match($0, /backends: *\[[^]]*\]/)
			holders[n] = substr($0, RSTART, RLENGTH); sub(/^backends: *\[/, "", holders[n])
			sub(/\]$/, "", holders[n]); gsub(/[ "]/, "", holders[n])
		}
		END {
			print "# generated by bench/http.sh from the latebind config of the same run"
			print "global"
			print "    nbthread " threads
			print "    maxconn 8000"
			print "    tune.bufsize 16384"
			print ""
			print "defaults"
			print "    mode http"
			print "    balance leastconn"
			print "    option http-keep-alive"
			print "    http-reuse safe"
			print "    option httpchk GET /health"
			print "    default-server check inter 2s rise 2 fall 3"
			print "    timeout connect 5s"
			print "    timeout client 30s"
			print "    timeout server 30s"
			print "    timeout http-request 10s"
			print "    timeout http-keep-alive 10s"
			print "    timeout queue 10s"
			print "    maxconn 8000"
			print ""
			print "frontend site"
			print "    bind " vip ":" port
			for (i = 1; i <= n; i++) {
				if (host[i] != "*") { print "# route " name[i] ": host " host[i] " not supported here" > "/dev/stderr"; exit 1 }
				if (path[i] != "") print "    acl r_" name[i] " path " path[i]
				else print "    acl r_" name[i] " path_beg " prefix[i]
			}
			for (i = 1; i <= n; i++) if (path[i] != "") print "    use_backend " name[i] " if r_" name[i]
			# prefixes, longest first
			m = 0
			for (i = 1; i <= n; i++) if (path[i] == "") order[++m] = i
			for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
				if (length(prefix[order[b]]) > length(prefix[order[a]])) { t = order[a]; order[a] = order[b]; order[b] = t }
			for (a = 1; a <= m; a++) print "    use_backend " name[order[a]] " if r_" name[order[a]]
			print "    default_backend no_route"
			for (i = 1; i <= n; i++) {
				print ""
				print "backend " name[i]
				k = split(holders[i], h, ",")
				for (j = 1; j <= k; j++) print "    server " h[j] " " addr[h[j]] ":80"
			}
			print ""
			print "backend no_route"
			print "    http-request return status 404 content-type text/plain string \"no route for this resource\""
		}' "$LAB_BALANCER_CONF" >"$HAPROXY_CONF"
	haproxy -c -q -f "$HAPROXY_CONF" >>"$HAPROXY_LOG" 2>&1 || die "haproxy rejects $HAPROXY_CONF; see $HAPROXY_LOG"
}

# vip_ready: the VIP answers (whoever holds it; health checks may hold back the first).
vip_ready() {
	[[ $(lab_exec client2 curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$VIP/health") == 200 ]]
}

haproxy_start() {
	ip -n "$BALANCER_NS" addr add "$VIP/32" dev lo
	VIP_ON_BALANCER=1
	# exec all the way down: $! is haproxy itself (foreground, -db).
	(exec ip netns exec "$BALANCER_NS" haproxy -db -f "$HAPROXY_CONF" >>"$HAPROXY_LOG" 2>&1) &
	HAPROXY_PID=$!
	lab_wait 10 vip_ready || die "haproxy did not answer on $VIP within 10 s; see $HAPROXY_LOG"
}

haproxy_stop() {
	if [[ -n $HAPROXY_PID ]]; then
		lab_stop_pids 10 "$HAPROXY_PID"
		HAPROXY_PID=
	fi
	if ((VIP_ON_BALANCER)); then
		ip -n "$BALANCER_NS" addr del "$VIP/32" dev lo 2>/dev/null || true
		VIP_ON_BALANCER=0
	fi
}

# --- modes -------------------------------------------------------------------------

# backends_attach MODE: every backend's hand-off programs in MODE (cookie or
# replay), and their ids for progstat.
backends_attach() {
	local w
	# shellcheck disable=SC2034 # read by lab_backends_attach and lab_balancer_config
	LAB_HANDOFF_MODE=$1
	lab_backends_detach >>"$OUT/attach.log" 2>&1 || true
	lab_backends_attach >>"$OUT/attach.log" 2>&1 || die "latebind backend attach --mode $1 failed; see $OUT/attach.log"
	BACKENDS_ATTACHED=1
	TC_PROG_IDS=()
	for w in "${LAB_WEBS[@]}"; do
		mapfile -t -O "${#TC_PROG_IDS[@]}" TC_PROG_IDS < <(
			for dir in ingress egress; do
				tc -n "$(lab_ns "$w")" filter show dev "$LAB_IF" "$dir" |
					awk '{ for (i = 1; i < NF; i++) if ($i == "id") { print $(i + 1); exit } }'
			done)
	done
	((${#TC_PROG_IDS[@]} == 2 * ${#LAB_WEBS[@]})) || die "backend TC programs not found (${TC_PROG_IDS[*]})"
}

# ceiling_start / ceiling_stop: the ceiling program on the balancer's eth0, the
# backends' hand-off programs off meanwhile (they would drop the backends' own
# SYN/ACKs to the VIP and divert their FINs to a balancer that is not there).
ceiling_start() {
	lab_backends_detach >>"$OUT/attach.log" 2>&1 || die "latebind backend detach failed; see $OUT/attach.log"
	BACKENDS_ATTACHED=0
	TC_PROG_IDS=()
	CEILING_ON=1
	ip -n "$BALANCER_NS" link set dev "$LAB_IF" xdpdrv obj "$CEILING_OBJ" sec xdp ||
		die "ceiling: $CEILING_OBJ did not attach to $LAB_IF"
	XDP_ID=$(xdp_prog_id) || die "ceiling: no XDP program on $LAB_IF"
	lab_wait 15 vip_ready || die "ceiling: the VIP did not answer within 15 s"
}

# ceiling_stop: detached whatever happened before (also from http_cleanup, so
# it fails by its status, never by exiting); fails if a program is still there.
ceiling_stop() {
	((CEILING_ON)) || return 0
	ip -n "$BALANCER_NS" link set dev "$LAB_IF" xdpdrv off 2>/dev/null || true
	CEILING_ON=0
	! xdp_prog_id >/dev/null
}

http_mode_start() {
	BAL_PID=
	XDP_ID=
	case $1 in
	direct) ;;
	ceiling) ceiling_start ;;
	replay)
		backends_attach replay
		lab_balancer_config
		# shellcheck disable=SC2119 # no extra daemon options
		lab_balancer_start >/dev/null || die "latebind balancer (replay) did not start; see $LAB_BALANCER_LOG"
		BAL_PID=$LAB_BALANCER_PID
		XDP_ID=$(xdp_prog_id) || die "latebind: no XDP program on $LAB_IF"
		lab_wait 15 vip_ready || die "latebind (replay) did not answer on $VIP within 15 s; see $LAB_BALANCER_LOG"
		;;
	latebind)
		# shellcheck disable=SC2119 # no extra daemon options
		lab_balancer_start >/dev/null || die "latebind balancer did not start; see $LAB_BALANCER_LOG"
		BAL_PID=$LAB_BALANCER_PID
		XDP_ID=$(xdp_prog_id) || die "latebind: no XDP program on $LAB_IF"
		lab_wait 15 vip_ready || die "latebind did not answer on $VIP within 15 s; see $LAB_BALANCER_LOG"
		;;
	haproxy)
		haproxy_start
		BAL_PID=$HAPROXY_PID
		;;
	esac
}

http_mode_stop() {
	case $1 in
	latebind) lab_balancer_stop || die "latebind balancer did not exit cleanly; see $LAB_BALANCER_LOG" ;;
	replay)
		lab_balancer_stop || die "latebind balancer (replay) did not exit cleanly; see $LAB_BALANCER_LOG"
		# Back to cookie mode for every other mode (and bench/xdp.sh after us).
		backends_attach cookie
		lab_balancer_config
		;;
	haproxy) haproxy_stop ;;
	ceiling)
		ceiling_stop || die "ceiling: an XDP program is still on $LAB_IF after detaching"
		backends_attach cookie
		;;
	esac
	BAL_PID=
	XDP_ID=
}

# http_verify MODE: a few objects fetched in MODE are the lab's own bytes, and a
# path no route holds is a 404; else the section fails (a benchmark of wrong
# answers is worth nothing).
http_verify() {
	local mode=$1 p web got code
	for p in /web1/1k.bin /web2/1m.bin /web3/1k.bin /pair/1m.bin /shared/1k.bin; do
		web=$(holder_of "$p")
		# shellcheck disable=SC2046 # an option and its value, or nothing
		got=$(lab_curl client2 -f $(client_port "$mode" "$web") "$(http_base "$mode" "$web")$p" |
			sha256sum | cut -d' ' -f1)
		[[ $got == "$(lab_sha256 "$p")" ]] || die "$mode: $p did not come back intact"
	done
	# The rotated workload's objects, each on a connection of its own (the
	# workload itself checks every body it gets on shared connections).
	for web in "${LAB_WEBS[@]}"; do
		p=/$web/$ROTATE_OBJECT
		# shellcheck disable=SC2046
		got=$(lab_curl client2 -f $(client_port "$mode" "$web") "$(http_base "$mode")$(rotate_path "$mode" "$web")" |
			sha256sum | cut -d' ' -f1)
		[[ $got == "$(lab_sha256 "$p")" ]] || die "$mode: $(rotate_path "$mode" "$web") did not come back as $p"
	done
	code=$(lab_curl client2 -o /dev/null -w '%{http_code}' "$(http_base "$mode")/no/such/thing" || true)
	[[ $code == 404 ]] || die "$mode: /no/such/thing answered $code, not 404"
}

# --- measuring around a workload ------------------------------------------------------

# lb_counters: "decisions fast_path_packets fast_path_bytes diverted_packets
# diverted_bytes" from `latebind status` (zeros when latebind is not running:
# no XDP program, or the ceiling's, which has no process).
lb_counters() {
	if [[ -z $XDP_ID || -z $BAL_PID ]]; then
		echo 0 0 0 0 0
		return
	fi
	lab_exec_bpf balancer "$LAB_LATEBIND" status | awk '
		/^Dispatcher:/ { d = 1 }
		d && $1 == "decisions" { dec = $2 }
		!d && $1 == "tx_fast_path" { fp = $2; fb = $3 }
		!d && $1 == "tx_diverted" { dp = $2; db = $3 }
		END { print dec + 0, fp + 0, fb + 0, dp + 0, db + 0 }'
}

# measure_begin: balancer CPU, interface bytes, latebind's counters, and BPF run
# time (in the background).
measure_begin() {
	local ids=() id
	M_CPU0=0
	if [[ -n $BAL_PID ]]; then M_CPU0=$(proc_cpu "$BAL_PID"); fi
	M_BYTES0=$(bal_if_bytes)
	M_LB0=$(lb_counters)
	for id in "${TC_PROG_IDS[@]}" $XDP_ID; do ids+=(--prog-id "$id"); done
	"$PROGSTAT" --seconds 600 "${ids[@]}" >"$OUT/progstat.out" 2>&1 &
	PROGSTAT_PID=$!
	sleep 0.05 # it reads the counters first thing
}

# measure_end: sets M_CPU M_RX M_TX M_XDP_NS M_XDP_RUNS M_TC_NS M_TC_RUNS M_LB.
measure_end() {
	local b0 b1 l0 l1 i
	kill -TERM "$PROGSTAT_PID" 2>/dev/null || true
	wait "$PROGSTAT_PID" || die "progstat failed: $(cat "$OUT/progstat.out")"
	PROGSTAT_PID=
	M_CPU=0
	if [[ -n $BAL_PID ]]; then
		M_CPU=$(awk -v a="$M_CPU0" -v b="$(proc_cpu "$BAL_PID")" 'BEGIN { printf "%.2f", b - a }')
	fi
	read -ra l0 <<<"$M_LB0"
	read -ra l1 <<<"$(lb_counters)"
	M_LB=
	for i in 0 1 2 3 4; do M_LB+=$'\t'$((l1[i] - l0[i])); done
	M_LB=${M_LB#$'\t'}
	read -ra b0 <<<"$M_BYTES0"
	read -ra b1 <<<"$(bal_if_bytes)"
	M_RX=$((b1[0] - b0[0]))
	M_TX=$((b1[1] - b0[1]))
	read -r M_XDP_NS M_XDP_RUNS M_TC_NS M_TC_RUNS < <(awk -v x="${XDP_ID:-none}" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		  if (f["prog_id"] == x) { xn += f["run_time_ns"]; xr += f["runs"] }
		  else { tn += f["run_time_ns"]; tr += f["runs"] } }
		END { printf "%.0f %.0f %.0f %.0f\n", xn, xr, tn, tr }' "$OUT/progstat.out")
}

# record ROUND MODE WORKLOAD SECONDS REQUESTS BYTES ERRORS P50 P90 P99 [TTFB-P50
# TTFB-P99 [NON-2XX WRONG-BODIES STATUSES CHANGED COMPARED]] (after measure_end)
record() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"${@:1:10}" "$M_CPU" "$M_RX" "$M_TX" "$M_XDP_NS" "$M_XDP_RUNS" "$M_TC_NS" "$M_TC_RUNS" "$M_LB" \
		"${11:-0}" "${12:-0}" "${13:-0}" "${14:-0}" "${15:--}" "${16:-0}" "${17:-0}" >>"$HTTP_RAW"
}

# $HTTP_RAW columns: 1 round, 2 mode, 3 workload, 4 seconds, 5 requests (big:
# transfers), 6 bytes received by the clients, 7 errors, 8-10 p50/p90/p99 µs
# (unloaded: curl's whole time; close, keepalive: wrk's; big: per transfer),
# 11 balancer process CPU s, 12 balancer eth0 rx bytes, 13 tx bytes, 14 XDP
# program ns, 15 XDP runs, 16 backend TC programs ns, 17 their runs; latebind's
# counters: 18 dispatcher decisions, 19/20 fast-path packets/bytes (client →
# backend, forwarded), 21/22 diverted packets/bytes (backend FIN/RST → client);
# 23/24 p50/p99 µs to the first byte (unloaded only: curl's time_starttransfer,
# connection setup and hand-off included; 0 elsewhere); rotate and rotate1 only
# (0 or - elsewhere): 25 non-2xx responses, 26 2xx responses with a wrong body,
# 27 the non-2xx statuses (CODE:N,...; - if none), 28/29 of the requests web1
# logged with one before them on their connection (direct mode only), how many
# asked for another backend's object than that one / how many there were.
# Errors (7) are socket errors plus, for rotate and rotate1, 25 and 26;
# elsewhere plus wrk's count of statuses > 399.

# --- workloads ------------------------------------------------------------------------

# unloaded ROUND MODE: sequential requests, each on a new connection (curl reads
# Connection: close and opens a new one for the next URL of its glob).
w_unloaded() {
	local round=$1 mode=$2 f=$OUT/unloaded.txt t0 t1 ok
	measure_begin
	t0=$EPOCHREALTIME
	lab_exec client1 timeout -k 5 60 curl -s --connect-timeout 3 --max-time 5 -H 'Connection: close' \
		-w '%{stderr}%{http_code} %{time_connect} %{time_total} %{size_download} %{time_starttransfer}\n' \
		"$(http_base "$mode")/web1/1k.bin?n=[1-$UNLOADED_SAMPLES]" >/dev/null 2>"$f" || true
	t1=$EPOCHREALTIME
	measure_end
	ok=$(awk '$1 == 200' "$f" | wc -l)
	((ok > 0)) || die "$mode unloaded: no request succeeded: $(head -n 3 "$f")"
	record "$round" "$mode" unloaded "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
		"$ok" "$(awk '$1 == 200 { s += $4 } END { print s + 0 }' "$f")" "$((UNLOADED_SAMPLES - ok))" \
		"$(awk '$1 == 200 { print $3 * 1e6 }' "$f" | pct 50)" \
		"$(awk '$1 == 200 { print $3 * 1e6 }' "$f" | pct 90)" \
		"$(awk '$1 == 200 { print $3 * 1e6 }' "$f" | pct 99)" \
		"$(awk '$1 == 200 { print $5 * 1e6 }' "$f" | pct 50)" \
		"$(awk '$1 == 200 { print $5 * 1e6 }' "$f" | pct 99)"
}

# lb_failures: the balancer's counters that tell why a request failed (its own
# answers, a replay given up, a full ring, a reset), the non-zero ones: for the
# log of a mode that had errors, since a quick run's report only counts them.
lb_failures() {
	lab_exec_bpf balancer "$LAB_LATEBIND" status 2>/dev/null | awk '
		$1 ~ /^(reply_[45][0-9][0-9]|reply_abandoned|replay_failed|replay_retransmits|tx_full|conns_evicted|flows_reset|tx_client_reset|stays_busy|rebind_failed)$/ && $2 > 0 {
			printf "%s%s %s", sep, $1, $2; sep = ", " }
		END { if (sep == "") printf "none" }'
}

# w_wrk ROUND MODE close|keepalive|rotate|rotate1: close and keepalive ask for
# /web1/1k.bin (bench/wrk-report.lua); rotate and rotate1 (one connection) ask
# for every backend's object in turn on each connection (bench/wrk-rotate.lua)
# and count the statuses: non-2xx responses are counted, not fatal (a balancer
# that sends all of a connection's requests to one backend gets 404s from it;
# the report flags that mode's figures), but a 2xx with the wrong bytes fails
# the run.
w_wrk() {
	local round=$1 mode=$2 kind=$3 out line st web log mark=0 changes=(0 0)
	local url script=$WRK_LUA hdr=() args=() sock status_errs non2xx=0 wrong=0 statuses=-
	local threads=$WRK_THREADS conns=$WRK_CONNS
	url="$(http_base "$mode")/web1/1k.bin"
	case $kind in
	close) hdr=(-H 'Connection: close') ;;
	rotate | rotate1)
		if [[ $kind == rotate1 ]]; then threads=1 conns=1; fi
		script=$WRK_ROTATE_LUA
		url="$(http_base "$mode")/"
		args=(-- "per_thread=$((conns / threads))")
		for web in "${LAB_WEBS[@]}"; do
			args+=("$(rotate_path "$mode" "$web")=$LAB_RUN/$web/html/$web/$ROTATE_OBJECT")
		done
		log=$(lab_access_log web1)
		if [[ $mode == direct ]]; then mark=$(lab_log_mark "$log"); fi
		;;
	esac
	measure_begin
	out=$(lab_exec client1 timeout -k 5 $((HTTP_SECONDS + 30)) wrk -t"$threads" -c"$conns" \
		-d"${HTTP_SECONDS}s" --timeout 5s -s "$script" "${hdr[@]}" "$url" "${args[@]}" 2>&1) || true
	measure_end
	line=$(grep '^requests=' <<<"$out") || die "$mode $kind: wrk gave no result: $(tail -n 3 <<<"$out")"
	[[ $(kv requests "$line") -gt 0 ]] || die "$mode $kind: wrk completed no request"
	sock=$(($(kv connect_err "$line") + $(kv read_err "$line") + $(kv write_err "$line") + $(kv timeout_err "$line")))
	((sock == 0)) || say "round $round $mode $kind: socket errors:" \
		"connect $(kv connect_err "$line"), read $(kv read_err "$line")," \
		"write $(kv write_err "$line"), timeout $(kv timeout_err "$line")"
	status_errs=$(kv status_err "$line")
	if ((sock + status_errs)) && [[ $mode == latebind || $mode == replay ]]; then
		say "round $round $mode $kind: $((sock + status_errs)) failed request(s);" \
			"the balancer's failure counters so far: $(lb_failures)"
	fi
	if [[ $kind == rotate* ]]; then
		st=$(grep '^status_2xx=' <<<"$out") || die "$mode $kind: wrk-rotate.lua gave no status line: $(tail -n 3 <<<"$out")"
		non2xx=$(kv non2xx "$st")
		wrong=$(kv wrong_body "$st")
		statuses=$(kv statuses "$st")
		((wrong == 0)) || die "$mode $kind: $wrong responses were 2xx with bytes that are none of the objects asked for"
		status_errs=$((non2xx + wrong))
		if [[ $mode == direct ]]; then read -ra changes <<<"$(rotate_changes "$log" "$mark")"; fi
	fi
	record "$round" "$mode" "$kind" "$(awk -v d="$(kv duration_us "$line")" 'BEGIN { printf "%.3f", d / 1e6 }')" \
		"$(kv requests "$line")" "$(kv bytes "$line")" "$((sock + status_errs))" \
		"$(kv p50_us "$line")" "$(kv p90_us "$line")" "$(kv p99_us "$line")" 0 0 \
		"$non2xx" "$wrong" "$statuses" "${changes[0]}" "${changes[1]}"
}

# w_big ROUND MODE: 2 × BIG_PER_CLIENT transfers at once, alternating clients,
# web1, web2, web3 in turn (/webN/ is only on webN, so every mode sends each
# transfer to the same backend). Throughput: all bytes over the wall time from
# the first start to the last finish.
w_big() {
	local round=$1 mode=$2 n=$((2 * BIG_PER_CLIENT)) k node web t0 t1 pid want bad
	want=$(stat -c %s "$LAB_RUN/web1/html/web1/$BIG_FILE")
	measure_begin
	BG_PIDS=()
	t0=$EPOCHREALTIME
	for ((k = 0; k < n; k++)); do
		node=${LAB_CLIENTS[k % 2]}
		web=web$((k % 3 + 1))
		# shellcheck disable=SC2046 # an option and its value, or nothing
		(exec ip netns exec "$(lab_ns "$node")" curl -s --connect-timeout 3 --max-time 120 \
			$(client_port "$mode" "$web") -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' \
			"$(http_base "$mode" "$web")/$web/$BIG_FILE" >"$OUT/big.$k" 2>&1) &
		BG_PIDS+=($!)
	done
	for pid in "${BG_PIDS[@]}"; do wait "$pid" || true; done
	t1=$EPOCHREALTIME
	BG_PIDS=()
	measure_end
	bad=0
	for ((k = 0; k < n; k++)); do
		read -r code size _ <"$OUT/big.$k" || true
		if [[ ${code:-} != 200 || ${size:-} != "$want" ]]; then bad=$((bad + 1)); fi
	done
	((bad < n)) || die "$mode big: no transfer completed: $(cat "$OUT/big.0")"
	record "$round" "$mode" big "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
		"$n" "$(cat "$OUT"/big.[0-9]* | awk '$1 == 200 { s += $2 } END { print s + 0 }')" "$bad" \
		"$(cat "$OUT"/big.[0-9]* | awk '{ print $3 * 1e6 }' | pct 50)" \
		"$(cat "$OUT"/big.[0-9]* | awk '{ print $3 * 1e6 }' | pct 90)" \
		"$(cat "$OUT"/big.[0-9]* | awk '{ print $3 * 1e6 }' | pct 99)"
	rm -f "$OUT"/big.[0-9]*
}

# --- the section ------------------------------------------------------------------------

# napi_threaded 0|1: the switch's port of the balancer's link receives in a
# NAPI kernel thread of its own (1) or in the sender's context (0, veth's way).
# In the sender's context, the whole receiving side (bridge, the backend's TC
# programs and TCP, nginx's wake-up) runs inside the balancer's own transmit
# call (latebind's poll(), HAProxy's send()) and is billed to its process, where
# a NIC would hand the frame to another host; in a thread it costs a wake-up
# per batch that a NIC would not. Neither
# is a NIC: BENCH_NAPI_THREADED=1 (http and threads sections) shows the
# balancer's own CPU, the default (0) keeps the figures comparable with the
# earlier runs. The xdp and cluster sections always run with it off.
napi_threaded() {
	lab_exec switch sh -c "echo $1 > /sys/class/net/$BALANCER_PEER/threaded" ||
		die "could not set NAPI threaded=$1 on the switch's $BALANCER_PEER"
}

http_setup() {
	local node
	if ((NAPI_THREADED)); then napi_threaded 1; fi
	# wrk makes thousands of connections a second from one address. Where the
	# client closes first (latebind: a backend's bare FIN comes the long way, by
	# the balancer, and wrk, which has the whole answer, closes before it) its
	# side keeps them in TIME_WAIT for a minute, and a few rounds of that used
	# up the 28 000 ports: connect() crawled, 10x slower in every mode alike,
	# until they timed out. Reuse them, as load generators do (timestamps make
	# it safe).
	for node in "${LAB_CLIENTS[@]}"; do lab_exec "$node" sysctl -qw net.ipv4.tcp_tw_reuse=1; done
	: >"$HTTP_RAW"
	: >"$HAPROXY_LOG"
	: >"$OUT/attach.log"
	lab_cookie_key
	rotate_content
	backends_attach cookie
	lab_balancer_config
	haproxy_config
	# shellcheck disable=SC2034 # both used by run.sh's report
	HAPROXY_VERSION=$(haproxy -v | awk 'NR == 1 { print $3 }')
	# shellcheck disable=SC2034
	WRK_VERSION=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print $2 }')
}

http_section() {
	local round mode i n=${#HTTP_MODES[@]} modes
	say "http: $HTTP_ROUNDS round(s) of ${HTTP_MODES[*]} (order rotated per round):" \
		"$UNLOADED_SAMPLES unloaded requests, wrk ${HTTP_SECONDS} s close + keep-alive + rotated keep-alive" \
		"($WRK_CONNS connections, then one)," \
		"$((2 * BIG_PER_CLIENT)) × $BIG_FILE"
	for ((round = 1; round <= HTTP_ROUNDS; round++)); do
		modes=()
		for ((i = 0; i < n; i++)); do modes+=("${HTTP_MODES[(i + round - 1) % n]}"); done
		for mode in "${modes[@]}"; do
			http_mode_start "$mode"
			http_verify "$mode"
			if [[ $mode != ceiling ]]; then
				w_unloaded "$round" "$mode"
				w_wrk "$round" "$mode" close
			fi
			if [[ $mode != replay && $mode != ceiling ]]; then
				w_wrk "$round" "$mode" keepalive
				w_wrk "$round" "$mode" rotate
				w_wrk "$round" "$mode" rotate1
			fi
			if [[ $mode != replay ]]; then w_big "$round" "$mode"; fi
			http_mode_stop "$mode"
			awk -F'\t' -v r="$round" -v m="$mode" '$1 == r && $2 == m {
				if ($3 == "unloaded") u = sprintf("unloaded p50 %.0f µs", $8)
				else if ($3 == "close") c = sprintf("close %.0f/s p50 %.0f µs", $5 / $4, $8)
				else if ($3 == "keepalive") k = sprintf("keep-alive %.0f/s", $5 / $4)
				else if ($3 == "rotate") g = sprintf("rotated %.0f/s p50 %.0f µs, %d non-2xx", $5 / $4, $8, $25) g
				else if ($3 == "rotate1") g = g sprintf(" (one connection p50 %.0f µs, %d non-2xx)", $8, $25)
				else if ($3 == "big") b = sprintf("big %.0f MB/s", $6 / $4 / 1e6) ($15 ? sprintf(" (XDP %.0f ns/packet)", $14 / $15) : "")
			} END {
				n = split("u c k g b", order, " "); part["u"] = u; part["c"] = c; part["k"] = k; part["g"] = g; part["b"] = b
				for (i = 1; i <= n; i++) if (part[order[i]] != "") l = l (l == "" ? "" : "; ") part[order[i]]
				printf "bench: round %d %-8s %s\n", r, m, l
			}' "$HTTP_RAW"
		done
	done
}

# http_cleanup: whatever the section started, by PID (from run.sh's cleanup).
http_cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	BG_PIDS=()
	if [[ -n $PROGSTAT_PID ]]; then
		kill -TERM "$PROGSTAT_PID" 2>/dev/null || true
		wait "$PROGSTAT_PID" 2>/dev/null || true
		PROGSTAT_PID=
	fi
	haproxy_stop
	ceiling_stop || true
	lab_balancer_stop >/dev/null 2>&1 || true
}
