# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Redirect mode (docs/architecture.md, "Redirect mode"): routes with
# `redirect:` are answered by the balancer with a redirect to the chosen
# holder's `public:` name instead of a hand-off, beside routes that still hand
# off (a mixed site). Real clients: the exact redirect (status, Location,
# Cache-Control, body), curl -L reaching the right nginx on its own address
# with the right bytes, 307/308 keeping a POST, a template with {host}, the
# choice spread over a route's holders, a later request on a keep-alive
# connection bound to another backend, and chromium loading a page whose
# images are redirected or handed off. Counters: replies by status, decisions,
# nothing held (no flow, no active count).

# shellcheck source=tests/lab/balancer.sh
source "$LAB_DIR/balancer.sh"

RM_TMP=$LAB_RUN/redirect_mode
mkdir -p "$RM_TMP"
LAB_CURL_TIMEOUT=5

# The lab's site with redirects: web1's and web2's own content and /pair/ are
# redirected (web1 by its address, web2 by address:port), web3's and /shared/
# handed off; the browser's page is handed off though under /web1/. For the
# host site.example, web3's content is redirected to web3.site.example.
cat >"$LAB_BALANCER_CONF" <<YAML
interface: $LAB_IF
vips:
  - {address: $VIP, port: $VIP_PORT}
backends:
  - {name: web1, address: $WEB1_IP, mac: "$WEB1_MAC", handoff: $(lab_handoff_of web1), public: "$WEB1_IP"}
  - {name: web2, address: $WEB2_IP, mac: "$WEB2_MAC", handoff: $(lab_handoff_of web2), public: "$WEB2_IP:80"}
  - {name: web3, address: $WEB3_IP, mac: "$WEB3_MAC", handoff: $(lab_handoff_of web3), public: web3}
routes:
  - {name: web1-only, prefix: /web1/, backends: [web1], redirect: {status: 307, url: "http://{public}{path}"}}
  - {name: web2-only, prefix: /web2/, backends: [web2], redirect: {status: 308, url: "http://{public}{path}"}}
  - {name: web3-only, prefix: /web3/, backends: [web3]}
  - {name: page, path: /web1/ka/page.html, backends: [web1]}
  - {name: pair, prefix: /pair/, backends: [web1, web2], redirect: {url: "http://{public}{path}"}}
  - {name: shared, prefix: /shared/, backends: [web1, web2, web3]}
  - {name: named, host: site.example, prefix: /web3/, backends: [web3], redirect: {status: 302, url: "http://{public}.{host}{path}"}}
  - {name: index, path: /, backends: [web1, web2, web3]}
cookie: {key_file: $LAB_RUN/cookie.key}
YAML

lab_cookie_key
# shellcheck disable=SC2119 # every backend
if ! lab_backends_attach; then
	lab_fail "redirect_mode: backends attach" "latebind backend attach failed"
	return 0
fi
out=$("$LAB_LATEBIND" check-config "$LAB_BALANCER_CONF" 2>&1)
check_match "redirect_mode: check-config shows the redirects and public names" \
	"redirect +routes: 4 \(the first: 307 http://\{public\}\{path\}\).*public +web1 $WEB1_IP, web2 $WEB2_IP:80, web3 web3" \
	"$(tr '\n' ' ' <<<"$out")"
if ! lab_balancer_start --verbose; then
	lab_fail "redirect_mode: balancer starts" "see $LAB_BALANCER_LOG"
	# shellcheck disable=SC2119
	lab_backends_detach
	return 0
fi

