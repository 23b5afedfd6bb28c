/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCP on the wire, as both the BPF programs and userspace read and write it:
 * the flags byte (offset 13; vmlinux.h's TCP_FLAG_* are 32-bit words) and the
 * option kinds and lengths (RFC 9293, 7323, 2018).
 */
#ifndef LATEBIND_TCP_WIRE_H
#define LATEBIND_TCP_WIRE_H

#define LB_TH_FIN 0x01
#define LB_TH_SYN 0x02
#define LB_TH_RST 0x04
#define LB_TH_PSH 0x08
#define LB_TH_ACK 0x10
#define LB_TH_URG 0x20
#define LB_TH_ECE 0x40
#define LB_TH_CWR 0x80

#define LB_TCPOPT_EOL	    0
#define LB_TCPOPT_NOP	    1
#define LB_TCPOPT_MSS	    2 /* length 4 */
#define LB_TCPOPT_WINDOW    3 /* length 3 */
#define LB_TCPOPT_SACK_PERM 4 /* length 2 */
#define LB_TCPOPT_SACK	    5
#define LB_TCPOPT_TIMESTAMP 8 /* length 10 */

#define LB_TCPOLEN_MSS	     4
#define LB_TCPOLEN_WINDOW    3
#define LB_TCPOLEN_SACK_PERM 2
#define LB_TCPOLEN_TIMESTAMP 10

#define LB_TCP_MAX_OPTLEN 40

#endif
