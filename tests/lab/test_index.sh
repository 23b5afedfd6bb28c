# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# latebind index: the routes written from the backends' real document roots
# say who holds what, and the config they make is valid.

routes=$LAB_RUN/index-routes.yaml
if ! "$LAB_ROOT/build/latebind" index web1="$LAB_RUN/web1/html" web2="$LAB_RUN/web2/html" \
	web3="$LAB_RUN/web3/html" >"$routes"; then
	lab_fail "index: runs over the three document roots" "exit status non-zero"
	return 0
fi
holders() { grep -F "path: \"$1\"," "$routes" | sed -E 's/.*backends: \[(.*)\]\}/\1/'; }
check_eq "index: a backend's own file" "web1" "$(holders /web1/1k.bin)"
check_eq "index: replicated on all three" "web1, web2, web3" "$(holders /shared/1k.bin)"
check_eq "index: replicated on two" "web1, web2" "$(holders /pair/1m.bin)"
check_eq "index: a directory's index.html also routes the directory" "web2" "$(holders /web2/)"
check_eq "index: one route per path" 0 \
	"$(grep -o 'path: "[^"]*"' "$routes" | sort | uniq -d | wc -l)"

conf=$LAB_RUN/index-site.yaml
{
	printf 'interface: %s\nvips:\n  - {address: %s, port: %s}\nbackends:\n' "$LAB_IF" "$VIP" "$VIP_PORT"
	for w in "${LAB_WEBS[@]}"; do printf '  - {name: %s, address: %s}\n' "$w" "$(lab_ip "$w")"; done
	cat "$routes"
} >"$conf"
check "index: the routes make a valid config" "$LAB_ROOT/build/latebind" check-config "$conf"
