#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The latebind lab: clients, a router, a switch, the balancer and three nginx
# backends, each in its own network namespace, wired as a real site and never
# linked to the root namespace.
#
#   client1 203.0.113.10 ─┐  router                  switch: br0
#   client2 203.0.113.11 ─┴─ lan0 203.0.113.1      ┌─ balancer 198.51.100.2 (eth0)
#                            eth0 198.51.100.1 ────┼─ web1 198.51.100.11 ┐ VIP 192.0.2.80
#                                                  ├─ web2 198.51.100.12 ├ on lo (DSR)
#                                                  └─ web3 198.51.100.13 ┘
#
# The router sends the VIP to the balancer; backends answer clients directly
# through the router. Names, addresses and MACs: tests/lab/lib.sh.
#
# usage: lab.sh up|down|status   (env LB_LAB_PREFIX, default "lbl")
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

say() { echo "lab: $*"; }
die() {
	echo "lab: $*" >&2
	exit 1
}

# Namespaces of this lab that exist now (including any a test added).
lab_present_ns() {
	ip netns list | awk -v p="$LAB_PREFIX-" 'index($1, p) == 1 { print $1 }'
}

# Every process in the lab's namespaces, nginx or anything a test left running.
lab_pids() {
	local ns
	for ns in $(lab_present_ns); do
		ip netns pids "$ns" 2>/dev/null || true
	done | sort -un
}

# --- down --------------------------------------------------------------------

alive_of() {
	local pid
	for pid; do
		if pid_alive "$pid"; then echo "$pid"; fi
	done
}
none_alive() { [[ -z $(alive_of "$@") ]]; }

