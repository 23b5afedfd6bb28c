/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF packet-table suites; each tests/bpf/test_*.c defines one. */
#ifndef LATEBIND_BPF_SUITES_H
#define LATEBIND_BPF_SUITES_H

#include <check.h>

Suite *balancer_suite(void);
Suite *backend_suite(void);
Suite *backend_replay_suite(void);
Suite *answers_suite(void);
Suite *flow_table_suite(void);
Suite *later_suite(void);
Suite *peer_sync_suite(void);

#endif
