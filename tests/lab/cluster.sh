# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # dynamically scoped locals read by balancer.sh
#
# Several balancers in the lab: a second balancer, BIRD 2 on the router and on
# both balancers, the VIP announced by BGP and routed by ECMP. Sourced by lab
# tests after lib.sh and balancer.sh; defines, does nothing.
#
#   router 198.51.100.1 AS 64512 ─┬─ balancer  198.51.100.2 AS 64513 ┐ VIP/32 in kernel
#   (BIRD, merge paths: one ECMP  └─ balancer2 198.51.100.3 AS 64513 ┘ table 200 → BGP
#    route, a next hop per balancer announcing the VIP)
#
# lab_cluster_up adds balancer2 to the running lab (its namespace, its port on
# the switch with the XDP pass program, its bpffs), starts the three BIRDs, and
# takes the router's static VIP route away (BIRD's route replaces it);
# lab_cluster_down undoes all of it, whatever state up got to, and puts the
# static route back, so every other test sees the one-balancer lab.
#
# BIRD's configs are docs/examples/bird-*.conf with only their `define` values
# and `log` line replaced (lab_bird_conf): what the lab runs is what an
# operator is shown.

LAB_BIRD_DIR=$LAB_RUN/bird
LAB_BIRD_EXAMPLES=$LAB_ROOT/docs/examples
LAB_ANNOUNCE_TABLE=200
# The second daemon's files, named per test like the first's (balancer.sh).
LAB_BALANCER2_CONF=$LAB_RUN/balancer2${LAB_TEST_NAME:+-$LAB_TEST_NAME}.yaml
LAB_BALANCER2_LOG=$LAB_RUN/balancer2${LAB_TEST_NAME:+-$LAB_TEST_NAME}.log
LAB_BALANCER2_PID=
LAB_CLUSTER_BPF=$LAB_ROOT/build/lab/cluster.bpf.o # rehash and steer (cluster.bpf.c)

# --- BIRD ------------------------------------------------------------------

# lab_bird_conf EXAMPLE OUT NAME=VALUE...: the example config with each `define
# NAME = ...;` given VALUE and the log going to OUT.log. A NAME the example
# does not define is an error: the lab and the example must not drift apart.
lab_bird_conf() {
	local example=$1 out=$2 kv
	shift 2
	awk -v logfile="${out%.conf}.log" -v defs="$*" '
		BEGIN { n = split(defs, d, " "); for (i = 1; i <= n; i++) { split(d[i], p, "="); val[p[1]] = p[2] } }
		/^define [A-Z_0-9]+ = / && ($2 in val) {
			sub(/=[^;]*;/, "= " val[$2] ";"); used[$2] = 1
		}
		/^log / { $0 = "log \"" logfile "\" all;" }
		{ print }
		END { for (k in val) if (!(k in used)) { print "no define " k > "/dev/stderr"; exit 1 } }
	' "$example" >"$out" || return
	for kv; do grep -q "^define ${kv%%=*} = ${kv#*=};" "$out" || return; done
}

# lab_bird_start NODE EXAMPLE NAME=VALUE...: BIRD in NODE's namespace with its
# own config, control socket and pid file under $LAB_BIRD_DIR; waits for the
# pid file (BIRD forks into the background and writes it).
lab_bird_start() {
	local node=$1 example=$2 base=$LAB_BIRD_DIR/$1
	shift 2
	mkdir -p "$LAB_BIRD_DIR"
	lab_bird_conf "$example" "$base.conf" "$@" || return
	lab_exec "$node" bird -c "$base.conf" -s "$base.ctl" -P "$base.pid" || return
	lab_wait 5 lab_bird_pid "$node"
}

# lab_bird_pid NODE: the PID of NODE's BIRD, if it runs.
lab_bird_pid() {
	local pid
	pid=$(cat "$LAB_BIRD_DIR/$1.pid" 2>/dev/null) && pid_alive "$pid" && echo "$pid"
}

lab_bird_stop() {
	local pid
	pid=$(lab_bird_pid "$1") || return 0
	lab_stop_pids 5 "$pid"
}

# lab_birdc NODE CMD...: ask NODE's BIRD (its control socket).
lab_birdc() {
	local node=$1
	shift
	birdc -s "$LAB_BIRD_DIR/$node.ctl" "$*"
}

# lab_bgp_established NODE PROTO: the BGP session PROTO of NODE's BIRD is up.
lab_bgp_established() {
	lab_birdc "$1" show protocols "$2" | grep -qE "^$2 +BGP .* up .*Established"
}

# --- routes ----------------------------------------------------------------

# lab_vip_hops: the router's next hops for the VIP, one address a line, sorted.
lab_vip_hops() {
	lab_exec router ip route show "$VIP/32" | grep -oE 'via [0-9.]+' | awk '{ print $2 }' | sort
}

# lab_vip_via ADDR...: the router sends the VIP to exactly these balancers
# (two: one ECMP route with both next hops).
lab_vip_via() {
	[[ $(lab_vip_hops | xargs) == "$(printf '%s\n' "$@" | sort | xargs)" ]]
}

