/* SPDX-License-Identifier: GPL-2.0 */
/* Opening the balancer's pinned maps from a command (status, advise). */
#ifndef LATEBIND_PINNED_H
#define LATEBIND_PINNED_H

/*
 * The map @name pinned under LB_PIN_DIR, or -1 after a message on stderr
 * naming "latebind @cmd", the path and why (no daemon has pinned it).
 */
int lb_open_pinned(const char *cmd, const char *name);

#endif
