// SPDX-License-Identifier: GPL-2.0
/*
 * latebind drain|undrain NAME: the operator takes a backend out of selection
 * (its established flows carry on to their end) or puts it back. Written into
 * the pinned backends map, which the daemon folds into each backend's state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "commands.h"
#include "maps.h"

static int find_slot(const char *name)
{
	struct lb_backend_name n;
	int fd = bpf_obj_get(LB_PIN_DIR "/backend_names");
	__u32 i;

	if (fd < 0)
		return -2;
	for (i = 0; i < LB_MAX_BACKENDS; i++)
		if (!bpf_map_lookup_elem(fd, &i, &n) && !strcmp(n.name, name)) {
			close(fd);
			return i;
		}
	close(fd);
	return -1;
}

static int set_admin(const char *cmd, const char *name, bool drain)
{
	size_t len = LB_MAX_BACKENDS * sizeof(struct lb_backend);
	struct lb_backend *b;
	int fd, slot = find_slot(name);

	if (slot == -2 || (fd = bpf_obj_get(LB_PIN_DIR "/backends")) < 0) {
		fprintf(stderr, "latebind %s: no balancer state under %s (is the daemon running "
			"on this host?)\n", cmd, LB_PIN_DIR);
		return LB_EXIT_FAIL;
	}
	if (slot < 0) {
		fprintf(stderr, "latebind %s: no backend called '%s' (latebind status lists them)\n",
			cmd, name);
		close(fd);
		return LB_EXIT_FAIL;
	}
	/*
	 * Through the mmapped map, touching only these two fields: a whole-value
	 * update would race the daemon's and the XDP program's counters.
	 */
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (b == MAP_FAILED) {
		fprintf(stderr, "latebind %s: cannot map the backends: %s\n", cmd, strerror(errno));
		return LB_EXIT_FAIL;
	}
	__atomic_store_n(&b[slot].admin, drain ? LB_ADMIN_DRAINED : LB_ADMIN_CONFIG,
			 __ATOMIC_RELAXED);
	/* Draining is safe at once; coming back waits for the daemon's view of its health. */
	if (drain && __atomic_load_n(&b[slot].state, __ATOMIC_RELAXED) == LB_BACKEND_UP)
		__atomic_store_n(&b[slot].state, LB_BACKEND_DRAINING, __ATOMIC_RELAXED);
	printf("%s: %s (%llu active flows)\n", name, drain ? "draining" : "undrained",
	       (unsigned long long)__atomic_load_n(&b[slot].active, __ATOMIC_RELAXED));
	munmap(b, len);
	return LB_EXIT_OK;
}

static int run(int argc, char **argv, bool drain)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: latebind %s NAME\n\n%s\n", argv[0],
		       drain ? "Takes backend NAME out of selection: no new flows; established ones "
			       "continue to their end.\nlatebind status shows it draining and its "
			       "remaining flows."
			     : "Puts a drained backend back into selection (once it is healthy).");
		return LB_EXIT_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: latebind %s NAME\n", argv[0]);
		return LB_EXIT_USAGE;
	}
	return set_admin(argv[0], argv[1], drain);
}

int cmd_drain(int argc, char **argv)
{
	return run(argc, argv, true);
}

int cmd_undrain(int argc, char **argv)
{
	return run(argc, argv, false);
}