declare -A RM_MARK
rm_marks() {
	local w
	for w in "${LAB_WEBS[@]}"; do RM_MARK[$w]=$(lab_log_mark "$(lab_access_log "$w")"); done
}
# rm_served TAG: "BACKEND METHOD STATUS SERVER_ADDR" for each access-log line of a
# request tagged ?rm=TAG since rm_marks (SERVER_ADDR: real address or the VIP).
rm_served() {
	local w
	for w in "${LAB_WEBS[@]}"; do
		lab_log_since "$(lab_access_log "$w")" "${RM_MARK[$w]}" | awk -v t="$1" '
			$7 ~ "[?&]rm=" t "$" { sub(/^"/, "", $6); sub(/:[0-9]+$/, "", $5); print $2, $6, $9, $5 }'
	done | paste -sd,
}
rm_logged() { [[ -n $(rm_served "$1") ]]; }

declare -A before after
lab_counters_snap before

# --- the redirect itself, exactly ---------------------------------------------------
out=$(lab_curl client1 -si "http://$VIP/web1/1k.bin?rm=exact&x=%41")
want_loc="http://$WEB1_IP/web1/1k.bin?rm=exact&x=%41"
want_body="307 Temporary Redirect: $want_loc"
want=$(printf '%s\n' "HTTP/1.1 307 Temporary Redirect" "Server: latebind" "Location: $want_loc" \
	"Cache-Control: no-store" "Content-Type: text/plain" "Content-Length: $((${#want_body} + 1))" \
	"Connection: close" "" "$want_body")
check_eq "redirect_mode: 307 with Location (path and query as sent), no-store, body, close" \
	"$want" "$(tr -d '\r' <<<"$out")"
out=$(lab_curl client2 -sI "http://$VIP/web2/1k.bin?rm=head")
check_match "redirect_mode: 308 to address:port, HEAD without a body" \
	"^HTTP/1.1 308 Permanent Redirect.*Location: http://$WEB2_IP:80/web2/1k.bin\?rm=head.*Cache-Control: no-store.*Content-Length: [0-9]+.*Connection: close *$" \
	"$(tr -d '\r' <<<"$out" | tr '\n' ' ')"
# Bytes a Location must not carry unencoded come out as %XX ("|" is a query byte
# clients send, not a URI character).
out=$(lab_curl client1 -si "http://$VIP/web1/1k.bin?rm=enc&a=|b")
check_match "redirect_mode: a query byte outside RFC 3986 is percent-encoded" \
	"Location: http://$WEB1_IP/web1/1k.bin\?rm=enc&a=%7Cb" "$(tr -d '\r' <<<"$out")"

# --- curl -L: the right nginx, on its own address, the right bytes ----------------
# follow NODE PATH TAG [CURL ARGS]: "CODE REDIRECTS SERVER_IP" of curl -L, body in $RM_TMP/TAG.
follow() {
	local node=$1 path=$2 tag=$3
	shift 3
	lab_curl "$node" -sL "$@" -o "$RM_TMP/$tag" -w '%{http_code} %{num_redirects} %{remote_ip}' \
		"http://$VIP$path?rm=$tag"
}
sum_ok() { [[ $(sha256sum <"$RM_TMP/$2" 2>/dev/null) == "$(lab_sha256 "$1") "* ]] && echo ok || echo differs; }

rm_marks
got=$(follow client1 /web1/1m.bin l1)
check_eq "redirect_mode: curl -L /web1/1m.bin: 200 from web1's address after one redirect; bytes" \
	"200 1 $WEB1_IP ok" "$got $(sum_ok /web1/1m.bin l1)"
got=$(follow client2 /web2/1k.bin l2)
check_eq "redirect_mode: curl -L /web2/1k.bin: 200 from web2's address:port; bytes" \
	"200 1 $WEB2_IP ok" "$got $(sum_ok /web2/1k.bin l2)"
lab_wait 5 rm_logged l1 || true
lab_wait 5 rm_logged l2 || true
check_eq "redirect_mode: web1 and web2 served them on their real addresses (access logs)" \
	"web1 GET 200 $WEB1_IP|web2 GET 200 $WEB2_IP" "$(rm_served l1)|$(rm_served l2)"

# 307 and 308 keep the method and body: the POST reaches web2 as a POST.
rm_marks
got=$(follow client1 /web2/1k.bin post -d 'x=1')
lab_wait 5 rm_logged post || true
check_eq "redirect_mode: a POST redirected by 308 arrives at web2 as a POST" \
	"web2 POST 405 $WEB2_IP" "$(rm_served post)"

# --- the mixed site: other routes still hand off ------------------------------------
rm_marks
got=$(follow client2 /web3/1k.bin h3)
lab_wait 5 rm_logged h3 || true
check_eq "redirect_mode: /web3/ handed off: no redirect, web3 answers for the VIP; bytes" \
	"200 0 $VIP ok web3 GET 200 $VIP" "$got $(sum_ok /web3/1k.bin h3) $(rm_served h3)"
got=$(follow client1 /shared/1k.bin sh)
check_eq "redirect_mode: /shared/ handed off" "200 0 $VIP ok" "$got $(sum_ok /shared/1k.bin sh)"

# --- {host}: the request's host in the Location -----------------------------------------
resolve=(--resolve "site.example:80:$VIP" --resolve "web3.site.example:80:$WEB3_IP")
out=$(lab_curl client1 -si "${resolve[@]}" "http://site.example/web3/1k.bin?rm=host")
check_match "redirect_mode: {host}: 302 to http://web3.site.example/... for Host site.example" \
	"^HTTP/1.1 302 Found.*Location: http://web3\.site\.example/web3/1k\.bin\?rm=host " \
	"$(tr -d '\r' <<<"$out" | tr '\n' ' ')"
rm_marks
got=$(lab_curl client1 -sL "${resolve[@]}" -o "$RM_TMP/hl" -w '%{http_code} %{num_redirects} %{remote_ip}' \
	"http://site.example/web3/1k.bin?rm=hl")
lab_wait 5 rm_logged hl || true
check_eq "redirect_mode: {host}: curl -L reaches web3 on its address; bytes" \
	"200 1 $WEB3_IP ok web3 GET 200 $WEB3_IP" "$got $(sum_ok /web3/1k.bin hl) $(rm_served hl)"

# --- the choice: least loaded among the holders, redirects counted as load ----------
# Each redirect counts on its backend for a while (half-life 1 s), so back-to-back
# requests for /pair/ alternate between web1 and web2 instead of all going to one.
locs=""
for i in 1 2 3 4 5 6; do
	locs+=$(lab_curl client2 -s -o /dev/null -w '%{redirect_url} ' "http://$VIP/pair/1k.bin?rm=p$i")
done
n1=$(grep -o "http://$WEB1_IP/" <<<"$locs" | wc -l)
n2=$(grep -o "http://$WEB2_IP:80/" <<<"$locs" | wc -l)
echo "# /pair/ redirects: web1 $n1, web2 $n2"
check_eq "redirect_mode: /pair/ redirects spread over both holders (6 in all, each some)" \
	"6 yes" "$((n1 + n2)) $( ((n1 > 0 && n2 > 0)) && echo yes || echo "no: $locs")"

# --- a later request on a keep-alive connection bound to another backend ----------------
# web3 gets the first request (hand-off); the second, for web1's content, is held
# until web3 has answered, web3's socket is retired, and the balancer answers the
# redirect on the connection itself, then closes it.
rm_marks
out=$(lab_curl client1 --http1.1 -s -o "$RM_TMP/ka1" -o "$RM_TMP/ka2" \
	-w '%{http_code} %{num_connects} %{local_port} %{redirect_url}\n' \
	"http://$VIP/web3/1k.bin?rm=ka1" "http://$VIP/web1/1k.bin?rm=ka2")
port=$(awk 'NR == 1 { print $3 }' <<<"$out")
check_eq "redirect_mode: keep-alive: web3's answer, then a 307 to web1 on the same connection" \
	"200 1 $port | 307 0 $port http://$WEB1_IP/web1/1k.bin?rm=ka2 | ok" \
	"$(awk '{ $1 = $1; print }' <<<"$out" | paste -sd'|' | sed 's/|/ | /g') | $(sum_ok /web3/1k.bin ka1)"
check "redirect_mode: keep-alive: web3 keeps no socket for the connection" \
	lab_wait 5 lab_no_backend_socket "$port"

# --- counters: replies by status, decisions, nothing held ------------------------------------
# A reply is counted before it is sent, in the thread's row that `status`
# reads: one snapshot, taken at once, has them all.
lab_counters_snap after
replies() { echo "$(grew before after reply_307) $(grew before after reply_308) $(grew before after reply_302)"; }
check_eq "redirect_mode: reply_307/308/302 counted (307: exact, enc, 6 pair, ka2, l1; 308: head, l2, post; 302: host, hl)" \
	"10 3 2" "$(replies)"
check "redirect_mode: no flow and no active count left (redirects hold nothing)" lab_wait 8 lab_settled

# --- a browser: a handed-off page, images redirected or handed off ----------------------------
# The page (web1, /web1/ka/page.html, handed off) loads /web1/, /web2/, /web3/ka/dot.svg
# one after another on its connection: web1's stays on web1 (the connection is
# bound to a holder), web2's is redirected (308) to web2's address, web3's handed
# off. Each image's width names its holder.
if ! command -v chromium >/dev/null; then
	lab_fail "redirect_mode: browser: chromium installed" "scripts/deps.sh installs it"
else
	rm_marks
	seen=$(lab_browser_widths "$RM_TMP" "http://$VIP/web1/ka/page.html")
	check_eq "redirect_mode: browser: every image loaded, each from its holder (naturalWidth)" \
		"0 widths web1=21 web2=22 web3=23" "$seen"
	svg_on_web2() {
		lab_log_since "$(lab_access_log web2)" "${RM_MARK[web2]}" |
			grep -q " -> $WEB2_IP:80 \"GET /web2/ka/dot.svg HTTP/1.1\" 200 "
	}
	check "redirect_mode: browser: web2's image came from web2's own address (followed the 308)" \
		lab_wait 5 svg_on_web2
	browser_gone() { [[ -z $(ip netns pids "$CLIENT1_NS") ]]; }
	if ! lab_wait 5 browser_gone; then
		left=$(ip netns pids "$CLIENT1_NS" | paste -sd' ')
		lab_fail "redirect_mode: browser: no process of it left in client1" "left: $left"
		# shellcheck disable=SC2086 # PIDs
		lab_stop_pids 5 $left
	fi
	rm -rf "$RM_TMP/chromium-home"
fi

rm -rf "$RM_TMP"
rc=0
lab_balancer_stop || rc=$?
check_eq "redirect_mode: balancer exits 0 on SIGTERM" 0 "$rc"
# shellcheck disable=SC2119
lab_backends_detach
