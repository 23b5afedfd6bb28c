# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The Prometheus exporter of a running balancer: /metrics on metrics.listen,
# inside the balancer's namespace, is clean for `promtool check metrics`, and
# its counters match the traffic this test makes through the VIP: requests per
# route (by route name), the balancer's own 404s, hand-offs per backend. A real
# Prometheus server (Debian's package), started in the balancer namespace,
# scrapes it, and a PromQL query over its HTTP API returns the same counts. An
# idle connection to the exporter does not hold up a scrape.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

METRICS_ADDR=127.0.0.1:9180
METRICS_URL=http://$METRICS_ADDR/metrics
PROM_ADDR=127.0.0.1:9190
PROM_DIR=$LAB_RUN/prometheus
PROM_PID=
IDLE_PID=

# scrape [CURL ARGS...]: the exporter as seen from the balancer's namespace.
scrape() {
	lab_exec balancer curl -sS --connect-timeout 2 --max-time 5 "$@" "$METRICS_URL"
}

# value TEXT SERIES: the value of one series (name and labels exactly as written).
value() {
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print "none" }' <<<"$1"
}

# prom_query QUERY: the value of a one-sample instant query, or "none".
prom_query() {
	lab_exec balancer curl -sS --max-time 3 -G "http://$PROM_ADDR/api/v1/query" \
		--data-urlencode "query=$1" |
		sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p' | grep . || echo none
}

cleanup() {
	# shellcheck disable=SC2086 # either may be empty: then it is not there
	lab_stop_pids 10 $PROM_PID $IDLE_PID
	PROM_PID=
	IDLE_PID=
	lab_balancer_stop || true
	# shellcheck disable=SC2119 # every backend
	lab_backends_detach >/dev/null 2>&1 || true
}

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "metrics: backends attach" "attach failed"
# The lab's config, with the exporter on a known address.
lab_balancer_config
sed '/^metrics:/d' "$LAB_BALANCER_CONF" >"$LAB_RUN/metrics.yaml"
echo "metrics: {listen: $METRICS_ADDR}" >>"$LAB_RUN/metrics.yaml"
LAB_BALANCER_CONF=$LAB_RUN/metrics.yaml
# shellcheck disable=SC2119 # no extra daemon options
if ! lab_balancer_start; then
	lab_fail "metrics: balancer starts" "see $LAB_BALANCER_LOG"
	cleanup
	return 0
fi

if ! lab_wait 5 scrape -f -o /dev/null; then
	lab_fail "metrics: the exporter answers on $METRICS_ADDR" \
		"no answer from $METRICS_URL in the balancer namespace (is the exporter wired into the daemon?)" \
		"$(scrape -i 2>&1 | head -n 5)"
	cleanup
	return 0
fi
lab_pass "metrics: the exporter answers on $METRICS_ADDR"

before=$(scrape)
head=$(scrape -o /dev/null -D -)
check_match "metrics: text format 0.0.4" "Content-Type: text/plain; version=0.0.4" "$head"
check_match "metrics: build_info" 'latebind_build_info\{version="[^"]+"\} 1' "$before"
check_match "metrics: the VIP" "latebind_vip_info\\{vip=\"$VIP:$VIP_PORT\",mode=\"http\"\\} 1" "$before"
code_of() { # URL [CURL ARGS...]: the HTTP status the exporter answers
	lab_exec balancer curl -s --connect-timeout 2 --max-time 5 -o /dev/null -w '%{http_code}' "$@"
}
check_eq "metrics: other paths get 404" 404 "$(code_of "http://$METRICS_ADDR/other")"
check_eq "metrics: other methods get 405" 405 "$(code_of "$METRICS_URL" -X POST)"

# Traffic with known counts: 5 for route web1-only, 3 for pair, 2 without a route.
for i in 1 2 3 4 5; do lab_curl client1 -o /dev/null "http://$VIP/web1/1k.bin?m=$i"; done
for i in 1 2 3; do lab_curl client2 -o /dev/null "http://$VIP/pair/1k.bin?m=$i"; done
for i in 1 2; do lab_curl client1 -o /dev/null "http://$VIP/no/such/thing?m=$i"; done

after=$(scrape)
delta() { # SERIES...: their summed increase between the two scrapes
	local a b sum=0 s
	for s in "$@"; do
		a=$(value "$before" "$s")
		b=$(value "$after" "$s")
		# A route is listed once it has requests (the most requested only).
		[[ $s == latebind_route_requests_total* && $a == none ]] && a=0
		if [[ ! $a =~ ^[0-9]+$ || ! $b =~ ^[0-9]+$ ]]; then
			echo "missing $s"
			return
		fi
		sum=$((sum + b - a))
	done
	echo "$sum"
}
check_eq "metrics: route web1-only counted 5 requests" 5 \
	"$(delta 'latebind_route_requests_total{route="web1-only"}')"
check_eq "metrics: route pair counted 3 requests" 3 \
	"$(delta 'latebind_route_requests_total{route="pair"}')"
check_eq "metrics: route shared, never requested, is not listed" none \
	"$(value "$after" 'latebind_route_requests_total{route="shared"}')"
check_eq "metrics: 2 replies 404 by the balancer" 2 "$(delta 'latebind_replies_total{code="404"}')"
check_eq "metrics: 8 decisions" 8 "$(delta 'latebind_dispatcher_events_total{event="decisions"}')"
check_eq "metrics: web3 handed nothing" 0 "$(delta 'latebind_backend_handoffs_total{backend="web3"}')"
check_eq "metrics: web1 + web2 handed 8" 8 \
	"$(delta 'latebind_backend_handoffs_total{backend="web1"}' 'latebind_backend_handoffs_total{backend="web2"}')"
