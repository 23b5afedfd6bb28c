# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Operations without loss: a reload (SIGHUP) moves new requests as the new
# config says while a download and a keep-alive session carry on; a broken
# config is refused; the daemon killed with SIGKILL and started again leaves the
# download byte-exact, the session going and new connections working.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "ops: backends attach" "attach failed"
lab_balancer_config
# shellcheck disable=SC2119
if ! lab_balancer_start; then
	lab_fail "ops: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi

# big_download NODE PATH OUT: a slow download (about 8 s) in the background.
big_download() {
	ip netns exec "$(lab_ns "$1")" curl -s --max-time 60 --limit-rate 8M -o "$3" \
		-w '%{http_code}' "http://$VIP$2" >"$3.code" &
}
# session NODE OUT: 60 keep-alive requests, ~6 s, one connection.
session() {
	ip netns exec "$(lab_ns "$1")" curl -s --max-time 60 --rate 10/s -o /dev/null \
		-w '%{http_code} %{num_connects}\n' "http://$VIP/web3/1k.bin?s=[1-60]" >"$2" &
}
session_ok() { # OUT: 60 answers of 200 over one connection
	[[ $(grep -c '^200 ' "$1") == 60 && $(awk '{ s += $2 } END { print s }' "$1") == 1 ]]
}
served_by() { # PATH: the backends whose access log has it
	local w
	for w in "${LAB_WEBS[@]}"; do
		if grep -qF " $1 " "$(lab_access_log "$w")"; then printf '%s ' "$w"; fi
	done
}

# --- reload ---------------------------------------------------------------
dl=$LAB_RUN/ops-dl-1
big_download client1 /web2/64m.bin "$dl"
dl_pid=$!
session client2 "$LAB_RUN/ops-session-1"
session_pid=$!
sleep 1
# /pair/ was on web1 and web2; now only web1 holds it.
sed -i 's|prefix: /pair/, backends: \[web1, web2\]|prefix: /pair/, backends: [web1]|' "$LAB_BALANCER_CONF"
"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
lab_wait 5 grep -q "reloaded" "$LAB_BALANCER_LOG" || true
check_match "ops: reload taken" "reloaded .*7 route" "$(grep reloaded "$LAB_BALANCER_LOG" || true)"
for i in 1 2 3 4 5 6; do lab_curl client1 -s -o /dev/null "http://$VIP/pair/1k.bin?after-reload=$i"; done
check_eq "ops: after reload, /pair/ only from web1" "web1 " "$(served_by "/pair/1k.bin?after-reload=6")$(
	for i in 1 2 3 4 5; do served_by "/pair/1k.bin?after-reload=$i" | grep -v '^web1 $'; done)"

# A broken config: refused with file and line, and nothing changes.
cp "$LAB_BALANCER_CONF" "$LAB_RUN/ops-good.yaml"
printf 'bogus_key: 1\n' >>"$LAB_BALANCER_CONF"
"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
lab_wait 5 grep -q "reload refused" "$LAB_BALANCER_LOG" || true
check_match "ops: broken config refused with file:line" \
	"reload refused.*balancer.yaml:[0-9]+: bogus_key" "$(grep 'reload refused' "$LAB_BALANCER_LOG" || true)"
cp "$LAB_RUN/ops-good.yaml" "$LAB_BALANCER_CONF"
check_eq "ops: still serving after the refused reload" 200 \
	"$(lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP/web1/1k.bin")"

wait "$dl_pid" || true
check_eq "ops: download across the reload byte-exact" "200 $(lab_sha256 /web2/64m.bin)" \
	"$(cat "$dl.code") $(sha256sum <"$dl" | cut -d' ' -f1)"
wait "$session_pid" || true
check "ops: keep-alive session across the reload" session_ok "$LAB_RUN/ops-session-1"

# --- restart: SIGKILL, then a new daemon ------------------------------------
dl=$LAB_RUN/ops-dl-2
big_download client1 /web1/64m.bin "$dl"
dl_pid=$!
session client2 "$LAB_RUN/ops-session-2"
session_pid=$!
sleep 1
# What an operator sees meanwhile: the flow, typed map fields, the program.
flows=$(lab_exec_bpf balancer "$LAB_LATEBIND" status --flows)
check_match "ops: status --flows lists the download, bound to web1" \
	"$CLIENT1_IP:[0-9]+ $VIP:$VIP_PORT bound $WEB1_IP" "$flows"
check_match "ops: status --json is one object" '^\{"vips":\[.*\}$' \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status --json --flows)"
check_match "ops: bpftool prints the backends' named fields" '"active": [0-9]+' \
	"$(lab_exec_bpf balancer bpftool map dump pinned /sys/fs/bpf/latebind/backends)"
check_match "ops: xdp-loader status lists the program" "$LAB_IF +lb_xdp +native" \
	"$(lab_exec_bpf balancer xdp-loader status "$LAB_IF")"
kill -KILL "$LAB_BALANCER_PID"
wait "$LAB_BALANCER_PID" 2>/dev/null || true
LAB_BALANCER_PID=
check "ops: program stays attached after SIGKILL" \
	bash -c "ip netns exec $BALANCER_NS ip link show $LAB_IF | grep -q xdp"
sleep 1
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "ops: new daemon starts" "see $LAB_BALANCER_LOG"
check_match "ops: new daemon took over atomically" "took over" "$(cat "$LAB_BALANCER_LOG")"
check_eq "ops: new connections after the restart" 200 \
	"$(lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP/web3/1k.bin")"
wait "$dl_pid" || true
check_eq "ops: download across the restart byte-exact" "200 $(lab_sha256 /web1/64m.bin)" \
	"$(cat "$dl.code") $(sha256sum <"$dl" | cut -d' ' -f1)"
wait "$session_pid" || true
check "ops: keep-alive session across the restart" session_ok "$LAB_RUN/ops-session-2"

rc=0
lab_balancer_stop || rc=$?
check_eq "ops: balancer exits 0 on SIGTERM" 0 "$rc"

# Backends given without a MAC: resolved from the neighbour table, then served.
sed -i 's/, mac: "[0-9a-f:]*"//' "$LAB_BALANCER_CONF"
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "ops: balancer starts without backend MACs" "see $LAB_BALANCER_LOG"
for w in "${LAB_WEBS[@]}"; do
	served() { [[ $(lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP/$1/1k.bin") == 200 ]]; }
	check "ops: $w's MAC resolved, its content served" lab_wait 10 served "$w"
done
rc=0
lab_balancer_stop || rc=$?
check_eq "ops: ... and it exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