# stop_pids PID...: SIGTERM, then SIGKILL what is left; bounded waits.
stop_pids() {
	local sig left=("$@")
	((${#left[@]})) || return 0
	for sig in TERM KILL; do
		kill -"$sig" "${left[@]}" 2>/dev/null || true
		lab_wait 5 none_alive "${left[@]}" && return 0
		mapfile -t left < <(alive_of "${left[@]}")
		say "still running after SIG$sig: ${left[*]}" >&2
	done
	return 1
}

lab_down() {
	local rc=0 pids f ns mnt
	# Processes first: a namespace outlives its name while anything runs in it.
	mapfile -t pids < <(
		lab_pids
		for f in "$LAB_RUN"/web*/nginx.pid; do
			[[ -f $f ]] && cat "$f"
		done
	)
	mapfile -t pids < <(printf '%s\n' "${pids[@]}" | grep -E '^[0-9]+$' | sort -un)
	stop_pids "${pids[@]}" || rc=1
	for ns in $(lab_present_ns); do
		ip netns del "$ns" || rc=1
	done
	if [[ -d $LAB_RUN ]]; then
		# The per-node bpffs mounts, deepest first.
		while read -r mnt; do
			umount "$mnt" 2>/dev/null || umount -l "$mnt" || rc=1
		done < <(awk -v r="$LAB_RUN/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
		[[ $LAB_RUN == /run/latebind-lab* ]] || die "refusing to remove $LAB_RUN"
		rm -rf --one-file-system "$LAB_RUN" || rc=1
	fi
	if ((rc)); then
		say "down: could not remove everything (see above)" >&2
	else
		say "down: $LAB_PREFIX lab removed"
	fi
	return "$rc"
}

# --- up ----------------------------------------------------------------------

# bridge NODE NAME MAC PORT...
bridge() {
	local node=$1 br=$2 mac=$3 port
	shift 3
	ip -n "$(lab_ns "$node")" link add name "$br" address "$mac" type bridge \
		stp_state 0 mcast_snooping 0
	for port in "$@"; do
		ip -n "$(lab_ns "$node")" link set "$port" master "$br"
	done
	ip -n "$(lab_ns "$node")" link set "$br" up
}

XDP_MODE=
build_network() {
	local node web ns
	for node in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$node")
		ip netns add "$ns"
		# No IPv6 chatter (RS, MLD, DAD) on the lab's links; set before links
		# exist so every new device inherits it.
		lab_exec "$node" sysctl -qew net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null
		ip -n "$ns" link set lo up
	done

	# Ports tests bind clients to (curl --local-port) are never given out as
	# ephemeral ones: an earlier connection's TIME_WAIT on one would fail the bind.
	for node in "${LAB_CLIENTS[@]}"; do
		lab_exec "$node" sysctl -qw "net.ipv4.ip_local_reserved_ports=$LAB_CLIENT_FIXED_PORTS"
	done

	# Client LAN: each client's eth0 is a port of lan0 in the router.
	lab_veth client1 "$LAB_IF" "$CLIENT1_MAC" router lan-client1 02:00:00:00:11:10
	lab_veth client2 "$LAB_IF" "$CLIENT2_MAC" router lan-client2 02:00:00:00:11:11
	bridge router lan0 "$ROUTER_CLIENT_MAC" lan-client1 lan-client2

	# Site segment: router, balancer and backends are ports of br0 in the switch.
	lab_veth router "$LAB_IF" "$ROUTER_SITE_MAC" switch sw-router 02:00:00:00:12:01
	# Two queues on the balancer's link, like a NIC's RSS: the switch's bridge
	# sends each flow out of the TX queue its hash picks (veth has no queue
	# selection of its own), and veth delivers it to the peer's RX queue of the
	# same number, so the balancer's XDP sees rx_queue_index 0 and 1, and one
	# connection always on the same one (docs/architecture.md, "Threads").
	lab_veth balancer "$LAB_IF" "$BALANCER_MAC" switch "$BALANCER_PEER" 02:00:00:00:12:02 \
		"$LAB_BALANCER_QUEUES"
	for web in "${LAB_WEBS[@]}"; do
		# Before eth0 exists, so it inherits them: never answer ARP for the VIP
		# (it is on lo), never announce it as an ARP source.
		lab_exec "$web" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.default.arp_ignore=1 net.ipv4.conf.default.arp_announce=2 \
			net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2 >/dev/null
		lab_veth "$web" "$LAB_IF" "$(lab_mac "$web")" switch "sw-$web" "02:00:00:00:12:1${web#web}"
	done
	bridge switch "$SWITCH_BR" 02:00:00:00:12:ff sw-router "$BALANCER_PEER" sw-web1 sw-web2 sw-web3
	for port in sw-router "$BALANCER_PEER" sw-web1 sw-web2 sw-web3; do
		lab_attach_pass switch "$port"
		# One mode for all: generic if any port needed it.
		[[ $XDP_MODE == generic ]] || XDP_MODE=$LAB_XDP_MODE
	done

	# Addresses and routes. The router has no default route: nothing leaves.
	for node in "${LAB_CLIENTS[@]}"; do
		ip -n "$(lab_ns "$node")" addr add "$(lab_ip "$node")/24" dev "$LAB_IF"
		ip -n "$(lab_ns "$node")" route add default via "$ROUTER_CLIENT_IP"
	done
	ip -n "$ROUTER_NS" addr add "$ROUTER_CLIENT_IP/24" dev lan0
	ip -n "$ROUTER_NS" addr add "$ROUTER_SITE_IP/24" dev "$LAB_IF"
	ip -n "$ROUTER_NS" route add "$VIP/32" via "$BALANCER_IP" dev "$LAB_IF"
	# No ICMP rate limit: unreachables (and PMTU errors) come every time, so
	# tests do not depend on what the previous test sent.
	lab_exec router sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 >/dev/null
	ip -n "$BALANCER_NS" addr add "$BALANCER_IP/24" dev "$LAB_IF"
	ip -n "$BALANCER_NS" route add default via "$ROUTER_SITE_IP"
	for web in "${LAB_WEBS[@]}"; do
		ns=$(lab_ns "$web")
		ip -n "$ns" addr add "$(lab_ip "$web")/24" dev "$LAB_IF"
		ip -n "$ns" addr add "$VIP/32" dev lo
		ip -n "$ns" route add default via "$ROUTER_SITE_IP"
		lab_exec "$web" sysctl -qw "net.ipv4.conf.$LAB_IF.arp_ignore=1" \
			"net.ipv4.conf.$LAB_IF.arp_announce=2" >/dev/null
	done

	# A bpffs per BPF-loading node that outlives single commands (lab_exec_bpf).
	for node in balancer "${LAB_WEBS[@]}"; do
		mkdir -p "$(lab_bpffs "$node")"
		mount -t bpf bpf "$(lab_bpffs "$node")"
	done
}

random_file() { head -c "$2" /dev/urandom >"$1"; }

# A page on web1 whose images are on web1, web2 and web3. Its script loads them
# one after another, so the browser asks for each on the connection the page
# came on (idle again by then), and writes each image's naturalWidth (0: it did
# not load) into the document, where --dump-dom shows it.
keepalive_page() {
	cat <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8"><title>keep-alive</title><link rel="icon" href="data:,"></head>
<body>
<pre id="widths">loading</pre>
<script>
var holders = ["web1", "web2", "web3"], seen = [];
function load(i) {
	if (i == holders.length) {
		document.getElementById("widths").textContent = "widths " + seen.join(" ");
		return;
	}
	var img = new Image();
	img.onload = img.onerror = function () {
		seen.push(holders[i] + "=" + img.naturalWidth);
		document.body.appendChild(img);
		load(i + 1);
	};
	img.src = "/" + holders[i] + "/ka/dot.svg";
}
load(0);
</script>
</body></html>
HTML
}

# Document roots: /webN/ only on webN, /pair/ on web1+web2, /shared/ on all.
# Replicated files are hard links of one copy (same bytes, same ETag).
build_content() {
	local web html path holders
	for web in "${LAB_WEBS[@]}"; do
		html=$LAB_RUN/$web/html
		mkdir -p "$html/$web"
		printf '<!doctype html>\n<title>%s</title>\n<h1>%s</h1>\n<p>latebind lab backend %s (%s)</p>\n' \
			"$web" "$web" "$web" "$(lab_ip "$web")" >"$html/index.html"
		printf 'ok %s\n' "$web" >"$html/health"
		printf '<!doctype html>\n<title>%s</title>\n<p>content held by %s only</p>\n' \
			"$web" "$web" >"$html/$web/index.html"
		printf '<!doctype html>\n<p>only on %s</p>\n' "$web" >"$html/$web/only-on-$web.html"
		random_file "$html/$web/1k.bin" 1024
		random_file "$html/$web/1m.bin" 1M
		random_file "$html/$web/64m.bin" 64M
		# An image whose width names its holder (web1 21 px, web2 22, web3 23),
		# for the browser in test_keepalive.sh.
		mkdir -p "$html/$web/ka"
		printf '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="8"><rect width="100%%" height="100%%" fill="#4a4"/></svg>\n' \
			"$((20 + ${web#web}))" >"$html/$web/ka/dot.svg"
	done
	keepalive_page >"$LAB_RUN/web1/html/web1/ka/page.html"

	html=$LAB_RUN/web1/html
	mkdir -p "$html/shared"
	printf '<!doctype html>\n<p>replicated on web1, web2, web3</p>\n' >"$html/shared/index.html"
	random_file "$html/shared/1k.bin" 1024
	random_file "$html/shared/1m.bin" 1M
	random_file "$html/shared/64m.bin" 64M
	mkdir -p "$html/pair"
	printf '<!doctype html>\n<p>replicated on web1, web2</p>\n' >"$html/pair/index.html"
	random_file "$html/pair/1k.bin" 1024
	random_file "$html/pair/1m.bin" 1M
	for web in web2 web3; do
		cp -al "$html/shared" "$LAB_RUN/$web/html/"
	done
	cp -al "$html/pair" "$LAB_RUN/web2/html/"

	# Who holds what, and the SHA-256 of every path held in the same bytes by all
	# its holders (hashed once): all but the per-backend top level (index, health).
	for web in "${LAB_WEBS[@]}"; do
		(cd "$LAB_RUN/$web/html" && find . -type f -printf "%P $web\n")
	done | LC_ALL=C sort | awk '$1 != p { if (p != "") print line; p = $1; line = $0; next }
		{ line = line " " $2 } END { if (p != "") print line }' >"$LAB_HOLDERS"
	while read -r path holders; do
		[[ $path == */* ]] || continue
		(cd "$LAB_RUN/${holders%% *}/html" && sha256sum "$path")
	done <"$LAB_HOLDERS" >"$LAB_MANIFEST"
}

write_nginx_conf() {
	local web=$1 dir=$LAB_RUN/$1
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<EOF
# latebind lab backend $web (generated by tests/lab/lab.sh)
user root;
worker_processes 1;
worker_rlimit_nofile 8192;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
	worker_connections 4096;
}

http {
	types {
		text/html html;
		text/plain txt;
		application/octet-stream bin;
		image/svg+xml svg;
	}
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000;
	server_tokens off;
	$(lab_nginx_temp_paths "$dir")

	$(lab_nginx_access_log "$web" "$dir")

	server {
		listen 80 default_server;
		server_name _;
		root $dir/html;
		location = /health {
			default_type text/plain;
		}
	}
}
EOF
}

start_nginx() {
	local web=$1 dir=$LAB_RUN/$1
	lab_exec "$web" nginx -q -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
}

nginx_ready() {
	local web=$1 pid
	pid=$(cat "$LAB_RUN/$web/nginx.pid" 2>/dev/null) && pid_alive "$pid" &&
		lab_exec router curl -sf --connect-timeout 1 --max-time 2 -o /dev/null \
			"http://$(lab_ip "$web")/health"
}

up_failed() {
	local rc=$?
	trap - EXIT
	echo "lab: up failed (exit $rc); tearing down what was built" >&2
	lab_down >&2 || true
	exit "$rc"
}

lab_up() {
	local owner web t0=$SECONDS
	((EUID == 0)) || die "run as root (network namespaces, XDP)"
	[[ $LAB_PREFIX =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "LB_LAB_PREFIX must be [a-z][a-z0-9]{0,7}"
	for t in ip nginx curl ethtool sha256sum mountpoint; do
		command -v "$t" >/dev/null || die "$t is not installed (make deps)"
	done
	[[ -f $LAB_XDP_PASS ]] || die "$LAB_XDP_PASS is missing: run make"

	# Claim the run directory; a live owner (a running tests/lab/run.sh) keeps it.
	if [[ -d $LAB_RUN ]]; then
		owner=$(cat "$LAB_RUN/owner" 2>/dev/null || true)
		if [[ -n $owner && $owner != "${LAB_OWNER_PID:-}" ]] && pid_alive "$owner"; then
			echo "lab: the $LAB_PREFIX lab is in use by pid $owner (lab.sh down forces it down)" >&2
			exit 75 # EX_TEMPFAIL: run.sh must not take it down
		fi
	fi
	if [[ -d $LAB_RUN || -n $(lab_present_ns) ]]; then
		say "a previous $LAB_PREFIX lab is (partly) up: taking it down first"
		lab_down
	fi
	if ! mkdir "$LAB_RUN" 2>/dev/null; then
		echo "lab: $LAB_RUN appeared meanwhile: another $LAB_PREFIX lab is coming up" >&2
		exit 75
	fi
	trap up_failed EXIT
	trap "exit 130" INT
	trap "exit 143" TERM
	echo "${LAB_OWNER_PID:-}" >"$LAB_RUN/owner"

	build_network
	build_content
	for web in "${LAB_WEBS[@]}"; do
		write_nginx_conf "$web"
		start_nginx "$web"
	done
	for web in "${LAB_WEBS[@]}"; do
		lab_wait 10 nginx_ready "$web" ||
			die "$web did not answer http://$(lab_ip "$web")/health from the router within 10 s; see $LAB_RUN/$web/error.log"
	done
	trap - EXIT

	say "up in $((SECONDS - t0)) s: prefix $LAB_PREFIX, run dir $LAB_RUN, XDP pass ($XDP_MODE) on the switch ports"
	say "  clients  $CLIENT1_NS $CLIENT1_IP, $CLIENT2_NS $CLIENT2_IP (default via $ROUTER_CLIENT_IP)"
	say "  router   $ROUTER_NS $ROUTER_CLIENT_IP | $ROUTER_SITE_IP, $VIP/32 via $BALANCER_IP"
	say "  balancer $BALANCER_NS $BALANCER_IP ($LAB_IF, $BALANCER_MAC), bpffs $(lab_bpffs balancer)"
	for web in "${LAB_WEBS[@]}"; do
		say "  $web     $(lab_ns "$web") $(lab_ip "$web") ($(lab_mac "$web")), VIP on lo, nginx pid $(cat "$LAB_RUN/$web/nginx.pid")"
	done
	say "  content  $(wc -l <"$LAB_MANIFEST") files, $LAB_MANIFEST"
}

# --- status ------------------------------------------------------------------

lab_status() {
	local node ns web pid present state=0
	mapfile -t present < <(lab_present_ns)
	if [[ ! -d $LAB_RUN && ${#present[@]} -eq 0 ]]; then
		say "$LAB_PREFIX lab is down"
		return 3
	fi
	say "run dir: $([[ -d $LAB_RUN ]] && echo "$LAB_RUN" || echo "missing")"
	for node in "${LAB_NODES[@]}"; do
		ns=$(lab_ns "$node")
		if printf '%s\n' "${present[@]}" | grep -qx "$ns"; then
			printf 'lab:   %-14s %s\n' "$ns" \
				"$(ip -n "$ns" -br addr show | awk '$1 != "lo" { printf "%s %s  ", $1, $3 }')"
		else
			printf 'lab:   %-14s missing\n' "$ns"
			state=1
		fi
	done
	for web in "${LAB_WEBS[@]}"; do
		pid=$(cat "$LAB_RUN/$web/nginx.pid" 2>/dev/null || true)
		if [[ -n $pid ]] && pid_alive "$pid"; then
			say "  nginx $web: pid $pid"
		else
			say "  nginx $web: not running"
			state=1
		fi
	done
	if printf '%s\n' "${present[@]}" | grep -qx "$SWITCH_NS"; then
		say "  xdp on switch ports: $(ip -n "$SWITCH_NS" -o link show | grep -c ' xdp')"
	fi
	if ((state == 0)); then
		say "$LAB_PREFIX lab is up"
	else
		say "$LAB_PREFIX lab is partly up (lab.sh down cleans it)"
	fi
	return "$state"
}

case ${1:-} in
up) lab_up ;;
down)
	((EUID == 0)) || die "run as root"
	lab_down
	;;
status) lab_status ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