synacks=$(delta 'latebind_xdp_packets_total{reason="tx_synack"}')
check_match "metrics: SYN/ACKs counted for 10 connections (got $synacks)" '^([1-9][0-9]+)$' "$synacks"
check_match "metrics: backends up" 'latebind_backend_up\{backend="web1"\} 1' "$after"
check_match "metrics: no raw path in any label" '^[^/]*$' "$(grep -v '^#' <<<"$after" | grep -o '"[^"]*"' | tr -d '\n')"

if command -v promtool >/dev/null; then
	out=$(promtool check metrics <<<"$after" 2>&1)
	check_eq "metrics: promtool check metrics is clean" "" "$out"
else
	lab_fail "metrics: promtool check metrics is clean" "promtool missing (make deps installs prometheus)"
fi

# A client that connects and says nothing does not hold up a scrape. It holds
# its connection 8 s, longer than the exporter's 5 s per connection
# (LB_METRICS_TIMEOUT_MS), so only the exporter could end it before the scrape.
# shellcheck disable=SC2016 # expanded by the inner bash
lab_exec balancer bash -c 'exec 3<>"/dev/tcp/${0%:*}/${0#*:}"; exec sleep 8' "$METRICS_ADDR" &
IDLE_PID=$!
# Its port (the client socket sleep holds), then the exporter's side of it:
# accepted and open.
IDLE_PORT=
idle_port() {
	IDLE_PORT=$(lab_exec balancer ss -tnpH state established "( dport = :${METRICS_ADDR##*:} )" |
		awk '/"sleep"/ { sub(/.*:/, "", $3); print $3; exit }')
	[[ -n $IDLE_PORT ]]
}
idle_open() {
	lab_exec balancer ss -tnH state established \
		"( sport = :${METRICS_ADDR##*:} and dport = :${IDLE_PORT:-0} )" | grep -q .
}
check "metrics: an idle connection to the exporter is open" lab_wait 5 idle_port
check "metrics: ... and established on the exporter's side" lab_wait 5 idle_open
t0=$(lab_now_ms)
scrape -f -o /dev/null
rc=$?
ms=$(($(lab_now_ms) - t0))
# Had the exporter waited on the idle client, the scrape could only be answered
# once that connection was gone: it must still be open afterwards.
answered_beside() { ((rc == 0)) && idle_open; }
check "metrics: a scrape beside an idle connection is answered while it is open (${ms} ms)" \
	answered_beside
lab_stop_pids 5 "$IDLE_PID"
IDLE_PID=

# --- a real Prometheus server scrapes it -------------------------------------
if ! command -v prometheus >/dev/null; then
	lab_fail "metrics: Prometheus scrapes the exporter" "prometheus missing (make deps)"
	cleanup
	return 0
fi
mkdir -p "$PROM_DIR"
cat >"$PROM_DIR/prometheus.yml" <<-YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: latebind
    static_configs: [{targets: ["$METRICS_ADDR"]}]
YAML
# exec: $! is Prometheus itself, stopped by that PID.
(exec ip netns exec "$BALANCER_NS" prometheus --config.file="$PROM_DIR/prometheus.yml" \
	--storage.tsdb.path="$PROM_DIR/data" --web.listen-address="$PROM_ADDR" \
	--web.console.templates="$PROM_DIR" --web.console.libraries="$PROM_DIR" \
	>"$PROM_DIR/log" 2>&1) &
PROM_PID=$!
want_route=$(value "$after" 'latebind_route_requests_total{route="web1-only"}')
base_route=$(value "$before" 'latebind_route_requests_total{route="web1-only"}')
[[ $base_route == none ]] && base_route=0 # not listed before it had requests
want_404=$(value "$after" 'latebind_replies_total{code="404"}')
want_lat=$(value "$after" latebind_handoff_latency_seconds_count)
prom_sees() { [[ $(prom_query 'latebind_route_requests_total{route="web1-only"}') == "$want_route" ]]; }
if lab_wait 25 prom_sees; then
	lab_pass "metrics: Prometheus scraped the exporter"
else
	lab_fail "metrics: Prometheus scraped the exporter" \
		"up=$(prom_query 'up{job="latebind"}'); log:" "$(tail -n 5 "$PROM_DIR/log")"
fi
check_eq "metrics: PromQL: up" 1 "$(prom_query 'up{job="latebind"}')"
check_eq "metrics: PromQL: requests of route web1-only" "$want_route" \
	"$(prom_query 'latebind_route_requests_total{route="web1-only"}')"
if [[ $base_route =~ ^[0-9]+$ ]]; then
	check_eq "metrics: PromQL: the test's 5 requests over the VIP" 5 \
		"$(prom_query "sum(latebind_route_requests_total{route=\"web1-only\"}) - $base_route")"
else
	lab_fail "metrics: PromQL: the test's 5 requests over the VIP" "no web1-only series before"
fi
check_eq "metrics: PromQL: replies 404" "$want_404" "$(prom_query 'latebind_replies_total{code="404"}')"
check_match "metrics: hand-offs timed (latency histogram count $want_lat)" '^[1-9][0-9]*$' "$want_lat"
check_eq "metrics: PromQL: hand-off latency count" "$want_lat" \
	"$(prom_query 'latebind_handoff_latency_seconds_count')"

prom_pid=$PROM_PID
cleanup
check "metrics: Prometheus stopped" bash -c "! kill -0 $prom_pid 2>/dev/null"
