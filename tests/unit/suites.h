/* SPDX-License-Identifier: GPL-2.0 */
/* The unit-test suites; each tests/unit/test_*.c defines one. */
#ifndef LATEBIND_UNIT_SUITES_H
#define LATEBIND_UNIT_SUITES_H

#include <check.h>

Suite *cookie_suite(void);
Suite *config_suite(void);
Suite *http_suite(void);
Suite *directory_suite(void);
Suite *select_suite(void);
Suite *dispatcher_suite(void);
Suite *health_suite(void);
Suite *metrics_suite(void);
Suite *flow_table_suite(void);
Suite *host_suite(void);
Suite *slots_suite(void);
Suite *thread_ring_suite(void);
Suite *redirect_suite(void);

#endif
