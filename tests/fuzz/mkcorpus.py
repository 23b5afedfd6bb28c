#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the seed corpora under tests/fuzz/corpus/<fuzzer>/ (committed).

Run it again after changing a harness's input format; it rewrites only the
seeds it knows (files named seed-*), and leaves reproducers (b*-*) alone.
Each seed is a small, readable case: a good input and the hostile ones the
fuzzer should start from. The byte layouts are those the harnesses read
(see the comment at the top of each fuzz_*.c).
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(fuzzer, name, data):
    d = os.path.join(CORPUS, fuzzer)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clean(fuzzer):
    d = os.path.join(CORPUS, fuzzer)
    if os.path.isdir(d):
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))


# ---- http: ctl byte, [3 limit bytes], 2-byte cut, then a head (or a path) ----

HEADS = {
    "get": "GET /images/a.jpg HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
    "get10": "GET / HTTP/1.0\r\n\r\n",
    "absolute": "GET http://Example.COM:8080/a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
    "options-star": "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "post-cl": "POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello",
    "post-chunked": "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "pipelined": "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
    "leading-crlf": "\r\n\r\nHEAD /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    "dots": "GET /a/../secret HTTP/1.1\r\nHost: a\r\n\r\n",
    "pct-dots": "GET /%2e%2e/%2E%2e/secret HTTP/1.1\r\nHost: a\r\n\r\n",
    "double-slash": "GET //secret//x HTTP/1.1\r\nHost: a\r\n\r\n",
    "pct-slash": "GET /public%2F..%2Fsecret HTTP/1.1\r\nHost: a\r\n\r\n",
    "abs-other-host": "GET http://evil.example/secret HTTP/1.1\r\nHost: a.example\r\n\r\n",
    "dup-host": "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "host-case": "GET / HTTP/1.1\r\nHOST: A.Example.\r\n\r\n",
    "cl-te": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
    "cl-twice": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\nContent-Length: 5\r\n\r\n",
    "cl-underscore": "POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 4\r\n\r\n",
    "te-not-last": "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "te-10": "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    "te-param": "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
    "bare-lf": "GET / HTTP/1.1\nHost: a\n\n",
    "bare-cr": "GET / HTTP/1.1\rHost: a\r\n\r\n",
    "obs-fold": "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
    "space-colon": "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "nul": "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    "connect": "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
    "userinfo": "GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "http2": "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    "fragment": "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
    "backslash": "GET /a\\..\\secret HTTP/1.1\r\nHost: a\r\n\r\n",
    "high-bytes": "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
    "ip-literal-dots": "GET / HTTP/1.1\r\nHost: [" + "." * 200 + "]\r\n\r\n",
    "long-host": "GET / HTTP/1.1\r\nHost: " + "a." * 127 + "a\r\n\r\n",
    "partial": "GET /images/a.jp",
}

PATHS = {
    "root": "/",
    "empty": "",
    "dotdot-root": "/../../a",
    "trailing": "/a/b/..",
    "pct-mixed": "/a%2F%2e%2E/b%2fc/%2E/",
    "pct-bad": "/a%2",
    "pct-nul": "/a%00b",
    "pct-25": "/%252e%252e/x",
    "query": "/a/b?x=/../y#z",
    "relative": "a/b",
    "many": "/" + "./" * 40 + "a" + "/.." * 40,
}


