/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether an IPv4 address is one of this host's own (on any interface): the
 * VIP on a backend's lo, a `local: true` backend's address on the balancer.
 */
#ifndef LATEBIND_OWN_ADDRESS_H
#define LATEBIND_OWN_ADDRESS_H

#include <netinet/in.h>
#include <stdbool.h>

/* True when an interface of this host (in this network namespace) has @addr. */
bool lb_own_address(struct in_addr addr);

#endif
