# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Access statistics and replication advice under a skewed workload. The test
# adds 200 small objects, /zipf/o<k>.txt, each its own route: the five hottest
# (o0..o4) on web1 alone, the rest one per backend in turn, and o100.. on two
# backends each. wrk asks for them by a Zipf law (wrk-zipf.lua; bounded in
# requests and time), so web1 takes far more than its share. Then:
#   - the exporter's top routes (metrics.top_routes: 20, fewer than the
#     routes) start with the hottest objects, o0 first, and so does `status`;
#   - `latebind advise` names web1 as the busy backend and gives o0 another
#     holder; cold replicated objects may give one up;
#   - `advise --yaml` is a routes: section check-config takes.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

METRICS_ADDR=127.0.0.1:9180
OBJECTS=200
REQUESTS=3000

# holders K: the backends holding o<K>.txt.
holders() {
	local k=$1 webs=(web1 web2 web3)
	if ((k < 5)); then
		echo web1
	elif ((k >= 100)); then
		echo "${webs[k % 3]} ${webs[(k + 1) % 3]}"
	else
		echo "${webs[k % 3]}"
	fi
}

cleanup() {
	local w
	lab_balancer_stop || true
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach >/dev/null 2>&1 || true
	for w in "${LAB_WEBS[@]}"; do rm -rf "$LAB_RUN/$w/html/zipf"; done
}

scrape() {
	lab_exec balancer curl -sS --connect-timeout 2 --max-time 5 "http://$METRICS_ADDR/metrics"
}

advise() {
	lab_exec_bpf balancer "$LAB_LATEBIND" advise --config "$LAB_BALANCER_CONF" "$@"
}

# The objects, and a route for each.
routes=""
for ((k = 0; k < OBJECTS; k++)); do
	list=""
	for w in $(holders "$k"); do
		mkdir -p "$LAB_RUN/$w/html/zipf"
		printf 'object %d\n' "$k" >"$LAB_RUN/$w/html/zipf/o$k.txt"
		list+="${list:+, }$w"
	done
	routes+="  - {name: z$k, host: \"*\", path: /zipf/o$k.txt, backends: [$list]}"$'\n'
done

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "advise: backends attach" "attach failed"
lab_balancer_config
# The lab's config without its routes and metrics, then these.
awk '/^routes:/ { skip = 1; next } skip && /^  / { next } { skip = 0 } !/^metrics:/' \
	"$LAB_BALANCER_CONF" >"$LAB_RUN/advise-head.yaml"
echo "metrics: {listen: $METRICS_ADDR, top_routes: 20}" >>"$LAB_RUN/advise-head.yaml"
{
	cat "$LAB_RUN/advise-head.yaml"
	echo "routes:"
	printf '%s' "$routes"
} >"$LAB_RUN/advise.yaml"
LAB_BALANCER_CONF=$LAB_RUN/advise.yaml
# shellcheck disable=SC2119 # no extra daemon options
if ! lab_balancer_start; then
	lab_fail "advise: balancer starts" "see $LAB_BALANCER_LOG"
	cleanup
	return 0
fi

# Before any request: no advice yet, and the command says why.
check_match "advise: nothing to advise before requests" "No advice: too few requests" "$(advise 2>&1)"

out=$(lab_exec client1 timeout 60 wrk -t1 -c4 -d30s --timeout 5s -s "$LAB_DIR/wrk-zipf.lua" \
	"http://$VIP:$VIP_PORT/" -- objects=$OBJECTS s=1.1 max=$REQUESTS seed=7 2>&1)
check_match "advise: the Zipf workload ran without errors" "requests=[1-9][0-9]* non2xx=0" "$out"

# The statistics reach the maps about once a second.
published() { advise | grep -qE '^Routed requests: [1-9][0-9]{3}'; }
lab_wait 10 published || true
metrics=$(scrape)
top=$(awk -F'"' '/^latebind_route_requests_total\{/ { print $2 }' <<<"$metrics" | head -n 4 | tr '\n' ' ')
check_match "advise: the hottest object leads the exporter's top routes" "^z0 " "$top"
check_match "advise: the next hottest are next" "^z0 (z[1-4] ){2}" "$top"
check_eq "advise: the exporter shows top_routes routes, no more" 20 \
	"$(grep -c '^latebind_route_requests_total{' <<<"$metrics")"
# wrk's heads: "GET /zipf/o0.txt HTTP/1.1" and Host, about 50 bytes each.
z0=$(awk -F'[{}" ]+' '$1 == "latebind_route_requests_total" && $3 == "z0" { print $4 }' <<<"$metrics")
z0_bytes=$(awk -F'[{}" ]+' '$1 == "latebind_route_bytes_total" && $3 == "z0" { print $4 }' <<<"$metrics")
check "advise: z0's bound bytes are its requests' heads ($z0_bytes for $z0)" \
	test "${z0_bytes:-0}" -ge $((${z0:-1} * 30)) -a "${z0_bytes:-0}" -le $((${z0:-1} * 200))
check_match "advise: the rest are summed" $'\nlatebind_route_requests_other [0-9]+\n' "$metrics"

status=$(lab_exec_bpf balancer "$LAB_LATEBIND" status)
check_match "advise: status lists the hottest route first" $'\n  route z0 [0-9]+ ' "$status"
check "advise: status --json is JSON" python3 -c 'import json, sys; json.loads(sys.argv[1])' \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status --json)"

text=$(advise)
sed 's/^/# /' <<<"$text"
check_match "advise: web1 is the busy backend" "web1 [0-9.]+% \(busy\)" "$text"
check_match "advise: the hottest object gets a second holder, relieving web1" \
	"route z0 \([0-9.]+% of requests\), held by web1: add web[23]; web1 " "$text"
check_eq "advise: no other backend is called busy" 0 "$(grep -cE 'web[23] [0-9.]+% \(busy\)' <<<"$text")"

yaml=$(advise --yaml)
sed 's/^/# /' <<<"$yaml"
check_match "advise: --yaml gives z0 its new holder" \
	'  - \{name: "z0", host: "\*", path: "/zipf/o0.txt", backends: \[web1, web[23][],]' "$yaml"
{
	cat "$LAB_RUN/advise-head.yaml"
	printf '%s\n' "$yaml"
} >"$LAB_RUN/advised.yaml"
check "advise: check-config takes the advised routes" "$LAB_LATEBIND" check-config "$LAB_RUN/advised.yaml"

cleanup
