# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # constants used by the files that source this
#
# Shared by lab.sh, run.sh and every tests/lab/test_*.sh: the lab's names,
# addresses and MACs, and a few helpers. Source it; it defines, it does nothing.
#
# Test files are sourced by run.sh in a fresh bash with this file already
# loaded. They record results with check / check_eq / check_match (one line
# each: "ok - NAME" or "FAIL - NAME: detail") and should exit 0: a non-zero exit
# counts as one more failure.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_ROOT=$(cd "$LAB_DIR/../.." && pwd)
LAB_PREFIX=${LB_LAB_PREFIX:-lbl}
if [[ $LAB_PREFIX == lbl ]]; then
	LAB_RUN=/run/latebind-lab
else
	LAB_RUN=/run/latebind-lab-$LAB_PREFIX
fi
LAB_MANIFEST=$LAB_RUN/manifest.sha256 # "SHA256  path" (path relative to URL root)
LAB_HOLDERS=$LAB_RUN/holders          # "path web1 web2 ..." for every served file
LAB_XDP_PASS=$LAB_ROOT/build/xdp_pass.bpf.o

# The hand-off mode the lab's backends run (docs/config.md: cookie or replay, per
# backend): cookie, replay, or mixed (web1 and web3 replay, web2 cookie, so a
# replicated resource is handed to either kind). Tests ask lab_handoff_of.
LAB_HANDOFF_MODE=${LB_LAB_HANDOFF:-cookie}

# Addresses (documentation ranges only).
VIP=192.0.2.80
VIP_PORT=80
CLIENT1_IP=203.0.113.10
CLIENT2_IP=203.0.113.11
ROUTER_CLIENT_IP=203.0.113.1
ROUTER_SITE_IP=198.51.100.1
BALANCER_IP=198.51.100.2
BALANCER2_IP=198.51.100.3 # the second balancer (tests/lab/cluster.sh), when there is one
WEB1_IP=198.51.100.11
WEB2_IP=198.51.100.12
WEB3_IP=198.51.100.13

# MACs 02:00:00:00:SS:HH. SS: 01 client LAN, 02 site segment, 11 the router's
# client-LAN bridge ports, 12 the switch's br0 ports. HH: the host's last
# address octet written as hex digits (web1 .11 -> 11), or 01 for the router.
CLIENT1_MAC=02:00:00:00:01:10
CLIENT2_MAC=02:00:00:00:01:11
ROUTER_CLIENT_MAC=02:00:00:00:01:01 # lan0, the router's client-side bridge
ROUTER_SITE_MAC=02:00:00:00:02:01   # the router's eth0
BALANCER_MAC=02:00:00:00:02:02
BALANCER2_MAC=02:00:00:00:02:03
WEB1_MAC=02:00:00:00:02:11
WEB2_MAC=02:00:00:00:02:12
WEB3_MAC=02:00:00:00:02:13

# Namespaces. Interfaces: eth0 in clients, balancer and backends; the router
# has eth0 (site side) and bridge lan0 (ports lan-client1/2); the switch has
# bridge br0 with ports sw-router, sw-balancer, sw-web1..3 (the peers of the
# site-side eth0s, each with the XDP pass program). balancer2 and its port
# sw-balancer2 exist only while tests/lab/cluster.sh has added them.
CLIENT1_NS=$LAB_PREFIX-client1
CLIENT2_NS=$LAB_PREFIX-client2
ROUTER_NS=$LAB_PREFIX-router
SWITCH_NS=$LAB_PREFIX-switch
BALANCER_NS=$LAB_PREFIX-balancer
BALANCER2_NS=$LAB_PREFIX-balancer2
WEB1_NS=$LAB_PREFIX-web1
WEB2_NS=$LAB_PREFIX-web2
WEB3_NS=$LAB_PREFIX-web3
LAB_IF=eth0
SWITCH_BR=br0
BALANCER_PEER=sw-balancer
BALANCER2_PEER=sw-balancer2
LAB_BALANCER_QUEUES=${LAB_BALANCER_QUEUES:-2} # RX/TX queues of the balancer's link (lab.sh)
LAB_NODES=(client1 client2 router switch balancer web1 web2 web3)
LAB_CLIENTS=(client1 client2)
# Client ports tests pick themselves (reserved: no ephemeral port is one of them).
LAB_CLIENT_FIXED_PORTS=41000-41099
LAB_WEBS=(web1 web2 web3)

