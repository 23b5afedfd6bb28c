// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "maps.h"
#include "pinned.h"

int lb_open_pinned(const char *cmd, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", LB_PIN_DIR, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "latebind %s: cannot open %s: %s%s\n", cmd, path, strerror(errno),
			errno == ENOENT ? " (no balancer has run on this host since boot, it was "
					  "stopped cleanly, or it is a build without this map)" : "");
	return fd;
}
