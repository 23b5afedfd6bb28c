/* SPDX-License-Identifier: GPL-2.0 */
/* Constants of the BPF programs; each tunable can be overridden with -D. */
#ifndef LATEBIND_BPF_CONSTS_H
#define LATEBIND_BPF_CONSTS_H

/* Include after vmlinux.h, which has IPPROTO_TCP and friends as enums. */

#define ETH_P_IP	0x0800
#define ETH_ALEN	6

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff
#define IP_DF		0x4000

/* The TCP flags byte (offset 13); vmlinux.h's TCP_FLAG_* are 32-bit words. */
#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PSH	0x08
#define TH_ACK	0x10
#define TH_URG	0x20
#define TH_ECE	0x40
#define TH_CWR	0x80

#define TCPOPT_EOL	 0
#define TCPOPT_NOP	 1
#define TCPOPT_MSS	 2
#define TCPOPT_WINDOW	 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK	 5
#define TCPOPT_TIMESTAMP 8

#define TCP_MAX_OPTLEN	40

/* Defaults of the load-time settings (rodata), matching the config's. */
#ifndef LB_DEFAULT_MSS
#define LB_DEFAULT_MSS	1400
#endif
#ifndef LB_DEFAULT_WSCALE
#define LB_DEFAULT_WSCALE 7
#endif
/* Unscaled window in our SYN/ACK: room for a request head in one flight. */
#ifndef LB_DEFAULT_SYN_WINDOW
#define LB_DEFAULT_SYN_WINDOW 65535
#endif
#ifndef LB_SYNACK_TTL
#define LB_SYNACK_TTL	64
#endif

#endif