def http_seeds():
    clean("http")
    for name, head in HEADS.items():
        b = head.encode("latin-1")
        write("http", name, bytes([0]) + struct.pack("<H", len(b) // 2) + b)
    # Small limits: 414 and 431 without big inputs.
    get = HEADS["get"].encode("latin-1")
    write("http", "limits", bytes([1, 4, 8, 2]) + struct.pack("<H", 17) + get)
    for name, p in PATHS.items():
        b = p.encode("latin-1")
        write("http", "path-" + name, bytes([2]) + struct.pack("<H", len(b)) + b)


# ---- config: YAML text -------------------------------------------------------

SITE = """interface: eth0
vips:
  - address: 192.0.2.80
    port: 80
    mode: http
  - {address: 192.0.2.81, port: 6379, mode: tcp}
backends:
  - {name: web1, address: 198.51.100.11, weight: 1, handoff: cookie}
  - {name: web2, address: 198.51.100.12, weight: 300, handoff: replay, mac: "02:00:00:00:00:1A"}
  - {name: web3, address: 198.51.100.13, state: draining}
routes:
  - {host: "*", prefix: /images/, backends: [web1, web2]}
  - {host: "*", path: /report.pdf, backends: [web3]}
  - {name: everything, host: "*", prefix: /, backends: [web1, web2, web3]}
  - {host: Static.Example.COM, prefix: /a%20b/, backends: [web2]}
  - {host: "*.example.com", path: /x, backends: [web3, web1]}
health: {path: /healthz, interval_ms: 500, timeout_ms: 250, rise: 4, fall: 5}
handoff: {mss: 1360, wscale: 9, request_limit: 8192, request_timeout_ms: 3000}
metrics: {listen: "[::1]:9181"}
cookie: {key_file: /run/lb/cookie.key, period_s: 32, windows: 3}
"""

MINIMAL = """interface: eth0
vips: [{address: 192.0.2.80, port: 80}]
backends: [{name: a, address: 198.51.100.11}]
routes: [{prefix: /, backends: [a]}]
"""

ROUTES_FIRST = """routes:
  - {host: "*", prefix: /, backends: [b, a]}
  - {host: "a.example", path: "/x%2Fy", backends: [a]}
interface: lo
backends:
  - name: a
    address: 198.51.100.11
  - name: b
    address: 198.51.100.12
vips:
  - {address: 192.0.2.80, port: 80}
metrics: {listen: ""}
"""

CONFIGS = {
    "site": SITE,
    "minimal": MINIMAL,
    "routes-first": ROUTES_FIRST,
    "empty": "",
    "null": "~\n",
    "anchor": MINIMAL.replace("backends: [{name: a", "backends: [&x {name: a") + "extra: *x\n",
    "tag": MINIMAL.replace("port: 80", "port: !!int 80"),
    "deep": "interface: " + "[" * 40 + "]" * 40 + "\n",
    "dup-key": MINIMAL + "interface: eth1\n",
    "tab": MINIMAL.replace("vips:", "vips:\t"),
    "unknown-key": MINIMAL + "helth: {path: /}\n",
    "two-docs": MINIMAL + "---\n" + MINIMAL,
    "unknown-backend": MINIMAL.replace("backends: [a]", "backends: [a, zz]"),
    "dup-route": MINIMAL.replace("routes: [{prefix: /, backends: [a]}]",
                                 "routes: [{prefix: /, backends: [a]}, {prefix: /, backends: [a]}]"),
    "dot-segment": MINIMAL.replace("prefix: /,", "prefix: /a/%2e%2E/b,"),
    "double-slash": MINIMAL.replace("prefix: /,", "prefix: /a//b,"),
    "pct-slash": MINIMAL.replace("prefix: /,", "prefix: /a%2F%2Fb,"),
    "control": MINIMAL.replace("prefix: /,", "prefix: \"/a\\x01\","),
    "nul-in-name": MINIMAL.replace("name: a,", "name: \"a\\0b\","),
    "bad-mac": MINIMAL.replace("address: 198.51.100.11}", "address: 198.51.100.11, mac: \"01:00:00:00:00:01\"}"),
    "ranges": MINIMAL + "handoff: {mss: 9001, wscale: 15, request_limit: 511}\n",
    "long-wildcard": MINIMAL.replace("routes: [{prefix: /, backends: [a]}]",
                                     "routes: [{host: \"*." + "a." * 70 + "com\", prefix: /, backends: [a]}]"),
    "utf8": MINIMAL.replace("interface: eth0", "interface: \"\u00e9th0\"") + "cookie: {key_file: /k\u00e9y}\n",
    "flow-broken": "vips: [{address: 192.0.2.80, port: 80\n",
    "announce": MINIMAL + "announce: {table: 200, withdraw_grace_ms: 500}\n",
    "announce-main": MINIMAL + "announce: {table: main}\n",
    "redirect": MINIMAL.replace("address: 198.51.100.11}", "address: 198.51.100.11, public: \"web1.example:8080\"}")
                       .replace("port: 80}", "port: 80, redirect: {status: 308, url: \"https://{public}{path}\"}}")
                       .replace("backends: [a]}]", "backends: [a], redirect: {status: 302, url: \"http://{public}.{host}{path}\"}}, "
                                "{prefix: /x/, backends: [a], redirect: none}]"),
    "redirect-bad-var": MINIMAL.replace("backends: [a]}]", "backends: [a], redirect: {url: \"http://{pubilc}{path}\"}}]"),
    "redirect-no-public": MINIMAL.replace("backends: [a]}]", "backends: [a], redirect: {url: \"http://{public}{path}\"}}]"),
    "top-routes": MINIMAL + "metrics: {listen: \"\", top_routes: 20}\n",
    "top-routes-range": MINIMAL + "metrics: {top_routes: 5000}\n",
    # The balancer itself as a backend: refused on an address not this host's, and with mac:.
    "local": MINIMAL.replace("address: 198.51.100.11}", "address: 198.51.100.11, local: true}"),
    "local-mac": MINIMAL.replace("address: 198.51.100.11}",
                                 "address: 198.51.100.11, local: true, mac: \"02:00:00:00:00:01\"}"),
}


# ---- advise: options, backends, totals, top rows, sketch cells ----------------


def advise_input(top, chosen=None, up=(1, 1, 1, 1, 1), requests=10000, factor=8, cold=1,
                 min_requests=0, max_add=10, max_drop=10, cells=()):
    b = bytes([factor, cold, min_requests, max_add, max_drop])
    for i, u in enumerate(up):
        b += bytes([u])
        if chosen:
            b += bytes([1]) + struct.pack("<H", chosen[i])
        else:
            b += bytes([0])
    b += struct.pack("<I", requests)
    b += bytes([0 if chosen else 1, len(top)])
    for which, n in top:
        b += bytes([which])
        if which >= 24:
            b += struct.pack("<I", 0xdeadbeef)
        b += struct.pack("<I", n)
    for col, row, v in cells:
        b += struct.pack("<HBI", col, row, v)
    return b


def advise_seeds():
    clean("advise")
    # r0 on a alone takes 60%: a is busy, r0 gets a replica; the rest is cold.
    write("advise", "hot-modelled", advise_input([(0, 6000), (1, 2000), (6, 1000)]))
    write("advise", "hot-measured", advise_input([(0, 6000), (1, 2000), (6, 1000)],
                                                 chosen=(700, 100, 100, 50, 50)))
    write("advise", "some-down", advise_input([(0, 6000), (2, 3000)], up=(1, 0, 1, 0, 1)))
    write("advise", "stray-keys", advise_input([(200, 5000), (0, 4000), (0, 4000)]))
    write("advise", "sketch-cells", advise_input([(0, 9000)], cells=[(7, 0, 5), (4095, 3, 1 << 31)]))
    write("advise", "too-few", advise_input([(0, 10)], requests=10, min_requests=200))


def config_seeds():
    clean("config")
    for name, text in CONFIGS.items():
        write("config", name, text)


# ---- directory: routes and lookups in fuzz_directory.c's layout ----------------

def s_pool(i):            # a string from the harness's pool
    return bytes([(i << 2) | 0])


def s_spelt(idxs):        # spelt from the alphabet by index
    return bytes([1, len(idxs)]) + bytes(idxs)


def s_repeat(u0, u1, k):  # a two-byte unit repeated
    return bytes([2, u0, u1, k])


def route(host_byte, flags, path, holders, extra=b""):
    # flags: 1 exact, 2 raw path (no leading '/'), 4-8 holder count, 16 named, 32 NULL host for "*"
    assert len(holders) <= 3
    flags |= len(holders) << 2
    return bytes([host_byte, flags]) + extra + path + bytes(holders)


def directory_seeds():
    clean("directory")
    # Route host pool: 0 "*", 1 a.com, 2 *.a.com, 3 x.a.com, 4 *.x.a.com, 5 A.Com, 6 a.com.,
    # 7 [::1], 8 *.com, 9 localhost, 10 b.a.com, 11 *.B.A.COM.
    # Path pool: 0 "/", 1 /a, 2 /a/, 3 /a/b, 4 /a/b/, 5 /ab, 6 /images/, 7 /images, 8 /images/x.jpg,
    # 9 /.well, 10 /a/., 11 /a/.., 12 /%, 13 /a//b, 14 "", 15 /b/c
    # Request host pool: 0 a.com 1 A.COM 2 a.com. 3 a.com:8080 4 x.a.com 5 y.x.a.com 6 b.a.com ...
    site = bytes([5])
    site += route(0, 0, s_pool(0), [0, 1])
    site += route(0, 1, s_pool(8), [2])
    site += route(2, 16, s_pool(6), [1])
    site += route(4, 1, s_pool(3), [3])
    site += route(1, 0, s_pool(1), [0])
    for h in range(0, 19):
        for p in (0, 1, 3, 5, 6, 8, 15):
            site += s_pool(h) + s_pool(p)
    write("directory", "site", site)

    dup = bytes([2]) + route(1, 0, s_pool(1), [0]) + route(5, 0, s_pool(1), [1]) + s_pool(0) + s_pool(1)
    write("directory", "dup-host-case", dup)
    bad = bytes([1]) + route(0, 1, s_pool(11), [0]) + s_pool(0) + s_pool(0)
    write("directory", "bad-path", bad)
    wellknown = bytes([1]) + route(0, 0, s_pool(9), [0]) + s_pool(0) + s_spelt([0, 3, 3, 1])
    write("directory", "prefix-dot", wellknown)
    # A long wildcard and a host of many dots (the B1 neighbourhood).
    longw = bytes([1]) + route(200, 0, s_pool(0), [0], extra=bytes([100]))
    longw += s_repeat(2, 0, 60) + s_pool(0)
    longw += s_repeat(0, 2, 127) + s_pool(0)
    write("directory", "long-wildcard", longw)
    raw = bytes([1]) + route(255, 0, s_pool(0), [0], extra=bytes([3, 5]) + b"A.B.C") + s_pool(0) + s_pool(0)
    write("directory", "raw-host", raw)
    # Nested prefixes in one scope and across scopes, beside exact paths: the
    # longest prefix, exact before prefix and the fall-through, every pair met.
    nested = bytes([9])
    nested += route(0, 0, s_pool(0), [0]) + route(0, 0, s_pool(1), [1]) + route(0, 0, s_pool(2), [2])
    nested += route(0, 0, s_pool(3), [0, 1]) + route(0, 1, s_pool(3), [1, 2])
    nested += route(1, 0, s_pool(2), [2]) + route(1, 1, s_pool(4), [0])
    nested += route(2, 0, s_pool(1), [1]) + route(4, 0, s_pool(3), [2])
    for h in (0, 2, 4, 5, 6, 9):
        for p in (0, 1, 2, 3, 4, 5, 15):
            nested += s_pool(h) + s_pool(p)
    write("directory", "nested-prefixes", nested)


# ---- dispatcher: header, then operations (fuzz_dispatcher.c) -------------------

END = 0  # a template slice's length 0: to the end of the template
ACK, PSH, FIN, RST = 0x10, 0x08, 0x01, 0x04


def d_head(cap=4, bind_refused=False, opts=(0xdb, 0x5b, 0x03, 0xff)):
    return bytes([(cap - 1) | (8 if bind_refused else 0)]) + bytes(opts)


def d_tseg(client, t, start, length, flags=ACK | PSH, window=502, op=0, off=None, ackmode=0):
    mode = (t << 1) | 1
    extra = b""
    if off is not None:
        mode |= 0x40
        extra = struct.pack("<I", off & 0xffffffff)
    return (bytes([op, client, mode, ackmode, flags]) + struct.pack("<HH", window, 0)
            + struct.pack("<HH", start, length) + extra)


def d_rseg(client, off, data, flags=ACK | PSH, ackmode=0, ack_arg=b""):
    return (bytes([0, client, 0, ackmode, flags]) + struct.pack("<HH", 502, off)
            + struct.pack("<H", len(data)) + data + ack_arg)


def d_time(ms, long=False):
    return bytes([6 if long else 5]) + struct.pack("<H", ms)


def dispatcher_seeds():
    clean("dispatcher")
    write("dispatcher", "one-segment", d_head() + d_tseg(0, 0, 0, END))
    write("dispatcher", "split-ooo", d_head() + d_tseg(1, 1, 0, 10) + d_tseg(1, 1, 20, END)
          + d_tseg(1, 1, 5, 20))
    write("dispatcher", "secret-dots", d_head() + d_tseg(2, 3, 0, END))
    write("dispatcher", "draining-503", d_head() + d_tseg(0, 4, 0, END) + d_time(300)
          + d_rseg(0, 25, b"", flags=ACK | FIN, ackmode=6, ack_arg=struct.pack("<H", 200)))
    write("dispatcher", "big-head", d_head() + d_tseg(3, 5, 0, 300) + d_tseg(3, 5, 300, END))
    write("dispatcher", "post-body", d_head() + d_tseg(0, 2, 0, END)
          + d_rseg(0, 74, b"more body", flags=ACK | FIN))
    write("dispatcher", "bad-request", d_head() + d_rseg(0, 0, b"GET / HTTP/1.1\nHost: a\n\n"))
    write("dispatcher", "dup-host", d_head() + d_tseg(0, 7, 0, END))
    write("dispatcher", "smuggle", d_head() + d_tseg(0, 8, 0, END))
    write("dispatcher", "timeout", d_head() + d_tseg(0, 0, 0, 30) + d_time(1500)
          + d_time(1000, long=True) + d_time(60000, long=True))
    write("dispatcher", "client-fin", d_head() + d_tseg(1, 0, 0, 20, flags=ACK | FIN))
    write("dispatcher", "head-and-fin", d_head() + d_tseg(1, 0, 0, END, flags=ACK | PSH | FIN))
    write("dispatcher", "client-rst", d_head() + d_tseg(1, 0, 0, 20) + d_rseg(1, 20, b"", flags=RST))
    write("dispatcher", "evict", d_head(cap=1) + d_tseg(0, 0, 0, 10) + d_tseg(1, 0, 0, 10)
          + d_tseg(2, 0, 0, 10) + d_tseg(0, 0, 10, END))
    write("dispatcher", "bind-refused", d_head(bind_refused=True) + d_tseg(0, 0, 0, END)
          + bytes([7]) + d_tseg(1, 0, 0, END))
    write("dispatcher", "bad-cookie", d_head() + d_tseg(0, 0, 0, END, ackmode=5) + b"\x01\x02\x03\x04")
    write("dispatcher", "before-isn", d_head() + d_tseg(3, 0, 0, 10) + d_tseg(3, 0, 0, END, off=-5))
    write("dispatcher", "over-limit", d_head() + d_tseg(0, 0, 0, 10) + d_tseg(0, 0, 0, 40, off=2040))
    write("dispatcher", "corrupt", d_head() + d_tseg(0, 0, 0, END, op=3) + b"\x30\x00\x20")
    write("dispatcher", "raw-frame", d_head() + bytes([4]) + struct.pack("<H", 60) + bytes(range(60)))


# ---- xdp and tc: one control byte, then an Ethernet frame -------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    t = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return (~t) & 0xffff


def ip4(a):
    return bytes(int(x) for x in a.split("."))


LB_MAC = bytes([2, 0, 0, 0, 2, 2])
HOP_MAC = bytes([2, 0, 0, 0, 1, 1])
BE_MAC = bytes([2, 0, 0, 0, 3, 0x0b])
BAL_MAC = LB_MAC
VIP, CLIENT = "192.0.2.80", "203.0.113.10"


def frame(src=CLIENT, dst=VIP, sport=40000, dport=80, seq=0x11223344, ack=0, flags=0x02,
          window=64240, opts=b"", payload=b"", proto=6, ipopts=b"", frag=0x4000,
          dmac=LB_MAC, smac=HOP_MAC):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (5 + len(opts) // 4) << 4, flags,
                      window, 0, 0) + opts + payload
    if proto == 6:
        pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(tcp))
        c = csum(pseudo + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ihl = 5 + len(ipopts) // 4
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(tcp), 0x1234, frag, 64, proto, 0,
                     ip4(src), ip4(dst)) + ipopts
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp


LINUX_SYN_OPTS = bytes([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])
TS_OPTS = bytes([1, 1, 8, 10, 0, 0, 0, 2, 0xf1, 0xf1, 0xf1, 0xf1])
GET = b"GET /images/a.jpg HTTP/1.1\r\nHost: www.example\r\n\r\n"
CTL_COOKIE, CTL_CSUM, CTL_LEN, CTL_RESET = 1, 2, 0x20, 0x40


def ctl(tmpl, *bits):
    v = tmpl << 2
    for b in bits:
        v |= b
    return bytes([v])


def xdp_seeds():
    clean("xdp")
    w = lambda n, c, f: write("xdp", n, c + f)
    w("syn-linux", ctl(1, CTL_CSUM), frame(opts=LINUX_SYN_OPTS))
    w("syn-bare", ctl(1, CTL_CSUM), frame())
    w("syn-ecn", ctl(1, CTL_CSUM), frame(flags=0xc2, opts=bytes([2, 4, 5, 0xb4])))
    w("syn-bad-option", ctl(1, CTL_CSUM), frame(opts=bytes([2, 3, 5, 0xb4])))
    w("syn-payload", ctl(1, CTL_CSUM), frame(payload=b"data"))
    w("syn-fin", ctl(1, CTL_CSUM), frame(flags=0x03))
    w("syn-tcp-mode", ctl(6, CTL_CSUM), frame(dport=8025, opts=LINUX_SYN_OPTS))
    w("syn-bad-csum", ctl(1), frame(opts=LINUX_SYN_OPTS)[:-1] + b"\x99")
    for name, fl, pay in (("ack-bare", 0x10, b""), ("ack-get", 0x18, GET), ("ack-fin", 0x11, b""),
                          ("ack-rst", 0x14, b""), ("ack-get-fin", 0x19, GET)):
        w(name, ctl(1, CTL_COOKIE, CTL_CSUM), frame(seq=0x11223345, ack=0xdb + 1, flags=fl,
                                                      opts=TS_OPTS, payload=pay))
    w("ack-forged", ctl(1, CTL_CSUM), frame(seq=0x11223345, ack=0xabcdef01, flags=0x18, payload=GET))
    w("ack-tcp-mode", ctl(6, CTL_COOKIE, CTL_CSUM), frame(dport=8025, seq=5, ack=0x5b + 1, flags=0x10))
    w("bound-data", ctl(2, CTL_CSUM), frame(sport=40001, seq=1000, ack=2000, flags=0x18, payload=GET))
    w("bound-fin", ctl(2, CTL_CSUM), frame(sport=40001, seq=1000, ack=2000, flags=0x11))
    w("bound-rst", ctl(2, CTL_CSUM), frame(sport=40001, seq=1000, ack=2000, flags=0x04))
    w("bound-syn", ctl(2, CTL_CSUM), frame(sport=40001))
    w("dispatch-data", ctl(3, CTL_CSUM), frame(sport=40002, seq=1000, ack=2000, flags=0x18, payload=GET))
    w("closing-ack", ctl(4, CTL_CSUM), frame(sport=40003, seq=1000, ack=2000, flags=0x10))
    w("closing-reuse-syn", ctl(4, CTL_CSUM), frame(sport=40003, opts=LINUX_SYN_OPTS))
    w("reset-challenge-ack", ctl(4, CTL_CSUM, CTL_RESET), frame(sport=40003, seq=1000, ack=2000,
                                                                  flags=0x10, opts=TS_OPTS))
    w("reset-data", ctl(4, CTL_CSUM, CTL_RESET), frame(sport=40003, seq=1000, ack=2000, flags=0x18,
                                                         payload=GET))
    w("reset-client-rst", ctl(4, CTL_CSUM, CTL_RESET), frame(sport=40003, seq=1000, ack=2000,
                                                               flags=0x14))
    w("bound-tcp-mode", ctl(0, CTL_CSUM), frame(sport=40004, dport=8025, seq=1, ack=2, flags=0x18,
                                                 payload=b"PING\r\n"))
    w("diverted-fin", ctl(5, CTL_CSUM), frame(src=VIP, dst=CLIENT, sport=80, dport=40001, seq=9, ack=8,
                                               flags=0x11, smac=BE_MAC))
    w("diverted-rst", ctl(5, CTL_CSUM), frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x04,
                                               smac=BE_MAC))
    w("diverted-forged", ctl(0, CTL_CSUM), frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x04,
                                                  smac=HOP_MAC))
    w("diverted-no-flow", ctl(0, CTL_CSUM), frame(src=VIP, dst=CLIENT, sport=80, dport=40999,
                                                   flags=0x11, smac=BE_MAC))
    w("not-vip", ctl(7, CTL_CSUM), frame(dst="198.51.100.99", flags=0x18, payload=GET))
    w("not-vip-port", ctl(0, CTL_CSUM), frame(dport=443))
    w("udp-to-vip", ctl(0), frame(proto=17, payload=b"\0" * 8))
    w("ip-options", ctl(0), frame(ipopts=b"\x01\x01\x01\x00"))
    w("fragment", ctl(0), frame(frag=0x2000, flags=0x18, payload=GET))
    w("tot-len-short", ctl(0), frame(payload=GET)[:60])
    w("doff-past-end", ctl(0), frame(opts=LINUX_SYN_OPTS)[:58])
    arp = b"\xff" * 6 + HOP_MAC + b"\x08\x06" + bytes.fromhex("0001080006040001") + HOP_MAC \
        + ip4(CLIENT) + b"\0" * 6 + ip4(VIP)
    w("arp", ctl(0), arp)
    ip6 = LB_MAC + HOP_MAC + b"\x86\xdd" + bytes.fromhex("60000000001406402001") + b"\0" * 30 \
        + b"\0" * 20
    w("ipv6", ctl(0), ip6)
    w("runt", ctl(0), LB_MAC + HOP_MAC + b"\x08\x00" + b"\x45\x00")


