/* SPDX-License-Identifier: GPL-2.0 */
/* Constants of the BPF programs; each tunable can be overridden with -D. */
#ifndef LATEBIND_BPF_CONSTS_H
#define LATEBIND_BPF_CONSTS_H

/* Include after vmlinux.h, which has IPPROTO_TCP and friends as enums. */

#include "tcp_wire.h"

#define ETH_P_IP	0x0800
#define ETH_ALEN	6

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff
#define IP_DF		0x4000

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
