# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Per-request binding on keep-alive connections, in the lab's mode (run.sh runs
# it in the cookie, replay and mixed passes): every request on a connection goes
# to a holder of its own resource, which answers the client directly, and a
# backend the connection left keeps no socket for it. Real clients through the
# VIP: curl fetching several backends' objects on one connection (small ones,
# then 1 MiB ones), two requests for two backends in one write, a POST with a
# body and then a GET, chromium loading a page whose images are on web1, web2
# and web3; the dispatcher's counters for all this.

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach; then
	lab_fail "keepalive: backends attach" "latebind backend attach failed"
	return 0
fi
lab_pass "keepalive: backends attach"
lab_balancer_config
# shellcheck disable=SC2119 # no extra daemon options
if ! lab_balancer_start; then
	lab_fail "keepalive: balancer starts" "see $LAB_BALANCER_LOG"
	# shellcheck disable=SC2119
	lab_backends_detach
	return 0
fi

KA_TMP=$LAB_RUN/keepalive
mkdir -p "$KA_TMP"
# Per transfer: a lab transfer takes well under a second (1 MiB included); a
# request the balancer lost fails its transfer in 5 s instead of hanging the test.
LAB_CURL_TIMEOUT=5

# --- helpers --------------------------------------------------------------------

# Marks of the three access logs, so served() reads what came after them.
declare -A KA_MARK
ka_marks() {
	local w
	for w in "${LAB_WEBS[@]}"; do KA_MARK[$w]=$(lab_log_mark "$(lab_access_log "$w")"); done
}