# lab_announce_del NODE: a VIP route left in NODE's table 200 (a killed
# daemon's: latebind's `announce:` removes its own on SIGTERM) taken away.
lab_announce_del() {
	ip -n "$(lab_ns "$1")" route del "$VIP/32" table "$LAB_ANNOUNCE_TABLE" 2>/dev/null || true
}
# lab_announced NODE: NODE's kernel table 200 has the VIP.
lab_announced() {
	[[ -n $(ip -n "$(lab_ns "$1")" route show table "$LAB_ANNOUNCE_TABLE" "$VIP/32" 2>/dev/null) ]]
}

# --- the cluster -----------------------------------------------------------

LAB_CLUSTER_HASH_POLICY= # the router's fib_multipath_hash_policy before up

lab_cluster_up() {
	local ns=$BALANCER2_NS fs port
	fs=$(lab_bpffs balancer2)
	ip netns add "$ns" || return
	lab_exec balancer2 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	ip -n "$ns" link set lo up
	lab_veth balancer2 "$LAB_IF" "$BALANCER2_MAC" switch "$BALANCER2_PEER" 02:00:00:00:12:03 || return
	ip -n "$SWITCH_NS" link set "$BALANCER2_PEER" master "$SWITCH_BR" || return
	lab_attach_pass switch "$BALANCER2_PEER" || return
	# Each balancer's MAC stays on its port, also while its link is down: frames
	# for a dead balancer are dropped at the switch, not flooded to the other.
	# A real NIC filters unicast for other MACs; a veth with XDP does not, and
	# latebind's XDP would forward a flooded frame meant for its peer.
	bridge -n "$SWITCH_NS" fdb replace "$BALANCER_MAC" dev "$BALANCER_PEER" master static || return
	bridge -n "$SWITCH_NS" fdb replace "$BALANCER2_MAC" dev "$BALANCER2_PEER" master static || return
	ip -n "$ns" addr add "$BALANCER2_IP/24" dev "$LAB_IF"
	ip -n "$ns" route add default via "$ROUTER_SITE_IP"
	mkdir -p "$fs" && mount -t bpf bpf "$fs" || return

	# The router hashes a flow's addresses and ports, never the hash the client's
	# socket gave the packet (cluster.bpf.c, rehash): two clients are few.
	for port in lan-client1 lan-client2; do
		tc -n "$ROUTER_NS" qdisc add dev "$port" clsact &&
			tc -n "$ROUTER_NS" filter add dev "$port" ingress bpf direct-action \
				obj "$LAB_CLUSTER_BPF" sec tc || return
	done
	LAB_CLUSTER_HASH_POLICY=$(lab_exec router sysctl -n net.ipv4.fib_multipath_hash_policy) || return
	lab_exec router sysctl -qw net.ipv4.fib_multipath_hash_policy=1 >/dev/null || return
	lab_bird_start router "$LAB_BIRD_EXAMPLES/bird-router.conf" SELF="$ROUTER_SITE_IP" \
		BALANCER1="$BALANCER_IP" BALANCER2="$BALANCER2_IP" || return
	lab_bird_start balancer "$LAB_BIRD_EXAMPLES/bird-balancer.conf" SELF="$BALANCER_IP" \
		ROUTER="$ROUTER_SITE_IP" ANNOUNCE_TABLE="$LAB_ANNOUNCE_TABLE" || return
	lab_bird_start balancer2 "$LAB_BIRD_EXAMPLES/bird-balancer.conf" SELF="$BALANCER2_IP" \
		ROUTER="$ROUTER_SITE_IP" ANNOUNCE_TABLE="$LAB_ANNOUNCE_TABLE" || return
	# From now on the VIP is routed only while a balancer announces it.
	ip -n "$ROUTER_NS" route del "$VIP/32" via "$BALANCER_IP" dev "$LAB_IF" || return
	lab_wait 15 lab_bgp_established router balancer1 && lab_wait 15 lab_bgp_established router balancer2
}

# lab_cluster_down: everything lab_cluster_up made, whatever state it got to;
# the lab as lab.sh built it afterwards. Returns non-zero if something stayed.
lab_cluster_down() {
	local node rc=0 fs port
	fs=$(lab_bpffs balancer2)
	lab_balancer2_stop >/dev/null 2>&1 || true
	for node in balancer balancer2 router; do
		lab_bird_stop "$node" || rc=1
	done
	lab_announce_del balancer
	bridge -n "$SWITCH_NS" fdb del "$BALANCER_MAC" dev "$BALANCER_PEER" master static 2>/dev/null || true
	if ip netns list | grep -qw "$BALANCER2_NS"; then
		lab_announce_del balancer2
		ip netns del "$BALANCER2_NS" || rc=1 # its veth's peer on the switch goes too
	fi
	if mountpoint -q "$fs" 2>/dev/null; then umount "$fs" || rc=1; fi
	rmdir "$fs" 2>/dev/null || true
	for port in lan-client1 lan-client2; do
		tc -n "$ROUTER_NS" qdisc del dev "$port" clsact 2>/dev/null || true
	done
	if [[ -n $LAB_CLUSTER_HASH_POLICY ]]; then
		lab_exec router sysctl -qw "net.ipv4.fib_multipath_hash_policy=$LAB_CLUSTER_HASH_POLICY" >/dev/null || rc=1
	fi
	# BIRD's route went with BIRD (it removes what it installed on exit).
	ip -n "$ROUTER_NS" route replace "$VIP/32" via "$BALANCER_IP" dev "$LAB_IF" || rc=1
	rm -rf "$LAB_BIRD_DIR"
	return "$rc"
}