# lab_var NODE FIELD: the variable NODE_FIELD, e.g. lab_var web2 IP -> WEB2_IP.
lab_var() {
	local v="${1^^}_$2"
	printf '%s\n' "${!v}"
}
lab_ip() { lab_var "$1" IP; }
# lab_handoff_of NODE: the hand-off mode of backend NODE in this lab's mode.
lab_handoff_of() {
	case $LAB_HANDOFF_MODE in
	mixed) if [[ $1 == web2 ]]; then echo cookie; else echo replay; fi ;;
	*) echo "$LAB_HANDOFF_MODE" ;;
	esac
}
# lab_handoff_valid MODE: one of the modes above.
lab_handoff_valid() { [[ $1 =~ ^(cookie|replay|mixed)$ ]]; }
lab_mac() { lab_var "$1" MAC; }
# lab_ns NODE: full namespace name; accepts "web1" or "lbl-web1".
lab_ns() {
	if [[ $1 == "$LAB_PREFIX"-* ]]; then echo "$1"; else echo "$LAB_PREFIX-$1"; fi
}
# Per-node bpffs (balancer and backends), mounted by lab.sh up, so that pins
# survive between commands; readable from the root namespace too (bpftool).
lab_bpffs() {
	local ns
	ns=$(lab_ns "$1")
	echo "$LAB_RUN/bpffs/${ns#"$LAB_PREFIX"-}"
}
lab_access_log() { echo "$LAB_RUN/$1/access.log"; }

# pid_alive PID: the process exists and is not a zombie (dead, waiting for its
# reaper, which may be an init we do not control).
pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}
pid_gone() { ! pid_alive "$1"; }

# lab_stop_pids SECONDS PID...: processes we started, by PID: TERM to all, up
# to SECONDS each to go, then KILL; reaped when they are this shell's children.
# LAB_STOP_STATUS gets the last one's exit status (when it was a child; else 127).
lab_stop_pids() {
	local secs=$1 pid
	shift
	for pid; do
		pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for pid; do
		lab_wait "$secs" pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
		LAB_STOP_STATUS=0
		wait "$pid" 2>/dev/null || LAB_STOP_STATUS=$?
	done
	return 0
}

