# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Operations without loss: a reload (SIGHUP) moves new requests as the new
# config says while a download and a keep-alive session carry on; a broken
# config is refused; the daemon killed with SIGKILL and started again leaves the
# download byte-exact, the session going and new connections working. First,
# counters maps pinned by an earlier build with other shapes are taken over.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

lab_cookie_key
# shellcheck disable=SC2119 # every backend
lab_backends_attach >/dev/null || lab_fail "ops: backends attach" "attach failed"
lab_balancer_config

# An upgrade that adds a counter (a drop reason): the `stats` map pinned by an
# earlier build has fewer slots. It is resized, its counts kept (here 10^6
# packets per CPU in drop_eth_trunc, slot 11), where it used to refuse to start
# unless every pin, the flow table's too, was removed.
old_stats=/sys/fs/bpf/latebind/stats
lab_exec_bpf balancer sh -c "mkdir -p ${old_stats%/*} && test ! -e $old_stats &&
	bpftool map create $old_stats type percpu_array key 4 value 16 entries 20 name stats &&
	bpftool map update pinned $old_stats key 11 0 0 0 value 0x40 0x42 0x0f 0 0 0 0 0 0 0 0 0 0 0 0 0" ||
	lab_fail "ops: an earlier build's stats map pinned" "bpftool failed"
# Its `disp_stats` was one flat array, summed by the main thread (decisions,
# slot 10: 5). A daemon counts from zero there, so it is replaced, not refused.
old_disp=/sys/fs/bpf/latebind/disp_stats
lab_exec_bpf balancer sh -c "test ! -e $old_disp &&
	bpftool map create $old_disp type array key 4 value 8 entries 58 name disp_stats &&
	bpftool map update pinned $old_disp key 10 0 0 0 value 5 0 0 0 0 0 0 0" ||
	lab_fail "ops: an earlier build's disp_stats map pinned" "bpftool failed"
# shellcheck disable=SC2119
if ! lab_balancer_start; then
	lab_fail "ops: balancer starts" "see $LAB_BALANCER_LOG"
	return 0
fi
check_match "ops: the earlier build's stats map resized, says the log" \
	"stats: 20 counters pinned by an earlier latebind build, [0-9]+ in this one" "$(cat "$LAB_BALANCER_LOG")"
check "ops: ... its counts carried over (drop_eth_trunc $(lab_balancer_counter drop_eth_trunc))" \
	test "$(lab_balancer_counter drop_eth_trunc)" -ge 1000000
check_eq "ops: ... at this build's size" "$(lab_exec_bpf balancer bpftool map show pinned $old_stats |
	grep -o 'max_entries [0-9]*')" "max_entries $(lab_exec_bpf balancer "$LAB_LATEBIND" status |
	awk '/^Counters/ { on = 1; next } /^Dispatcher:/ { on = 0 } on && NF >= 2 { n++ } END { print n }')"

check_match "ops: the earlier build's disp_stats replaced, says the log" \
	"disp_stats: pinned by an earlier latebind build in another shape: replaced" \
	"$(cat "$LAB_BALANCER_LOG")"
# BPF_F_MMAPABLE is 0x400.
check_eq "ops: ... this daemon's rows, mmapable, counting from zero" "flags 0x400 0" \
	"$(lab_exec_bpf balancer bpftool map show pinned $old_disp | grep -o 'flags 0x[0-9a-f]*') \
$(lab_dispatcher_counter decisions)"

