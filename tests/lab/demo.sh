#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the lab, the balancer in front of three nginx backends with split
# content, and a client fetching through the VIP. Prints which backend served
# each resource and how few bytes crossed the balancer, then tears it all down.
set -euo pipefail

# Both hand-off modes in one site: web1 and web3 take connections over by replay
# (any backend kernel from 6.1), web2 adopts cookies (6.9+). LB_LAB_HANDOFF=cookie
# or replay shows one mode only.
export LB_LAB_HANDOFF=${LB_LAB_HANDOFF:-mixed}

# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

cleanup() {
	lab_balancer_stop >/dev/null 2>&1 || true
	"$LAB_DIR/lab.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

echo "== building the lab (namespaces, router, switch, balancer, 3 nginx backends)"
"$LAB_DIR/lab.sh" up | sed 's/^/   /'
lab_cookie_key
echo "== attaching the hand-off programs: web1 $(lab_handoff_of web1), web2 $(lab_handoff_of web2)," \
	"web3 $(lab_handoff_of web3) mode"
# shellcheck disable=SC2119 # every backend
lab_backends_attach 2>&1 | sed 's/^/   /'
lab_balancer_config
echo "== starting: latebind balancer --config $LAB_BALANCER_CONF"
# shellcheck disable=SC2119
lab_balancer_start
sed 's/^/   /' "$LAB_BALANCER_LOG"

# log_lines NODE: lines in the backend's access log so far.
log_lines() { wc -l <"$(lab_access_log "$1")"; }

echo
echo "== client1 ($CLIENT1_IP) fetches through the VIP http://$VIP/"
printf '   %-26s %-5s %-8s %-8s %10s  %s\n' resource code backend hand-off bytes checksum
total=0
tx0=$(lab_exec balancer cat "/sys/class/net/$LAB_IF/statistics/tx_bytes")
for path in /web1/only-on-web1.html /web2/only-on-web2.html /web3/only-on-web3.html \
	/web1/1m.bin /pair/1k.bin /pair/1k.bin /shared/1k.bin /shared/1k.bin /shared/1k.bin \
	/no/such/resource /web2/64m.bin; do
	declare -A before=()
	for w in "${LAB_WEBS[@]}"; do before[$w]=$(log_lines "$w"); done
	tmp=$(mktemp)
	read -r code bytes < <(lab_curl client1 -s -o "$tmp" -w '%{http_code} %{size_download}\n' \
		"http://$VIP$path" || echo "000 0")
	who=balancer
	for w in "${LAB_WEBS[@]}"; do
		# Its log's new lines name this path (health checks log lines too).
		if tail -n +"$((before[$w] + 1))" "$(lab_access_log "$w")" | grep -qF " $path "; then
			who=$w
		fi
	done
	want=$(lab_sha256 "$path")
	if [[ -z $want ]]; then
		sum="-"
	elif [[ $(sha256sum <"$tmp" | cut -d' ' -f1) == "$want" ]]; then
		sum="sha256 ok"
	else
		sum="sha256 MISMATCH"
	fi
	rm -f "$tmp"
	total=$((total + bytes))
	mode=-
	[[ $who == balancer ]] || mode=$(lab_handoff_of "$who")
	printf '   %-26s %-5s %-8s %-8s %10s  %s\n' "$path" "$code" "$who" "$mode" "$bytes" "$sum"
done
tx=$(($(lab_exec balancer cat "/sys/class/net/$LAB_IF/statistics/tx_bytes") - tx0))

echo
echo "== bytes the client received: $total; bytes the balancer transmitted: $tx" \
	"($(awk -v a="$tx" -v b="$total" 'BEGIN { printf "%.2f", 100 * a / b }')%)"
echo "   (the backends answered the client directly; the balancer sent SYN/ACKs," \
	"its own 404, and forwarded FINs)"
echo
echo "== one keep-alive connection, three resources on three backends (per-request binding)"
ka_paths=(/web1/only-on-web1.html /web2/only-on-web2.html /web3/only-on-web3.html)
declare -A ka_before=()
for w in "${LAB_WEBS[@]}"; do ka_before[$w]=$(log_lines "$w"); done
ka_args=()
for path in "${ka_paths[@]}"; do ka_args+=(-o /dev/null "http://$VIP$path"); done
lab_curl client1 --http1.1 -w '%{http_code} %{num_connects} %{local_port} %{url_effective}\n' \
	"${ka_args[@]}" | while read -r code opened port url; do
	path=/${url#http://*/}
	who=balancer
	for w in "${LAB_WEBS[@]}"; do
		if tail -n +"$((ka_before[$w] + 1))" "$(lab_access_log "$w")" | grep -F ":$port -> " |
			grep -qF "\"GET $path "; then
			who=$w
		fi
	done
	printf '   %-26s %-5s from %-8s client port %s (%s)\n' "$path" "$code" "$who" "$port" \
		"$( ((opened)) && echo "new connection" || echo "same connection")"
done

echo
echo "== latebind status"
lab_exec_bpf balancer "$LAB_LATEBIND" status | grep -Ev ' 0( 0)?$' | sed 's/^/   /'
echo
echo "== tearing down"