# lab_exec NODE CMD...: run CMD in the node's network namespace.
lab_exec() {
	local ns
	ns=$(lab_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# lab_site_sockets NODE [SS-OPTION...]: NODE's TCP sockets of the site's port
# that are neither listening nor in TIME-WAIT (ss -tanH; with -K, destroyed).
lab_site_sockets() {
	local node=$1
	shift
	lab_exec "$node" ss -tanH "$@" exclude listening exclude time-wait \
		"( sport = :$VIP_PORT or dport = :$VIP_PORT )"
}

# lab_open_connections [NODE...]: lab_site_sockets of each NODE (default: the
# clients and backends), one line each, prefixed by the node.
lab_open_connections() {
	local n nodes=("$@")
	((${#nodes[@]})) || nodes=("${LAB_CLIENTS[@]}" "${LAB_WEBS[@]}")
	for n in "${nodes[@]}"; do
		lab_site_sockets "$n" 2>/dev/null | sed "s/^/$n: /"
	done
}

# lab_exec_bpf NODE CMD...: like lab_exec, with a bpffs on /sys/fs/bpf (ip netns
# exec remounts /sys, so it is not there otherwise). Nodes with a lab bpffs get
# it bind-mounted, so pins persist and `latebind status` finds them later;
# other nodes get a fresh bpffs that lives as long as the command.
lab_exec_bpf() {
	local ns fs
	ns=$(lab_ns "$1")
	fs=$(lab_bpffs "$ns")
	shift
	if mountpoint -q "$fs" 2>/dev/null; then
		# shellcheck disable=SC2016 # expanded by the inner sh
		ip netns exec "$ns" sh -c 'mount --bind "$0" /sys/fs/bpf && exec "$@"' "$fs" "$@"
	else
		# shellcheck disable=SC2016
		ip netns exec "$ns" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh "$@"
	fi
}

# lab_veth NODE1 IF1 MAC1 NODE2 IF2 MAC2 [QUEUES]: a pair between two
# namespaces, both up, each end with QUEUES RX and TX queues (default 1).
lab_veth() {
	local q=${7:-1}
	ip -n "$(lab_ns "$1")" link add name "$2" address "$3" numtxqueues "$q" numrxqueues "$q" \
		type veth peer name "$5" address "$6" netns "$(lab_ns "$4")" \
		numtxqueues "$q" numrxqueues "$q" || return
	ip -n "$(lab_ns "$1")" link set "$2" up
	ip -n "$(lab_ns "$4")" link set "$5" up
	# Our programs rewrite and build packets on these links.
	lab_exec "$1" ethtool -K "$2" tx off rx off >/dev/null
	lab_exec "$4" ethtool -K "$5" tx off rx off >/dev/null
}

# lab_attach_pass NODE DEV: the XDP pass program on DEV, native if it can be.
# XDP_TX/REDIRECT into a veth is only delivered if the peer runs XDP.
# LAB_XDP_MODE says which mode the last one got (native or generic).
LAB_XDP_MODE=
lab_attach_pass() {
	local ns
	ns=$(lab_ns "$1")
	if ip -n "$ns" link set dev "$2" xdpdrv obj "$LAB_XDP_PASS" sec xdp 2>/dev/null; then
		LAB_XDP_MODE=native
	else
		ip -n "$ns" link set dev "$2" xdpgeneric obj "$LAB_XDP_PASS" sec xdp || return
		LAB_XDP_MODE=generic
	fi
}

# lab_nginx_access_log NAME DIR: the http-block lines of the lab's access log,
# DIR/access.log, one line per request: who served it (NAME), to whom, on which
# address (real or VIP), status, bytes, connection and its request count. The
# lab's tests read that format (lab_access_log and their greps).
lab_nginx_access_log() {
	printf '%s\n' "log_format lab '\$msec $1 \$remote_addr:\$remote_port -> \$server_addr:\$server_port '" \
		"	'\"\$request\" \$status \$body_bytes_sent conn=\$connection req=\$connection_requests';" \
		"access_log $2/access.log lab;"
}

# lab_nginx_temp_paths DIR: the http-block lines that keep an nginx's temporary
# files under DIR/tmp (its own, not the distribution's directories).
lab_nginx_temp_paths() {
	local t
	for t in client_body proxy fastcgi uwsgi scgi; do
		echo "${t}_temp_path $1/tmp/${t#client_};"
	done
}

# lab_nginx_conf NAME DIR [DIRECTIVES]: DIR/nginx.conf for an nginx a test adds
# (named NAME in its access log, DIR/access.log, in the lab's format), serving
# DIR/html on port 80; DIRECTIVES go into its http block. Start it with
# lab_nginx_start; it writes DIR/nginx.pid.
lab_nginx_conf() {
	local name=$1 dir=$2
	mkdir -p "$dir/html" "$dir/tmp"
	cat >"$dir/nginx.conf" <<-EOF
	# latebind lab: $name (written by a lab test)
	user root;
	worker_processes 1;
	daemon on;
	pid $dir/nginx.pid;
	error_log $dir/error.log warn;
	events { worker_connections 1024; }
	http {
		default_type application/octet-stream;
		sendfile on;
		keepalive_requests 1000;
		${3:-}
		$(lab_nginx_temp_paths "$dir")
		$(lab_nginx_access_log "$name" "$dir")
		server { listen 80 default_server; root $dir/html; }
	}
	EOF
}

# lab_nginx_start NODE DIR: the nginx of lab_nginx_conf, in NODE's namespace.
lab_nginx_start() {
	lab_exec "$1" nginx -q -e "$2/error.log" -p "$2" -c "$2/nginx.conf"
}

# lab_curl NODE ARGS...: curl from NODE, quiet, with bounded timeouts.
lab_curl() {
	local node=$1
	shift
	lab_exec "$node" curl -sS --connect-timeout 3 --max-time "${LAB_CURL_TIMEOUT:-20}" "$@"
}

# lab_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds or about
# SECONDS (whole seconds) have passed.
lab_wait() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# lab_sha256 PATH: the manifest's SHA-256 of a URL path ("/web1/1k.bin").
lab_sha256() {
	awk -v p="${1#/}" '$2 == p { print $1 }' "$LAB_MANIFEST"
}

# --- results ---------------------------------------------------------------
# Every result is one line on stdout; run.sh also counts them in $LAB_RESULTS.
LAB_PASSED=0
LAB_FAILED=0

# LAB_RESULT_PREFIX (set by run.sh for the replay and mixed passes, e.g.
# "replay: ") goes before every name, so the same check in two modes reads as two.
lab_pass() {
	echo "ok - ${LAB_RESULT_PREFIX:-}$1"
	LAB_PASSED=$((LAB_PASSED + 1))
	if [[ -n ${LAB_RESULTS:-} ]]; then echo ok >>"$LAB_RESULTS"; fi
}

# lab_fail NAME DETAIL [OUTPUT]: OUTPUT (if any) is shown below, indented.
lab_fail() {
	local detail=${2//$'\n'/ | }
	echo "FAIL - ${LAB_RESULT_PREFIX:-}$1: ${detail:0:300}"
	if [[ -n ${3:-} ]]; then head -n 20 <<<"$3" | sed 's/^/#   /'; fi
	LAB_FAILED=$((LAB_FAILED + 1))
	if [[ -n ${LAB_RESULTS:-} ]]; then echo FAIL >>"$LAB_RESULTS"; fi
}

# check NAME CMD...: passes if CMD exits 0 (its output is shown on failure).
# CMD runs in this shell, so a function may set variables or wait for children.
check() {
	local name=$1 out rc=0 tmp
	shift
	tmp=$(mktemp /tmp/latebind-lab-check.XXXXXX)
	"$@" >"$tmp" 2>&1 || rc=$?
	out=$(cat "$tmp")
	rm -f "$tmp"
	if ((rc == 0)); then
		lab_pass "$name"
	else
		lab_fail "$name" "'$*' exited $rc" "$out"
	fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [[ $2 == "$3" ]]; then
		lab_pass "$1"
	else
		lab_fail "$1" "expected '$2', got '$3'"
	fi
}

# lab_missing WHAT: record a failure for a value a helper could not read (a
# renamed counter, a changed status format), from any subshell: the caller's
# comparison must never pass on a stand-in 0. Prints a non-number on stdout.
lab_missing() {
	echo "FAIL - ${LAB_RESULT_PREFIX:-}missing value: $1" >&2
	if [[ -n ${LAB_RESULTS:-} ]]; then echo FAIL >>"$LAB_RESULTS"; fi
	echo "missing($1)"
	return 1
}

# lab_number WHAT VALUE: VALUE if it is a whole number, else lab_missing WHAT.
lab_number() {
	if [[ $2 =~ ^-?[0-9]+$ ]]; then echo "$2"; else lab_missing "$1"; fi
}

# grew BEFORE AFTER NAME: how much NAME grew between two snapshots, associative
# arrays of counter name -> value. A name missing from either is a failure.
grew() {
	local -n _a=$1 _b=$2
	if [[ ! ${_a[$3]+set} || ! ${_b[$3]+set} ]]; then
		lab_missing "counter $3 in snapshot $1 or $2"
		return 1
	fi
	echo $((${_b[$3]} - ${_a[$3]}))
}

# lab_log_mark FILE: a mark (the file's size now) for lab_log_since.
lab_log_mark() { stat -c %s "$1" 2>/dev/null || echo 0; }
# lab_log_since FILE MARK: what FILE gained after MARK, so a check reads only the
# lines its own action caused.
lab_log_since() { tail -c +$(($2 + 1)) "$1" 2>/dev/null; }

# lab_browser_widths DIR URL: headless chromium on client1 loads URL (a lab page
# whose script writes its images' naturalWidth into <pre id="widths">) and
# prints "STATUS WIDTHS" (chromium's exit status, then that text; its profile
# and DOM under DIR). The page's own script is what loads and measures.
lab_browser_widths() {
	local dir=$1 url=$2 rc=0
	mkdir -p "$dir/chromium-home"
	HOME=$dir/chromium-home lab_exec client1 timeout -k 5 20 chromium --headless --no-sandbox \
		--disable-gpu --disable-dev-shm-usage --user-data-dir="$dir/chromium-home/profile" \
		--virtual-time-budget=10000 --dump-dom "$url" >"$dir/page.dom" 2>"$dir/chromium.err" || rc=$?
	((rc == 0)) || tail -n 5 "$dir/chromium.err" | sed 's/^/#   /' >&2
	echo "$rc $(sed -n 's|.*<pre id="widths">\([^<]*\)</pre>.*|\1|p' "$dir/page.dom")"
}
# lab_log_has FILE MARK REGEX: a line written after MARK matches REGEX (lab_wait).
lab_log_has() { lab_log_since "$1" "$2" | grep -qaE -- "$3"; }

# check_match NAME REGEX TEXT: TEXT matches the (extended) regular expression.
check_match() {
	if [[ $3 =~ $2 ]]; then
		lab_pass "$1"
	else
		lab_fail "$1" "no match for /$2/ in: ${3:0:200}"
	fi
}

# lab_minus A B: A - B when both are whole numbers, else "missing": arithmetic
# on a value a helper could not read fails its check instead of the shell.
lab_minus() {
	if [[ $1 =~ ^-?[0-9]+$ && $2 =~ ^-?[0-9]+$ ]]; then echo $(($1 - $2)); else echo missing; fi
}
# lab_now_ms: a clock in milliseconds, for timing an event a test waited for.
lab_now_ms() { echo $(($(date +%s%N) / 1000000)); }