# big_download NODE PATH OUT: a slow download (about 8 s) in the background.
big_download() {
	ip netns exec "$(lab_ns "$1")" curl -s --max-time 60 --limit-rate 8M -o "$3" \
		-w '%{http_code}' "http://$VIP$2" >"$3.code" &
}
# session NODE TAG: 60 keep-alive requests (?TAG=1..60), ~6 s, one connection;
# the answers in $LAB_RUN/TAG.
session() {
	ip netns exec "$(lab_ns "$1")" curl -s --max-time 60 --rate 10/s -o /dev/null \
		-w '%{http_code} %{num_connects}\n' "http://$VIP/web3/1k.bin?$2=[1-60]" >"$LAB_RUN/$2" &
}
session_started() { # TAG: its first request is in web3's access log
	grep -qF " /web3/1k.bin?$1=1 " "$(lab_access_log web3)"
}
session_ok() { # OUT: 60 answers of 200 over one connection
	[[ $(grep -c '^200 ' "$1") == 60 && $(awk '{ s += $2 } END { print s }' "$1") == 1 ]]
}
# in_flight PID TAG: download PID still running, session TAG not at its last request.
in_flight() {
	pid_alive "$1" || { echo "download finished already"; return 1; }
	! grep -qF " /web3/1k.bin?$2=60 " "$(lab_access_log web3)" || { echo "session over"; return 1; }
}
flow_packets() { # packets XDP forwarded on client1's flow bound to web1
	lab_exec_bpf balancer "$LAB_LATEBIND" status --flows |
		awk -v c="$CLIENT1_IP:" -v b="$WEB1_IP" 'index($1, c) == 1 && $3 == "bound" && $4 == b { print $5 }'
}
forwarded_more() { (($(flow_packets) > $1)); } # PACKETS: the flow has more now
xdp_id() { # the id of the XDP program on the balancer's interface, or nothing
	ip -n "$BALANCER_NS" -d link show "$LAB_IF" |
		awk '/prog\/xdp/ { for (i = 1; i < NF; i++) if ($i == "id") print $(i + 1) }'
}

# served_only_by BACKEND PATH: PATH (with its unique query) is in BACKEND's access
# log and in no other; false while no log has it yet (nginx logs after sending).
served_only_by() {
	local w
	grep -qF " $2 " "$(lab_access_log "$1")" || return 1
	for w in "${LAB_WEBS[@]}"; do
		if [[ $w != "$1" ]] && grep -qF " $2 " "$(lab_access_log "$w")"; then
			echo "$2 also on $w"
			return 1
		fi
	done
}

# --- reload ---------------------------------------------------------------
# The download is from web1, so web2 is the less loaded holder of /pair/: before
# the reload /pair/ goes to web2, and only a reload that was taken moves it.
dl=$LAB_RUN/ops-dl-1
big_download client1 /web1/64m.bin "$dl"
dl_pid=$!
session client2 ops-session-1
session_pid=$!
check "ops: the download is bound to web1" lab_wait 10 lab_flow_bound "$CLIENT1_IP" "$WEB1_IP"
check "ops: the session is under way" lab_wait 10 session_started ops-session-1
lab_curl client1 -s -o /dev/null "http://$VIP/pair/1k.bin?before-reload=1"
check "ops: before the reload, /pair/ goes to web2 (web1 busier)" \
	lab_wait 5 served_only_by web2 "/pair/1k.bin?before-reload=1"
# /pair/ was on web1 and web2; now only web1 holds it. One route more, so the
# log line tells the new config from the old.
sed -i -e 's|prefix: /pair/, backends: \[web1, web2\]|prefix: /pair/, backends: [web1]|' \
	-e '/^routes:/a\  - {name: reload-probe, host: "*", path: /reload-probe, backends: [web3]}' \
	"$LAB_BALANCER_CONF"
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
check "ops: reload taken (8 routes)" lab_wait 10 lab_log_has "$LAB_BALANCER_LOG" "$mark" \
	"reloaded ${LAB_BALANCER_CONF//./\\.}: 1 VIP\\(s\\), 3 backend slot\\(s\\), 8 route\\(s\\)"
check "ops: the download and the session span the reload" in_flight "$dl_pid" ops-session-1
for i in 1 2 3 4 5 6; do lab_curl client1 -s -o /dev/null "http://$VIP/pair/1k.bin?after-reload=$i"; done
all_on_web1() {
	local i
	for i in 1 2 3 4 5 6; do served_only_by web1 "/pair/1k.bin?after-reload=$i" || return; done
}
check "ops: after reload, /pair/ only from web1 (6 requests)" lab_wait 5 all_on_web1