def tc_seeds():
    clean("tc")
    # ctl: bit 0 ingress/egress, bit 1 fix cookie, bit 2 fix checksums, bit 3 VIP port, bit 4 from
    # the balancer's MAC (ingress) / the VIP as source (egress).
    # Bit 5: the replay-mode object; bit 6: a hand-off entry for the tuple first (bit 7: with
    # timestamps; bits 1-2 pick its state).
    ING, EGR, COOKIE, CSUM, PORT, BAL = 0, 1, 2, 4, 8, 16
    REPLAY, ENTRY, ENTRY_TS = 32, 64, 128
    w = lambda n, c, f: write("tc", n, bytes([c]) + f)
    w("in-handoff", ING | COOKIE | CSUM | PORT | BAL,
      frame(smac=BAL_MAC, dmac=BE_MAC, seq=0x11223345, ack=0xdb + 1, flags=0x18, opts=TS_OPTS,
            payload=GET))
    w("in-handoff-no-ts", ING | COOKIE | CSUM | PORT | BAL,
      frame(smac=BAL_MAC, dmac=BE_MAC, seq=0x11223345, ack=0x03 + 1, flags=0x10))
    w("in-forged-cookie", ING | CSUM | PORT | BAL,
      frame(smac=BAL_MAC, dmac=BE_MAC, seq=0x11223345, ack=0x12345678, flags=0x18, payload=GET))
    w("in-from-client", ING | COOKIE | CSUM | PORT,
      frame(smac=HOP_MAC, dmac=BE_MAC, seq=0x11223345, ack=0xdb + 1, flags=0x18, payload=GET))
    w("in-syn", ING | CSUM | PORT, frame(dmac=BE_MAC, opts=LINUX_SYN_OPTS))
    w("in-other-port", ING | CSUM, frame(dmac=BE_MAC, dport=22, flags=0x10))
    w("in-bad-ts", ING | COOKIE | CSUM | PORT | BAL,
      frame(smac=BAL_MAC, dmac=BE_MAC, seq=7, ack=0xdb + 1, flags=0x10, opts=bytes([8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])))
    w("eg-fin", EGR | CSUM | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x11, smac=BE_MAC, dmac=HOP_MAC))
    w("eg-rst", EGR | CSUM | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x04, smac=BE_MAC, dmac=HOP_MAC))
    w("eg-synack", EGR | CSUM | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x12, smac=BE_MAC, dmac=HOP_MAC))
    w("eg-data", EGR | CSUM | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x18, payload=b"HTTP/1.1 200 OK\r\n\r\n",
            smac=BE_MAC, dmac=HOP_MAC))
    w("eg-other", EGR | CSUM, frame(src="198.51.100.11", dst=CLIENT, sport=22, dport=40001, flags=0x11,
                                    smac=BE_MAC, dmac=HOP_MAC))
    w("eg-ip-options", EGR | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x11, ipopts=b"\x01\x01\x01\x00",
            smac=BE_MAC, dmac=HOP_MAC))
    # Replay mode: translation both ways (SACK + timestamps in), diversion, the SYN/ACK.
    sack_ts = bytes([1, 1, 8, 10, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 5, 18]) + bytes(range(16)) + bytes([1, 1, 1, 1])
    w("replay-in-sack", REPLAY | ENTRY | ENTRY_TS | CSUM | PORT | BAL,
      frame(smac=BAL_MAC, dmac=BE_MAC, seq=0x11223345, ack=0x1000, flags=0x10, opts=sack_ts))
    w("replay-in-data", REPLAY | ENTRY | ENTRY_TS | CSUM | PORT | BAL,
      frame(smac=BAL_MAC, dmac=BE_MAC, seq=0x11223345, ack=0x1000, flags=0x18, opts=TS_OPTS,
            payload=GET))
    w("replay-in-syn", REPLAY | CSUM | PORT | BAL, frame(smac=BAL_MAC, dmac=BE_MAC, opts=LINUX_SYN_OPTS))
    w("replay-eg-data", REPLAY | ENTRY | ENTRY_TS | EGR | CSUM | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x18, opts=TS_OPTS,
            payload=b"HTTP/1.1 200 OK\r\n\r\n", smac=BE_MAC, dmac=HOP_MAC))
    w("replay-eg-fin", REPLAY | ENTRY | EGR | CSUM | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x11, smac=BE_MAC, dmac=HOP_MAC))
    w("replay-eg-synack", REPLAY | ENTRY | EGR | CSUM | PORT | BAL,
      frame(src=VIP, dst=CLIENT, sport=80, dport=40001, flags=0x12, opts=LINUX_SYN_OPTS,
            smac=BE_MAC, dmac=HOP_MAC))