# served TAG: who logged the request tagged ?ka=TAG since ka_marks, one
# "BACKEND:METHOD:STATUS:CLIENT_PORT" each (nothing: no backend saw it).
served() {
	local w
	for w in "${LAB_WEBS[@]}"; do
		lab_log_since "$(lab_access_log "$w")" "${KA_MARK[$w]}" | awk -v t="$1" '
			$7 ~ "[?]ka=" t "$" {
				n = split($3, a, ":")
				sub(/^"/, "", $6)
				printf "%s:%s:%s:%s\n", $2, $6, $9, a[n]
			}'
	done | paste -sd' '
}

# logged TAG...: every TAG is in some backend's access log (nginx writes its
# line as it finishes sending, so the client may be done a moment sooner).
logged() {
	local t
	for t; do [[ -n $(served "$t") ]] || return 1; done
}

# holder_of PATH: the backend whose own prefix PATH is under (/web2/1m.bin -> web2).
holder_of() {
	local p=${1#/}
	echo "${p%%/*}"
}

# on_one_connection NODE TAG PATH...: HTTP/1.1 keep-alive from NODE, one curl
# fetching each PATH in turn, tagged ?ka=TAG-N, into $KA_TMP/TAG-N. Prints per
# transfer "CODE CONNECTS CLIENT_PORT" (CONNECTS: connections it opened).
# KA_CURL_ARGS: more arguments for that curl.
on_one_connection() {
	local node=$1 tag=$2 p n=0 args=()
	shift 2
	for p; do
		n=$((n + 1))
		args+=(-o "$KA_TMP/$tag-$n" "http://$VIP$p?ka=$tag-$n")
	done
	lab_curl "$node" --http1.1 ${KA_CURL_ARGS[@]+"${KA_CURL_ARGS[@]}"} \
		-w '%{http_code} %{num_connects} %{local_port}\n' "${args[@]}"
}

# check_one_connection NAME NODE TAG PATH...: the PATHs fetched by one curl on
# one connection, each from its holder: every answer 200, one connection and one
# client port, every body as the manifest says, each request in its holder's
# access log (only there) from that port. Sets KA_PORT to the client port.
check_one_connection() {
	local name=$1 node=$2 tag=$3 out p n=0 codes="" conns="" sums="" want_codes="" \
		want_conns="" want_sums="" want_served="" got_served="" tags=()
	shift 3
	ka_marks
	out=$(on_one_connection "$node" "$tag" "$@")
	KA_PORT=$(awk 'NR == 1 { print $3 }' <<<"$out")
	for p; do
		n=$((n + 1))
		tags+=("$tag-$n")
		want_codes+="200 "
		want_conns+="$((n == 1)) "
		want_sums+="ok "
		if [[ $(sha256sum <"$KA_TMP/$tag-$n" 2>/dev/null) == "$(lab_sha256 "$p") "* ]]; then
			sums+="ok "
		else
			sums+="differs "
		fi
		want_served+="$(holder_of "$p"):GET:200:$KA_PORT "
	done
	codes=$(awk '{ printf "%s ", $1 }' <<<"$out")
	conns=$(awk '{ printf "%s ", $2 }' <<<"$out")
	check_eq "$name: every answer 200" "$want_codes" "$codes"
	check_eq "$name: one connection (connections opened per transfer; client ports)" \
		"$want_conns/ 1 port" "$conns/ $(awk '{ print $3 }' <<<"$out" | sort -u | wc -l) port"
	check_eq "$name: every body as the manifest says (sha256 per transfer)" "$want_sums" "$sums"
	lab_wait 5 logged "${tags[@]}" || true
	for n in "${tags[@]}"; do got_served+="$(served "$n") "; done
	check_eq "$name: each request logged by its holder alone, from the connection's port" \
		"$want_served" "$got_served"
	rm -f "$KA_TMP/$tag"-*
}

# --- small objects on one connection: web1, web2, web3, web1 --------------------

# shellcheck disable=SC2034 # read by grew, through namerefs
declare -A D0 D1 D2 D4 D5 D6 D6b D7 D7p D8 D8b D8c
small=(/web1/only-on-web1.html /web2/only-on-web2.html /web3/only-on-web3.html /web1/1k.bin)
# Backend changes in the sequence: web1 → web2 → web3 → web1.
changes=0
for ((i = 1; i < ${#small[@]}; i++)); do
	[[ $(holder_of "${small[i]}") != "$(holder_of "${small[i - 1]}")" ]] && changes=$((changes + 1))
done
# What the backends' programs count of parking (docs/parked-sockets.md): only
# cookie-mode backends keep the socket a connection leaves.
parking() {
	echo "web1 resumed $(lab_backend_counter web1 resumed)," \
		"web2 retired $(lab_backend_counter web2 parked_retired)," \
		"web3 retired $(lab_backend_counter web3 parked_retired)"
}
is_cookie() { [[ $(lab_handoff_of "$1") == cookie ]] && echo 1 || echo 0; }
parked0=$(parking)
lab_counters_snap D0
check_one_connection "keepalive: web1, web2, web3, web1 on one connection" client1 small "${small[@]}"
lab_wait 3 lab_counter_grown D0 rebinds "$changes" || true
lab_counters_snap D1
port1=$KA_PORT

# --- the backends the connection passed through let it go -----------------------
# curl has closed the connection: its last backend gets the FIN and closes, and
# the ones it left before must not hold a socket for it either (left established
# or half-closed, nginx would keep it until its keepalive_timeout, 75 s). The
# FINs and their ACKs take milliseconds here; 5 s leave room for a FIN
# retransmitted a few times.
t0=$(lab_now_ms)
if [[ $port1 =~ ^[0-9]+$ ]] && lab_wait 5 lab_no_backend_socket "$port1"; then
	lab_pass "keepalive: after it closed, no backend holds a socket for its port ($(($(lab_now_ms) - t0)) ms)"
else
	lab_fail "keepalive: after it closed, no backend holds a socket for its port" \
		"client port '$port1', after 5 s" "$(lab_backend_sockets "$port1")"
fi

# Back on web1, the socket it left there idle was taken up again; web2's and
# web3's, left parked, were retired once the connection closed.
# shellcheck disable=SC2086 # word lists
diff_parking() {
	local -a a b
	read -r -a a <<<"${1//,/}"
	read -r -a b <<<"${2//,/}"
	echo "web1 resumed $((b[2] - a[2])), web2 retired $((b[5] - a[5])), web3 retired $((b[8] - a[8]))"
}
check_eq "keepalive: web1's socket resumed, web2's and web3's retired at the close (cookie mode only)" \
	"web1 resumed $(is_cookie web1), web2 retired $(is_cookie web2), web3 retired $(is_cookie web3)" \
	"$(diff_parking "$parked0" "$(parking)")"

# --- counters: a backend change is a re-bind ------------------------------------
later=$((${#small[@]} - 1))
n=$(grew D0 D1 requests_next)
check "keepalive: requests_next grew by the $later later requests (+$n)" test "$n" -ge "$later"
n=$(grew D0 D1 rebinds)
check "keepalive: rebinds grew by the $changes backend changes (+$n)" test "$n" -ge "$changes"
parks=0
for ((i = 1; i < ${#small[@]}; i++)); do
	from=$(holder_of "${small[i - 1]}")
	[[ $(holder_of "${small[i]}") != "$from" ]] && parks=$((parks + $(is_cookie "$from")))
done
check_eq "keepalive: rebinds_parked counts the moves away from a cookie-mode backend" \
	"$parks" "$(grew D0 D1 rebinds_parked)"

# Two objects of one backend on one connection: the second stays where it is.
# Its route's prefix is the flow's same-holder hint, so XDP forwards it itself.
check_one_connection "keepalive: web1, web1 on one connection" client1 same \
	/web1/only-on-web1.html /web1/1k.bin
lab_counters_snap D2
n=$(grew D1 D2 tx_same_holder)
check "keepalive: ... XDP kept the second request on web1 by the hint (tx_same_holder +$n)" \
	test "$n" -ge 1
check_eq "keepalive: ... the dispatcher saw no later request, nothing moved" "0 0" \
	"$(grew D1 D2 requests_next) $(grew D1 D2 rebinds)"

# The same with a header the hint leaves to the dispatcher (a Content-Length
# could mean a body): the dispatcher keeps it on web1.
# shellcheck disable=SC2034 # read by on_one_connection
KA_CURL_ARGS=(-H 'Content-Length: 0')
declare -A D3
check_one_connection "keepalive: web1, web1, Content-Length: 0, on one connection" client1 same \
	/web1/only-on-web1.html /web1/1k.bin
KA_CURL_ARGS=()
lab_wait 3 lab_counter_grown D2 requests_same_holder 1 || true
lab_counters_snap D3
n=$(grew D2 D3 requests_same_holder)
check "keepalive: ... requests_same_holder grew (+$n)" test "$n" -ge 1
check_eq "keepalive: ... not by the hint, nothing moved" "0 0" \
	"$(grew D2 D3 tx_same_holder) $(grew D2 D3 rebinds)"

# --- 1 MiB from each backend on one connection ----------------------------------

lab_counters_snap D6b
check_one_connection "keepalive: 1 MiB from web1, web2, web3 on one connection" client2 big \
	/web1/1m.bin /web2/1m.bin /web3/1m.bin
# Both moves counted before the next snapshot, which must not take in one of them.
lab_wait 3 lab_counter_grown D6b rebinds 2 || true
lab_counters_snap D7p
n=$(grew D6b D7p rebinds)
check_eq "keepalive: 1 MiB from web1, web2, web3: two re-binds (rebinds)" 2 "$n"

# --- two requests for two backends in one write ---------------------------------
# One write of both heads (cat of a file: bash's printf would write line by
# line), the second asking to close, so the reading ends when the last answer
# is complete; at most 5 s. The second waits until web1's answer to the first
# is proven complete (its Content-Length, read by web1's egress program), then
# moves to web2: each answered by its holder, in request order.
# pipelined_get NAME TAG PATH1 PATH2: both in one write from client2; sets PIPE_OUT.
pipelined_get() {
	local tag=$2 rc=0
	printf 'GET %s?ka=%s-1 HTTP/1.1\r\nHost: lab\r\n\r\nGET %s?ka=%s-2 HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n' \
		"$3" "$tag" "$4" "$tag" >"$KA_TMP/$tag.req"
	ka_marks
	# shellcheck disable=SC2016 # expanded by the inner bash
	lab_exec client2 timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		cat "$2" >&3
		cat <&3' "$VIP" "$VIP_PORT" "$KA_TMP/$tag.req" >"$KA_TMP/$tag.out" || rc=$?
	check_eq "$1: the connection ends by itself, no hang (exit status)" 0 "$rc"
	PIPE_OUT=$KA_TMP/$tag.out
}

# pipe_bodies FILE: "STATUS SHA256 " per answer in FILE, bodies cut by Content-Length.
pipe_bodies() {
	python3 - "$1" <<'PY'
import hashlib, re, sys
data = open(sys.argv[1], 'rb').read()
out = []
while data:
    end = data.find(b'\r\n\r\n')
    if end < 0:
        break
    head = data[:end].decode('latin-1')
    m = re.match(r'HTTP/1\.1 (\d+)', head)
    n = re.search(r'(?im)^content-length:\s*(\d+)', head)
    if not m or not n:
        break
    body = data[end + 4:end + 4 + int(n.group(1))]
    out.append('%s %s' % (m.group(1), hashlib.sha256(body).hexdigest()))
    data = data[end + 4 + int(n.group(1)):]
print(' '.join(out))
PY
}

pipelined_get "keepalive: pipelined" pipe /web1/only-on-web1.html /web2/only-on-web2.html
lab_wait 3 lab_counter_grown D7p rebinds 1 || true
lab_counters_snap D8
check_eq "keepalive: pipelined: each answered by its holder, in request order, bodies as the manifest says" \
	"200 $(lab_sha256 /web1/only-on-web1.html) 200 $(lab_sha256 /web2/only-on-web2.html)" \
	"$(pipe_bodies "$PIPE_OUT")"
lab_wait 5 logged pipe-1 pipe-2 || true
first=$(served pipe-1)
second=$(served pipe-2)
check_eq "keepalive: pipelined: logged by web1 and web2, from one client port" \
	"web1:GET:200:${first##*:} web2:GET:200:${first##*:}" "$first $second"
check_eq "keepalive: pipelined: moved once the first answer was proven complete (rebinds, pipelined_proven, stays_pipelined)" \
	"1 1 0" "$(grew D7p D8 rebinds) $(grew D7p D8 pipelined_proven) $(grew D7p D8 stays_pipelined)"

lab_counters_snap D8b
pipelined_get "keepalive: pipelined 1 MiB" pipebig /web2/1m.bin /web3/1m.bin
lab_wait 3 lab_counter_grown D8b rebinds 1 || true
lab_counters_snap D8c
check_eq "keepalive: pipelined 1 MiB: web2's then web3's, whole (sha256)" \
	"200 $(lab_sha256 /web2/1m.bin) 200 $(lab_sha256 /web3/1m.bin)" "$(pipe_bodies "$PIPE_OUT")"
lab_wait 5 logged pipebig-1 pipebig-2 || true
check_match "keepalive: pipelined 1 MiB: logged by web2 then web3" "^web2:GET:200:.* web3:GET:200:" \
	"$(served pipebig-1) $(served pipebig-2)"
check_eq "keepalive: pipelined 1 MiB: moved once proven (rebinds, pipelined_proven)" \
	"1 1" "$(grew D8b D8c rebinds) $(grew D8b D8c pipelined_proven)"

# --- a request with a body, then one for another backend ------------------------
# nginx answers a POST to a static file 405 and keeps the connection: what
# matters is who answered. 6000 bytes of body, so it spans several segments; no
# "Expect: 100-continue" (curl would wait for an interim answer first).
head -c 6000 /dev/zero | tr '\0' 'b' >"$KA_TMP/post.body"
ka_marks
out=$(lab_curl client1 --http1.1 -H 'Expect:' --data-binary "@$KA_TMP/post.body" -o /dev/null \
	-w '%{http_code} %{num_connects} %{local_port}\n' "http://$VIP/web1/only-on-web1.html?ka=post-1" \
	--next --http1.1 -sS --connect-timeout 3 --max-time "$LAB_CURL_TIMEOUT" -o "$KA_TMP/post-2" \
	-w '%{http_code} %{num_connects} %{local_port}\n' "http://$VIP/web2/only-on-web2.html?ka=post-2")
port=$(awk 'NR == 1 { print $3 }' <<<"$out")
check_eq "keepalive: POST with a body, then GET: 405 from web1, then 200, on one connection" \
	"405 1 $port|200 0 $port|" "$(tr '\n' '|' <<<"$out")"
check_eq "keepalive: ... the GET's body is web2's" "$(lab_sha256 /web2/only-on-web2.html)" \
	"$(sha256sum <"$KA_TMP/post-2" 2>/dev/null | cut -d' ' -f1)"
lab_wait 5 logged post-1 post-2 || true
check_eq "keepalive: ... each logged by its holder alone, from the connection's port" \
	"web1:POST:405:$port web2:GET:200:$port" "$(served post-1) $(served post-2)"

# --- a later request the balancer answers itself -------------------------------
# No route for the second request: the balancer's own 404, on the same
# connection, once web1 is retired; then it closes the connection (curl opens a
# new one for the third).
ka_marks
lab_counters_snap D4
out=$(on_one_connection client1 own /web1/only-on-web1.html /no/such/thing /web2/only-on-web2.html)
lab_wait 3 lab_counter_grown D4 reply_404 1 || true
lab_counters_snap D5
check_eq "keepalive: a later request with no route: 200, the balancer's 404 on the same connection, then a new one" \
	"200 1|404 0|200 1|" "$(awk '{ printf "%s %s|", $1, $2 }' <<<"$out")"
check_eq "keepalive: ... the 404 was the balancer's (reply_404 +1), no backend logged it" "1 " \
	"$(grew D4 D5 reply_404) $(served own-2)"
lab_wait 5 logged own-1 own-3 || true
check_eq "keepalive: ... the others from their holders" "web1:GET:200 web2:GET:200" \
	"$(served own-1 | cut -d: -f1-3) $(served own-3 | cut -d: -f1-3)"

# --- a chunked body: where it ends is not followed, the connection stays --------
# A chunked POST to web1 leaves the connection with web1 for good (stays_body):
# the GET for web2's page after it gets web1's 404, the documented limit.
printf '5\r\nhello\r\n0\r\n\r\n' >"$KA_TMP/chunked.body"
ka_marks
lab_counters_snap D6
out=$(lab_curl client1 --http1.1 -H 'Expect:' -H 'Transfer-Encoding: chunked' \
	--data-binary "@$KA_TMP/chunked.body" -o /dev/null -w '%{http_code} %{num_connects}\n' \
	"http://$VIP/web1/only-on-web1.html?ka=chunk-1" --next --http1.1 -sS --connect-timeout 3 \
	--max-time "$LAB_CURL_TIMEOUT" -o /dev/null -w '%{http_code} %{num_connects}\n' \
	"http://$VIP/web2/only-on-web2.html?ka=chunk-2")
lab_wait 3 lab_counter_grown D6 stays_body 1 || true
lab_counters_snap D7
lab_wait 5 logged chunk-1 chunk-2 || true
check_eq "keepalive: chunked POST, then GET: both on web1, one connection, stays_body +1" \
	"405 1|404 0| web1:POST:405 web1:GET:404 1" \
	"$(tr '\n' '|' <<<"$out") $(served chunk-1 | cut -d: -f1-3) $(served chunk-2 | cut -d: -f1-3) $(grew D6 D7 stays_body)"

# --- a browser: a page on web1, its images on web1, web2, web3 ------------------
# The page (lab.sh, keepalive_page) loads its images one after another, so the
# browser asks for each on the connection the page came on, and writes their
# naturalWidth into the document: 21, 22, 23 px are web1's, web2's, web3's image.
if ! command -v chromium >/dev/null; then
	# Installed like the lab's other tools (make deps); a fresh machine may not
	# have run it yet.
	echo "# chromium is missing: scripts/deps.sh installs it"
	timeout 100 "$LAB_ROOT/scripts/deps.sh" >"$KA_TMP/deps.log" 2>&1 || true
fi
if ! command -v chromium >/dev/null; then
	lab_fail "keepalive: browser: chromium installed" "scripts/deps.sh did not install it" \
		"$(tail -n 5 "$KA_TMP/deps.log" 2>/dev/null)"
else
	ka_marks
	seen=$(lab_browser_widths "$KA_TMP" "http://$VIP/web1/ka/page.html")
	rc=${seen%% *} widths=${seen#* }
	check_eq "keepalive: browser: chromium loaded the page, its script ran (exit status; DOM)" \
		"0 yes" "$rc $([[ $widths == widths\ * ]] && echo yes || echo "no: '$widths'")"
	check_eq "keepalive: browser: every image loaded, each from its holder (naturalWidth)" \
		"widths web1=21 web2=22 web3=23" "$widths"
	# Where the browser asked for what (its choice of connections, for the record).
	echo "# browser's requests: $(for w in "${LAB_WEBS[@]}"; do
		lab_log_since "$(lab_access_log "$w")" "${KA_MARK[$w]}" |
			awk -v c="$CLIENT1_IP" 'index($3, c ":") == 1 { print $2, $3, $7, $9 }'
	done | paste -sd,)"
	# Nothing of the browser outlives it (a child would keep running in client1).
	browser_gone() { [[ -z $(ip netns pids "$CLIENT1_NS") ]]; }
	if lab_wait 5 browser_gone; then
		lab_pass "keepalive: browser: no process of it left in client1"
	else
		left=$(ip netns pids "$CLIENT1_NS" | paste -sd' ')
		lab_fail "keepalive: browser: no process of it left in client1" "left: $left"
		# shellcheck disable=SC2086 # PIDs
		lab_stop_pids 5 $left
	fi
	rm -rf "$KA_TMP/chromium-home"
fi

# --- the end: every flow gone, every active count back to 0 ---------------------
check "keepalive: flows and active counts settle" lab_wait_settled 8

# --- a balancer that stops retires what it parked -------------------------------
# A connection moves from web1 to web2 and stays open, idle, while the balancer
# stops. Its flows go with it, so it retires web1's parked socket first; left,
# nginx would close it in 75 s, its FIN going to the client. The test then ends
# the connection itself (ss -K, both ends): no balancer is left to carry its close.
release=$KA_TMP/held-release
# shellcheck disable=SC2016 # expanded by the inner bash
lab_exec client1 timeout 30 bash -c '
	export LC_ALL=C
	exec 3<>"/dev/tcp/$0/$1" || exit 1
	for p in /web1/only-on-web1.html /web2/only-on-web2.html; do
		printf "GET %s?ka=held HTTP/1.1\r\nHost: %s\r\n\r\n" "$p" "$0" >&3
		len=0
		while IFS= read -r -t 5 line <&3; do
			line=${line//[[:cntrl:]]/}
			[[ -z $line ]] && break
			[[ ${line,,} == content-length:* ]] && len=${line#*: }
		done
		read -r -t 5 -N "$len" _ <&3 || exit 1
	done
	echo answered
	for ((i = 0; i < 200; i++)); do
		if [[ -e $2 ]]; then exit 0; fi
		sleep 0.1
	done
	exit 1' "$VIP" "$VIP_PORT" "$release" >"$KA_TMP/held.out" &
held=$!
answered() { grep -q answered "$KA_TMP/held.out"; }
check "keepalive: stop: a connection answered by web1, then web2, held open" lab_wait 10 answered
port=$(lab_exec client1 ss -tnH state established dst "$VIP" | awk '{ split($3, a, ":"); print a[2]; exit }')
on_web1() { lab_backend_sockets "$port" | grep '^web1: '; }
retired0=$(lab_backend_counter web1 parked_retired)
check_eq "keepalive: stop: web1 keeps its socket for the connection while it runs (cookie mode only)" \
	"$(is_cookie web1)" "$(on_web1 | wc -l)"
rc=0
lab_balancer_stop || rc=$?
check_eq "keepalive: balancer exits 0 on SIGTERM" 0 "$rc"
no_web1_socket() { [[ -z $(on_web1) ]]; }
check "keepalive: stop: web1's parked socket retired as the balancer stopped" lab_wait 3 no_web1_socket
check_eq "keepalive: stop: ... by the balancer's retire (web1 parked_retired; the log)" \
	"$(is_cookie web1) $(is_cookie web1)" \
	"$(($(lab_backend_counter web1 parked_retired) - retired0)) $(grep -c 'stopping: 1 parked socket(s) retired' "$LAB_BALANCER_LOG")"
touch "$release"
wait "$held" || true
lab_exec web2 ss -K dst "$CLIENT1_IP:$port" >/dev/null 2>&1 || true
lab_exec client1 ss -K dst "$VIP" dport = "$VIP_PORT" >/dev/null 2>&1 || true
rm -rf "$KA_TMP"
# shellcheck disable=SC2119
lab_backends_detach
