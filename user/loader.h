/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loading and attaching lb_xdp (bpf/balancer.bpf.c): the pins under
 * LB_PIN_DIR and their checks, the takeover of a previous daemon's program
 * and maps, the attach to the main interface and to every interface backends
 * sit behind, the detach, and the mmapped backends map. It knows interfaces
 * only by index and name; which ones is the caller's business (ifaces.h).
 */
#ifndef LATEBIND_LOADER_H
#define LATEBIND_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <xdp/libxdp.h>

#include "config.h"
#include "flow_table.h"
#include "maps.h"
#include "stats.h"

#define LB_PROG_NAME "lb_xdp"

struct balancer; /* the skeleton, build/balancer.skel.h */

/* lb_xdp on an interface backends sit behind, as attached there: for the detach. */
struct lb_loader_side {
	int ifindex;
	struct xdp_program *prog; /* attached through libxdp: the main one's */
	bool legacy;		  /* attached without libxdp (its attach failed) */
};

/*
 * XDP's counters map (`stats`) pinned by a build with another number of
 * counters: its counts, taken before the load, for the new map.
 */
struct lb_loader_carry {
	struct bpf_map *map; /* NULL: nothing to carry */
	void *values;	     /* n values as a lookup returns them (per CPU: each CPU's) */
	__u32 n;
	size_t each;	     /* bytes per value in @values */
};

struct lb_loader {
	struct balancer *skel;
	struct lb_loader_carry carry; /* stats */
	struct xdp_program *prog; /* lb_xdp as libxdp knows it; NULL if it could not */
	int ifindex;		  /* the main interface */
	enum xdp_attach_mode mode;
	struct lb_loader_side sides[LB_MAX_IFACES - 1];
	size_t n_sides;
	struct lb_backend *backends; /* the backends map, mmapped; NULL until mapped */
	struct lb_disp_row *disp_rows;	     /* disp_stats, mmapped; NULL until mapped */
	struct lb_disp_thread *disp_threads; /* disp_threads, mmapped; NULL until mapped */
	bool local_egress;	     /* lb_local_egress attached to the main interface */
};

/* The BPF filesystem is mounted and LB_PIN_DIR exists in it; else says how to fix it. */
int lb_loader_check_bpffs(void);

/*
 * Open the skeleton for main interface @ifindex (our MAC there: @mac), set its
 * rodata and the flow table's size from @cfg, and point every map at its pin: a compatible map a
 * previous daemon pinned is reused, an incompatible one refused by name.
 */
int lb_loader_open(struct lb_loader *ld, const struct lb_config *cfg, int ifindex,
		   const uint8_t mac[6]);

/*
 * Load and attach to the main interface (@ifname, for messages), in
 * @mode_arg's mode (auto, native, generic); a previous daemon's program there
 * is replaced in one step, in its mode.
 */
int lb_loader_attach(struct lb_loader *ld, const char *ifname, const char *mode_arg);

/* The same program on an interface backends sit behind (one of @n_sides), in the main mode. */
int lb_loader_attach_side(struct lb_loader *ld, int ifindex, const char *ifname, size_t n_sides);

/*
 * lb_local_egress on the main interface's TC egress, for a config with a
 * local backend: its FIN/RST leave there and close their flows (a previous
 * daemon's filter is replaced). Removed by lb_loader_detach.
 */
int lb_loader_attach_local(struct lb_loader *ld, const char *ifname);

/* Its filter off the main interface: ours, or one a previous daemon left (SIGUSR2). */
void lb_loader_detach_local(struct lb_loader *ld);

/* Map the backends array (ld->backends): the dispatcher and XDP update its counters atomically. */
int lb_loader_map_backends(struct lb_loader *ld);

/*
 * Map the dispatcher's counters (ld->disp_rows) and threads' figures
 * (ld->disp_threads), zeroed: each thread writes its own row in place.
 */
int lb_loader_map_counters(struct lb_loader *ld);

/* Take the program off every interface and remove the pins: nothing is left for a successor. */
void lb_loader_detach(struct lb_loader *ld);

/* The skeleton's programs the flow table runs (loaded). */
struct lb_flow_progs lb_loader_flow_progs(struct balancer *skel);

/* Release what the process holds; program and pins stay unless detached first. */
void lb_loader_close(struct lb_loader *ld);

#endif
