# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The lab itself, before any latebind program runs: clients reach every
# backend through the router, each backend serves what it should (and only
# that), downloads match the manifest, the VIP goes to the balancer and is
# answered by nobody over ARP, and nothing leads out of the lab.

# http_code NODE URL: the HTTP status (000 if no answer).
http_code() {
	lab_curl "$1" -o /dev/null -w '%{http_code}' "$2" 2>/dev/null || true
}

# Every client reaches every backend's real address through the router.
access_mark=$(lab_log_mark "$(lab_access_log web3)")
for client in "${LAB_CLIENTS[@]}"; do
	for web in "${LAB_WEBS[@]}"; do
		out=$(lab_curl "$client" -w '\n%{http_code}' "http://$(lab_ip "$web")/" 2>&1) || true
		check_eq "topology: $client -> $web /: HTTP 200" 200 "${out##*$'\n'}"
		check_match "topology: $client -> $web /: body names $web" "<h1>$web</h1>" "$out"
	done
done
check "topology: web3 logs $CLIENT2_IP as the client of GET /" lab_wait 2 lab_log_has \
	"$(lab_access_log web3)" "$access_mark" " $CLIENT2_IP:[0-9]+ -> $WEB3_IP:80 \"GET / HTTP/1.1\" 200 "

# Content: /webN/ only on webN, /pair/ on web1+web2, /shared/ everywhere.
for web in "${LAB_WEBS[@]}"; do
	url=http://$(lab_ip "$web")
	got=
	for other in "${LAB_WEBS[@]}"; do
		got+="$other:$(http_code client1 "$url/$other/only-on-$other.html") "
	done
	want="web1:404 web2:404 web3:404 "
	want=${want/$web:404/$web:200}
	check_eq "topology: $web serves its own /$web/ and no other backend's" "$want" "$got"
	check_eq "topology: $web serves /shared/" 200 "$(http_code client1 "$url/shared/index.html")"
	want=200
	if [[ $web == web3 ]]; then want=404; fi
	check_eq "topology: $web /pair/ is $want" "$want" "$(http_code client1 "$url/pair/index.html")"
	check_eq "topology: $web /health" "ok $web" "$(lab_curl client2 "$url/health" 2>&1)"
	# Listening on every address: the VIP works on the backend itself.
	check_match "topology: $web answers on the VIP locally" "<h1>$web</h1>" \
		"$(lab_exec "$web" curl -sS --max-time 5 "http://$VIP/" 2>&1)"
done

# Downloads through the router match the manifest (one 64 MiB, the rest small).
while read -r client web path; do
	want=$(lab_sha256 "$path")
	got=$(lab_curl "$client" --max-time 30 "http://$(lab_ip "$web")$path" | sha256sum)
	check_eq "topology: $client gets $path from $web with the manifest's SHA-256" \
		"${want:-not in manifest}" "${got%% *}"
done <<'FILES'
client1 web1 /web1/1k.bin
client2 web2 /web2/1m.bin
client1 web3 /shared/1k.bin
client2 web1 /shared/1m.bin
client1 web2 /pair/1m.bin
client2 web3 /web3/64m.bin
FILES
check_eq "topology: /web1/ has files of 1 KiB, 1 MiB and 64 MiB" "1024 1048576 67108864" \
	"$(stat -c %s "$LAB_RUN"/web1/html/web1/{1k,1m,64m}.bin | xargs)"

# The VIP is routed to the balancer, and nobody answers ARP for it. The router
# resolves a neighbour on demand (ip neigh ... use sends the ARP request): a
# backend's real address resolves at once (the control), the VIP never does.
check_match "topology: the router sends the VIP to the balancer" \
	"^$VIP via $BALANCER_IP dev $LAB_IF " "$(lab_exec router ip route get "$VIP" 2>&1)"
arp_state() { # ADDR: the router's neighbour entry on the site side
	lab_exec router ip neigh show "$1" dev "$LAB_IF"
}
arp_resolve() { # ADDR
	lab_exec router ip neigh del "$1" dev "$LAB_IF" 2>/dev/null || true
	lab_exec router ip neigh replace "$1" dev "$LAB_IF" use
}
arp_has() { [[ $(arp_state "$1") == *"lladdr $2"* ]]; } # ADDR MAC
arp_resolve "$WEB2_IP"
check "topology: ARP for web2's address is answered with its MAC" lab_wait 2 arp_has "$WEB2_IP" "$WEB2_MAC"
# The VIP's entry settles when the router's requests are answered (lladdr) or
# when all of them went unanswered (FAILED): mcast_solicit, retrans_time apart.
arp_settled() { [[ $(arp_state "$1") =~ lladdr|FAILED ]]; }
arp_probes=$(lab_number "router mcast_solicit" "$(lab_exec router sysctl -n "net.ipv4.neigh.$LAB_IF.mcast_solicit")")
arp_retrans=$(lab_number "router retrans_time_ms" "$(lab_exec router sysctl -n "net.ipv4.neigh.$LAB_IF.retrans_time_ms")")
arp_resolve "$VIP"
check "topology: the router's ARP for the VIP settles ($arp_probes requests, $arp_retrans ms apart)" \
	lab_wait $((arp_probes * arp_retrans / 1000 + 2)) arp_settled "$VIP"
state=$(arp_state "$VIP")
lab_exec router ip neigh del "$VIP" dev "$LAB_IF" 2>/dev/null || true
check_match "topology: nobody answers ARP for the VIP" "^$VIP .*FAILED" "$state"

# Nothing leads out: every veth's peer is in a lab namespace, no default route
# on the router, and the root namespace's addresses are unreachable.
stray=
for node in "${LAB_NODES[@]}"; do
	while read -r line; do
		[[ $line == *" veth "* && $line != *" link-netns $LAB_PREFIX-"* ]] &&
			stray+="$node: ${line%%:*} "
	done < <(lab_exec "$node" ip -o -d link show)
done
check_eq "topology: every veth peer is inside the lab" "" "$stray"
check_eq "topology: the router has no default route" "" "$(lab_exec router ip route show default)"
mapfile -t root_addrs < <(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4 }' | head -n 3)
for addr in "${root_addrs[@]}" 1.1.1.1; do
	check "topology: the router has no route to $addr" \
		bash -c "! ip netns exec $ROUTER_NS ip route get $addr"
	rc=0
	# shellcheck disable=SC2016 # expanded by the inner bash
	out=$(lab_exec client1 timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/80"' "$addr" 2>&1) || rc=$?
	if ((rc == 0)); then out=connected; fi
	if ((rc == 124)); then out="no answer within 3 s"; fi
	# "refused" would mean something answered; unreachable comes from the router.
	check_match "topology: client1 cannot reach $addr" "(unreachable|No route to host|no answer)" "$out"
done