# --- the second daemon -----------------------------------------------------

# lab_balancer2_config / lab_balancer2_start [ARGS...] / lab_balancer2_stop: as
# lab_balancer_config/_start/_stop (balancer.sh), for balancer2 with its own
# config, log and pid file.
lab_balancer2_config() {
	local LAB_BALANCER_CONF=$LAB_BALANCER2_CONF
	lab_balancer_config
}
lab_balancer2_start() {
	local LAB_BALANCER_NODE=balancer2 LAB_BALANCER_CONF=$LAB_BALANCER2_CONF
	local LAB_BALANCER_LOG=$LAB_BALANCER2_LOG LAB_BALANCER_PID=
	lab_balancer_start "$@" || return
	LAB_BALANCER2_PID=$LAB_BALANCER_PID
}
lab_balancer2_stop() {
	local LAB_BALANCER_PID=$LAB_BALANCER2_PID rc=0
	lab_balancer_stop || rc=$?
	LAB_BALANCER2_PID=
	return "$rc"
}

# lab_on NODE CMD...: a balancer.sh helper for balancer NODE (balancer or balancer2).
lab_on() {
	local LAB_BALANCER_NODE=$1
	shift
	"$@"
}

# lab_daemon_pid NODE: the PID of the latebind daemon running in NODE's
# namespace (the process itself, not a wrapper: KERNEL-NOTES, "ip netns exec").
lab_daemon_pid() {
	local pid
	for pid in $(ip netns pids "$(lab_ns "$1")"); do
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == latebind ]]; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

# --- steering a handshake across balancers ----------------------------------

# mac_bytes MAC: the six bytes as bpftool takes them.
lab_mac_bytes() { echo "0x${1//:/ 0x}"; }
# lab_ip_bytes ADDR: an IPv4 address's four bytes (network order).
lab_ip_bytes() {
	local IFS=.
	# shellcheck disable=SC2086 # the octets are separate words on purpose
	printf '0x%02x 0x%02x 0x%02x 0x%02x' $1
}

# lab_steer SYN_NODE REST_NODE CLIENT_IP: from the router, CLIENT_IP's SYNs to
# the VIP go to balancer SYN_NODE and the rest of its connections to REST_NODE
# (cluster.bpf.c's steer on the switch's sw-router, in place of the pass program).
lab_steer() {
	local id
	ip -force -n "$SWITCH_NS" link set dev sw-router xdpdrv obj "$LAB_CLUSTER_BPF" sec xdp 2>/dev/null ||
		ip -force -n "$SWITCH_NS" link set dev sw-router xdpgeneric obj "$LAB_CLUSTER_BPF" sec xdp || return
	id=$(lab_steer_map steer_cfg) || return
	# shellcheck disable=SC2046 # the bytes are separate words on purpose
	bpftool map update id "$id" key 0 0 0 0 value $(lab_mac_bytes "$(lab_mac "$1")") \
		$(lab_mac_bytes "$(lab_mac "$2")") $(lab_ip_bytes "$VIP") $(lab_ip_bytes "$3") \
		$((VIP_PORT & 255)) $((VIP_PORT >> 8)) 0 0
}

# lab_steer_map NAME: the id of the steering program's map NAME on sw-router.
lab_steer_map() {
	local prog m
	prog=$(ip -n "$SWITCH_NS" -d link show dev sw-router |
		awk '$1 ~ /^prog\/xdp/ { print $3; exit }')
	[[ -n $prog ]] || return 1
	for m in $(bpftool prog show id "$prog" | awk '{ for (i = 1; i < NF; i++) if ($i == "map_ids") print $(i + 1) }' | tr ',' ' '); do
		if [[ $(bpftool map show id "$m") == *" name $1 "* ]]; then
			echo "$m"
			return 0
		fi
	done
	return 1
}

# lab_steered WHICH: segments the steering program rewrote (syn or rest).
lab_steered() {
	local id slot
	case $1 in syn) slot=0 ;; rest) slot=1 ;; *) return 1 ;; esac
	id=$(lab_steer_map steer_stats) || return 1
	bpftool map lookup id "$id" key "$slot" 0 0 0 | awk -F': *' '/"value"/ { gsub(/[ ,]/, "", $2); print $2 }'
}

# lab_unsteer: the pass program back on sw-router (replaced atomically).
lab_unsteer() {
	ip -force -n "$SWITCH_NS" link set dev sw-router xdpdrv obj "$LAB_XDP_PASS" sec xdp 2>/dev/null ||
		ip -force -n "$SWITCH_NS" link set dev sw-router xdpgeneric obj "$LAB_XDP_PASS" sec xdp
}
