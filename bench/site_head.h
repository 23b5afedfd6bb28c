/* SPDX-License-Identifier: GPL-2.0 */
/* The part of a generated bench config before its routes: one VIP, three backends. */
#ifndef LATEBIND_BENCH_SITE_HEAD_H
#define LATEBIND_BENCH_SITE_HEAD_H

#define BENCH_SITE_HEAD                                                           \
	"interface: eth0\n"                                                       \
	"vips:\n"                                                                 \
	"  - {address: 192.0.2.80, port: 80, mode: http}\n"                       \
	"backends:\n"                                                             \
	"  - {name: web1, address: 198.51.100.11, mac: \"02:00:00:00:02:11\"}\n"  \
	"  - {name: web2, address: 198.51.100.12, mac: \"02:00:00:00:02:12\"}\n"  \
	"  - {name: web3, address: 198.51.100.13, mac: \"02:00:00:00:02:13\"}\n"  \
	"routes:\n"

#endif