def peer_view(sport, backend="198.51.100.11", state=2, age_ms=0):
    return (ip4(CLIENT) + ip4(VIP) + struct.pack(">HHBBBB", sport, 80, state, 0x03, 0x46, 0)
            + ip4(backend) + bytes([2, 0, 0, 0, 2, 1]) + struct.pack(">HIIIII", 1, 1000, 5000,
                                                                     5001, age_ms, 0))


def peer_datagram(views, seq=1, boot=0x1122334455667788):
    hdr = struct.pack(">IBBHQQQ", 0x4C425359, 1, len(views), 0, boot, seq, 0)
    return hdr + b"".join(views) + bytes(8)


def peer_seeds():
    # flags: 1 sign it, 2 from a stranger, 4 fresh sequence number, 8 sent now (fuzz_peer.c)
    clean("peer")
    w = lambda name, flags, data: write("peer", name, bytes([flags]) + data)
    w("one-view", 1 | 4 | 8, peer_datagram([peer_view(40000)]))
    w("full", 1 | 4 | 8, peer_datagram([peer_view(40000 + i) for i in range(29)]))
    w("closing-unknown", 1 | 4 | 8, peer_datagram([peer_view(40001, state=3),
                                                    peer_view(40002, backend="198.51.100.99")]))
    w("unsigned", 4 | 8, peer_datagram([peer_view(40000)]))
    w("stranger", 1 | 2 | 4 | 8, peer_datagram([peer_view(40000)]))
    w("old", 1 | 4, peer_datagram([peer_view(40000)]))
    w("short", 1 | 4 | 8, peer_datagram([peer_view(40000)])[:-9])


def main():
    xdp_seeds()
    tc_seeds()
    http_seeds()
    config_seeds()
    advise_seeds()
    directory_seeds()
    dispatcher_seeds()
    peer_seeds()


if __name__ == "__main__":
    main()
