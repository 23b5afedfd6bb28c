# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The lossy link (build/lab/lossy.bpf.o): put it on a lab veth's ingress, set
# how often it drops, read what it dropped, and put back what was there. Sourced
# by lab tests after lib.sh; defines, does nothing.
#
# On the lab's switch ports it replaces the XDP pass program that lets
# XDP_TX'd frames arrive through the peer (docs/limits.md); it passes what it
# does not drop, so it keeps doing that job, and lossy_restore puts the pass
# program back, in the mode it had, rather than leaving the port bare.

LAB_LOSSY=$LAB_ROOT/build/lab/lossy.bpf.o
LOSSY_ATTACHED=() # "NODE DEV MODE-BEFORE" (MODE-BEFORE: xdp, xdpgeneric or none)

# lossy_xdp_state NODE DEV: "MODE PROG-ID" of the XDP program on DEV (MODE xdp
# or xdpgeneric), or "none".
lossy_xdp_state() {
	ip -n "$(lab_ns "$1")" -d link show dev "$2" |
		awk '$1 ~ /^prog\/xdp/ && !found { sub("prog/", "", $1); print $1, $3; found = 1 }
			END { if (!found) print "none" }'
}

# lossy_map_id NODE DEV NAME: the id of the lossy program's map NAME on DEV.
lossy_map_id() {
	local id m
	read -r _ id < <(lossy_xdp_state "$1" "$2")
	[[ -n $id ]] || return 1
	# Whole outputs into variables, no early-exiting reader: tests run with
	# pipefail, where a writer's SIGPIPE would fail the lookup now and then.
	for m in $(bpftool prog show id "$id" | awk '{ for (i = 1; i < NF; i++) if ($i == "map_ids") print $(i + 1) }' | tr ',' ' '); do
		if [[ $(bpftool map show id "$m") == *" name $3 "* ]]; then
			echo "$m"
			return 0
		fi
	done
	return 1
}

# le32 N: N as four little-endian bytes in hex, the way bpftool takes a value.
le32() {
	printf '0x%02x 0x%02x 0x%02x 0x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}

# lossy_attach NODE DEV EVERY MAX [PORT]: drop every EVERY-th data/ACK segment
# arriving on DEV (from or to PORT, default any), at most MAX of them. The
# program replaces whatever XDP program DEV ran, atomically (-force), so a
# port never goes without one.
lossy_attach() {
	local node=$1 dev=$2 every=$3 max=$4 port=${5:-0} before ns
	ns=$(lab_ns "$node")
	read -r before _ < <(lossy_xdp_state "$node" "$dev")
	# Native where the program was native (or absent), generic where it was generic:
	# one veth cannot mix them, and the peer's XDP_TX needs native here.
	if [[ $before == xdpgeneric ]]; then
		ip -force -n "$ns" link set dev "$dev" xdpgeneric obj "$LAB_LOSSY" sec xdp || return 1
	else
		ip -force -n "$ns" link set dev "$dev" xdpdrv obj "$LAB_LOSSY" sec xdp 2>/dev/null ||
			ip -force -n "$ns" link set dev "$dev" xdpgeneric obj "$LAB_LOSSY" sec xdp || return 1
	fi
	LOSSY_ATTACHED+=("$node $dev $before")
	lossy_set "$node" "$dev" "$every" "$max" "$port"
}

# lossy_set NODE DEV EVERY MAX [PORT]: the attached program's drops from now on
# (EVERY 0: none). Attaching to a veth switches its receive path, which under
# a running transfer once left the transfer's frames unseen and undelivered:
# a test that needs drops mid-transfer attaches with EVERY 0 first.
lossy_set() {
	local cfg
	cfg=$(lossy_map_id "$1" "$2" lossy_cfg) || {
		echo "lossy: no lossy_cfg map on $1 $2" >&2
		return 1
	}
	# shellcheck disable=SC2046 # the bytes are separate words on purpose
	bpftool map update id "$cfg" key 0 0 0 0 value $(le32 "$3") $(le32 "$4") $(le32 "${5:-0}") $(le32 0)
}

# lossy_stat NODE DEV NAME: a counter of the program on DEV (seen, dropped,
# dropped_data, dropped_ack, seen_ts, seen_sack: see lossy.bpf.c); empty if
# there is no such program.
lossy_stat() {
	local id slot
	case $3 in
	seen) slot=0 ;; dropped) slot=1 ;; dropped_data) slot=2 ;; dropped_ack) slot=3 ;;
	seen_ts) slot=4 ;; seen_sack) slot=5 ;; *) return 1 ;;
	esac
	id=$(lossy_map_id "$1" "$2" lossy_stats) || return 1
	bpftool map lookup id "$id" key "$slot" 0 0 0 | awk -F': *' '/"value"/ { gsub(/[ ,]/, "", $2); print $2 }'
}

# lossy_restore: every device lossy_attach touched gets back what it had (the
# lab's pass program in its mode, or nothing). Safe to call twice.
lossy_restore() {
	local i node dev before ns rc=0
	# Newest first, so a device attached twice ends as it was before the first.
	for ((i = ${#LOSSY_ATTACHED[@]} - 1; i >= 0; i--)); do
		read -r node dev before <<<"${LOSSY_ATTACHED[i]}"
		ns=$(lab_ns "$node")
		case $before in
		xdp) ip -force -n "$ns" link set dev "$dev" xdpdrv obj "$LAB_XDP_PASS" sec xdp || rc=1 ;;
		xdpgeneric) ip -force -n "$ns" link set dev "$dev" xdpgeneric obj "$LAB_XDP_PASS" sec xdp || rc=1 ;;
		*)
			ip -n "$ns" link set dev "$dev" xdpdrv off 2>/dev/null || true
			ip -n "$ns" link set dev "$dev" xdpgeneric off 2>/dev/null || true
			;;
		esac
	done
	LOSSY_ATTACHED=()
	return "$rc"
}
