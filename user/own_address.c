// SPDX-License-Identifier: GPL-2.0
#include <ifaddrs.h>

#include "own_address.h"

bool lb_own_address(struct in_addr addr)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next)
		found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr.s_addr;
	freeifaddrs(ifa);
	return found;
}