# A broken config: refused with file and line, and nothing changes.
cp "$LAB_BALANCER_CONF" "$LAB_RUN/ops-good.yaml"
printf 'bogus_key: 1\n' >>"$LAB_BALANCER_CONF"
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
"$LAB_LATEBIND" reload --pid-file "$LAB_RUN/balancer.pid"
check "ops: broken config refused with file:line" lab_wait 10 lab_log_has "$LAB_BALANCER_LOG" \
	"$mark" "reload refused.*${LAB_BALANCER_CONF##*/}:[0-9]+: bogus_key"
not_reloaded() { ! lab_log_has "$LAB_BALANCER_LOG" "$1" '(^|[^a-z])reloaded '; }
check "ops: ... and not taken" not_reloaded "$mark"
cp "$LAB_RUN/ops-good.yaml" "$LAB_BALANCER_CONF"
check_eq "ops: still serving after the refused reload" 200 \
	"$(lab_curl client1 -s -o /dev/null -w '%{http_code}' "http://$VIP/web1/1k.bin")"

wait "$dl_pid" || true
check_eq "ops: download across the reload byte-exact" "200 $(lab_sha256 /web1/64m.bin)" \
	"$(cat "$dl.code") $(sha256sum <"$dl" | cut -d' ' -f1)"
wait "$session_pid" || true
check "ops: keep-alive session across the reload" session_ok "$LAB_RUN/ops-session-1"

# --- restart: SIGKILL, then a new daemon ------------------------------------
dl=$LAB_RUN/ops-dl-2
big_download client1 /web1/64m.bin "$dl"
dl_pid=$!
session client2 ops-session-2
session_pid=$!
check "ops: the second session is under way" lab_wait 10 session_started ops-session-2
# What an operator sees meanwhile: the flow, typed map fields, the program.
check "ops: status --flows lists the download, bound to web1" \
	lab_wait 10 lab_flow_bound "$CLIENT1_IP" "$WEB1_IP"
check_match "ops: status --json is one object" '^\{"vips":\[.*\}$' \
	"$(lab_exec_bpf balancer "$LAB_LATEBIND" status --json --flows)"
check_match "ops: bpftool prints the backends' named fields" '"active": [0-9]+' \
	"$(lab_exec_bpf balancer bpftool map dump pinned /sys/fs/bpf/latebind/backends)"
check_match "ops: xdp-loader status lists the program" "$LAB_IF +lb_xdp +native" \
	"$(lab_exec_bpf balancer xdp-loader status "$LAB_IF")"
old_id=$(lab_number "XDP program id on $LAB_IF" "$(xdp_id)")
kill -KILL "$LAB_BALANCER_PID"
wait "$LAB_BALANCER_PID" 2>/dev/null || true
LAB_BALANCER_PID=
check "ops: the download and the session span the kill" in_flight "$dl_pid" ops-session-2
check_eq "ops: program stays attached after SIGKILL" "prog $old_id" "prog $(xdp_id)"
# No daemon now: the bound download must go on in XDP alone. Its flow's packet
# count, not the file: curl's rate limit lets it read from what is buffered.
pkts=$(lab_number "packets of the download's flow" "$(flow_packets)")
check "ops: XDP forwards the download with no daemon (from $pkts packets)" \
	lab_wait 5 forwarded_more "$pkts"
mark=$(lab_log_mark "$LAB_BALANCER_LOG")
# shellcheck disable=SC2119
lab_balancer_start || lab_fail "ops: new daemon starts" "see $LAB_BALANCER_LOG"
check "ops: new daemon took over atomically" \
	lab_log_has "$LAB_BALANCER_LOG" "$mark" "took over $LAB_IF from the previous latebind program"
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
