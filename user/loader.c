// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include "balancer.skel.h"
#include "loader.h"
#include "log.h"

#define LB_BACKENDS_MMAP_LEN	 (LB_MAX_BACKENDS * sizeof(struct lb_backend))
#define LB_DISP_ROWS_MMAP_LEN	 (LB_DISP_ROWS * sizeof(struct lb_disp_row))
#define LB_DISP_THREADS_MMAP_LEN (LB_MAX_QUEUES * sizeof(struct lb_disp_thread))

int lb_loader_check_bpffs(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
		pr_warn("/sys/fs/bpf is not a BPF filesystem; mount it first: "
			"mount -t bpf bpf /sys/fs/bpf\n");
		return -1;
	}
	if (mkdir(LB_PIN_DIR, 0700) && errno != EEXIST) {
		pr_warn("cannot create %s: %s\n", LB_PIN_DIR, strerror(errno));
		return -1;
	}
	return 0;
}

/* Every map of the object is pinned by its name, so bpftool and `status` see it. */
static int set_pin_paths(struct bpf_object *obj)
{
	char path[256];
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", LB_PIN_DIR, bpf_map__name(map));
		if (bpf_map__set_pin_path(map, path))
			return -1;
	}
	return 0;
}

/* What one key's value takes in a lookup's buffer (per-CPU maps: one per possible CPU). */
static size_t value_bytes(const struct bpf_map_info *info)
{
	int ncpu;

	if (info->type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return info->value_size;
	ncpu = libbpf_num_possible_cpus();
	return ncpu > 0 ? (size_t)ncpu * ((info->value_size + 7) / 8 * 8) : 0;
}

/*
 * `stats` pinned by a build with fewer or more counters (a new drop reason):
 * the counts the two builds share are read now, the pin removed, and
 * lb_loader_attach() writes them into the new map. Counters are not state:
 * without this, an upgrade that adds one would have to remove the flow
 * table's pin with the rest, and lose every connection.
 * What the previous program counts between now and the takeover is lost.
 */
static int carry_counters(struct lb_loader_carry *c, struct bpf_map *map, int fd,
			  const struct bpf_map_info *info)
{
	const char *path = bpf_map__pin_path(map);
	size_t each = value_bytes(info);
	__u32 k, n = info->max_entries < bpf_map__max_entries(map) ? info->max_entries
								   : bpf_map__max_entries(map);

	if (!each || !(c->values = calloc(n, each)))
		return -1;
	for (k = 0; k < n; k++)
		if (bpf_map_lookup_elem(fd, &k, (char *)c->values + k * each))
			goto fail;
	if (unlink(path)) {
		pr_warn("cannot remove %s to resize it: %s\n", path, strerror(errno));
		goto fail;
	}
	c->map = map;
	c->n = n;
	c->each = each; /* the new map's too: same type and value size */
	pr_info("%s: %u counters pinned by an earlier latebind build, %u in this one: their "
		"counts go on in a new map\n", path, info->max_entries, bpf_map__max_entries(map));
	return 0;
fail:
	free(c->values);
	c->values = NULL;
	return -1;
}

/* After the load: the carried counts into their new map. */
static void carry_in(struct lb_loader *ld)
{
	struct lb_loader_carry *c = &ld->carry;
	int fd = c->map ? bpf_map__fd(c->map) : -1;
	__u32 k;

	for (k = 0; fd >= 0 && k < c->n; k++)
		if (bpf_map_update_elem(fd, &k, (char *)c->values + k * c->each, BPF_ANY))
			pr_warn("%s: counter %u not carried over: %s\n", bpf_map__name(c->map), k,
				strerror(errno));
	free(c->values);
	*c = (struct lb_loader_carry){ .map = NULL };
}

/* The pinned map described by @info is what this build defines @map as. */
static bool same_shape(const struct bpf_map *map, const struct bpf_map_info *info)
{
	return info->type == bpf_map__type(map) && info->key_size == bpf_map__key_size(map) &&
	       info->value_size == bpf_map__value_size(map) &&
	       info->max_entries == bpf_map__max_entries(map) &&
	       info->map_flags == bpf_map__map_flags(map);
}

/*
 * A pinned map left by a previous daemon is reused only if it matches this
 * build's exactly; libbpf refuses a mismatch with a bare EINVAL at load. Say
 * which map differs and what to do instead. The flow table's size comes from
 * the config, so a different limits.flows gets its own message; XDP's
 * counters are resized (carry_counters); the dispatcher's are only the
 * previous daemon's own and are replaced.
 */
static int check_pinned_maps(struct lb_loader *ld, const char *cfg_path)
{
	struct balancer *skel = ld->skel;
	struct bpf_map *map;
	int bad = 0;

	static const char *const old_tables[] = { LB_PIN_DIR "/flows", LB_PIN_DIR "/flows_v2" };
	size_t i;

	for (i = 0; i < sizeof(old_tables) / sizeof(old_tables[0]); i++)
		if (!access(old_tables[i], F_OK))
			pr_warn("%s is the flow table of a latebind build from before " LB_FLOWS_MAP
				": its connections are not taken over (their packets now count as "
				"drop_bad_cookie); remove it once they are gone\n", old_tables[i]);
	bpf_object__for_each_map(map, skel->obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		const char *path = bpf_map__pin_path(map);
		int fd;

		/* The devmap's flags never match as pinned: reuse_pinned_devmap() takes it. */
		if (!path || map == skel->maps.tx_ports)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue; /* not pinned yet: created at load */
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue; /* libbpf will say what is wrong with it */
		}
		if (map == skel->maps.stats && info.type == bpf_map__type(map) &&
		    info.key_size == bpf_map__key_size(map) &&
		    info.value_size == bpf_map__value_size(map) &&
		    info.map_flags == bpf_map__map_flags(map) &&
		    info.max_entries != bpf_map__max_entries(map) &&
		    !carry_counters(&ld->carry, map, fd, &info)) {
			close(fd);
			continue;
		}
		close(fd);
		/* A daemon counts from zero in these: a differently shaped one just goes. */
		if ((map == skel->maps.disp_stats || map == skel->maps.disp_threads) &&
		    !same_shape(map, &info)) {
			if (!unlink(path)) {
				pr_info("%s: pinned by an earlier latebind build in another shape: "
					"replaced\n", path);
				continue;
			}
			pr_warn("cannot remove %s to replace it: %s\n", path, strerror(errno));
		}
		if (map == skel->maps.flows_v3 && info.type == bpf_map__type(map) &&
		    info.max_entries != bpf_map__max_entries(map)) {
			pr_warn("%s holds %u flows (pinned by the balancer before this one) but "
				"limits.flows in %s is %u: set limits.flows: %u to take its flows "
				"over, or stop that balancer and remove %s (its established "
				"connections are lost) to create it at the new size\n", path,
				info.max_entries, cfg_path, bpf_map__max_entries(map),
				info.max_entries, path);
			bad = -1;
		} else if (!same_shape(map, &info)) {
			pr_warn("%s was pinned by an incompatible latebind build (type %u, key %u, "
				"value %u bytes, %u entries; this build wants %u, %u, %u, %u): stop the "
				"balancer that made it and remove %s\n", path, info.type,
				info.key_size, info.value_size, info.max_entries, bpf_map__type(map),
				bpf_map__key_size(map), bpf_map__value_size(map),
				bpf_map__max_entries(map), LB_PIN_DIR);
			bad = -1;
		}
	}
	return bad;
}

/*
 * The kernel adds BPF_F_RDONLY_PROG to every devmap it creates but refuses it
 * at creation, so libbpf 1.1 never finds a pinned `tx_ports` compatible with
 * our definition. One of ours (same type and sizes) is taken by its fd instead,
 * so a new daemon takes over the maps of the previous one.
 */
static int reuse_pinned_devmap(struct bpf_map *map)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	fd = bpf_obj_get(bpf_map__pin_path(map));
	if (fd < 0)
		return 0; /* none pinned: libbpf creates and pins it */
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err && info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
	    info.value_size == bpf_map__value_size(map) &&
	    info.max_entries == bpf_map__max_entries(map))
		err = bpf_map__reuse_fd(map, fd);
	close(fd);
	return err;
}

int lb_loader_open(struct lb_loader *ld, const struct lb_config *cfg, int ifindex,
		   const uint8_t mac[6])
{
	ld->ifindex = ifindex;
	ld->skel = balancer__open();
	if (!ld->skel) {
		pr_warn("cannot open the balancer program: %s\n", strerror(errno));
		return -1;
	}
	ld->skel->rodata->cfg_mss = cfg->handoff.mss;
	ld->skel->rodata->cfg_wscale = cfg->handoff.wscale;
	/* The client may send this much before our first ACK: what we are ready to buffer. */
	ld->skel->rodata->cfg_syn_window =
		cfg->handoff.request_limit > 65535 ? 65535 : cfg->handoff.request_limit;
	ld->skel->rodata->cfg_main_ifindex = ifindex;
	memcpy((void *)ld->skel->rodata->cfg_main_mac, mac, sizeof(ld->skel->rodata->cfg_main_mac));
	/* Before load: libbpf creates the map at this size, or reuses a pin of it. */
	if (bpf_map__set_max_entries(ld->skel->maps.flows_v3, cfg->limits.flows) ||
	    set_pin_paths(ld->skel->obj) || check_pinned_maps(ld, cfg->path) ||
	    reuse_pinned_devmap(ld->skel->maps.tx_ports))
		return -1;
	return 0;
}

/*
 * A latebind program left attached by a daemon that was killed or told to
 * leave (SIGUSR2): its id and attach mode, so the new one can replace it in one
 * step. Returns 0 when there is none. Under libxdp's dispatcher an old one is
 * taken off instead (the dispatcher has no atomic replace of one component).
 */
static __u32 find_previous(int ifindex, enum xdp_attach_mode *mode)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	__u32 id = 0;

	if (libxdp_get_error(mp) || !mp)
		return 0;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && !strcmp(xdp_program__name(p), LB_PROG_NAME)) {
			id = xdp_program__id(p);
			*mode = xdp_multiprog__attach_mode(mp);
		}
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
			if (strcmp(xdp_program__name(p), LB_PROG_NAME))
				continue;
			pr_info("taking a previous latebind program off libxdp's dispatcher\n");
			xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
			break;
		}
	}
	xdp_multiprog__close(mp);
	return id;
}

/* Load ours and swap it for the previous program atomically: no packet misses both. */
static int replace_previous(struct lb_loader *ld, const char *ifname, __u32 old_id,
			    enum xdp_attach_mode mode)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	__u32 flags = XDP_FLAGS_REPLACE |
		      (mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	int err, fd;

	err = balancer__load(ld->skel);
	if (err) {
		pr_warn("cannot load the XDP program: %s%s\n", strerror(-err),
			err == -EINVAL ? " (maps pinned by an incompatible latebind build? stop "
					 "it and remove " LB_PIN_DIR ")" : "");
		return -1;
	}
	opts.old_prog_fd = bpf_prog_get_fd_by_id(old_id);
	if (opts.old_prog_fd < 0)
		return -1;
	fd = bpf_program__fd(ld->skel->progs.lb_xdp);
	err = bpf_xdp_attach(ld->ifindex, fd, flags, &opts);
	close(opts.old_prog_fd);
	if (err) {
		pr_warn("cannot replace the previous program on %s: %s\n", ifname, strerror(-err));
		return -1;
	}
	ld->prog = xdp_program__from_fd(fd);
	if (libxdp_get_error(ld->prog))
		ld->prog = NULL;
	ld->mode = mode;
	pr_info("took over %s from the previous latebind program (%s mode, flows kept)\n",
		ifname, mode == XDP_MODE_SKB ? "generic" : "native");
	return 0;
}

static int attach_main(struct lb_loader *ld, const char *ifname, const char *mode_arg)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, opts, .obj = ld->skel->obj,
			    .prog_name = LB_PROG_NAME);
	enum xdp_attach_mode old_mode = XDP_MODE_NATIVE;
	__u32 old_id = find_previous(ld->ifindex, &old_mode);
	int err;

	if (old_id)
		return replace_previous(ld, ifname, old_id, old_mode);
	ld->prog = xdp_program__create(&opts);
	err = libxdp_get_error(ld->prog);
	if (err) {
		ld->prog = NULL;
		pr_warn("cannot prepare the XDP program: %s\n", strerror(-err));
		return -1;
	}
	if (strcmp(mode_arg, "generic")) {
		ld->mode = XDP_MODE_NATIVE;
		err = xdp_program__attach(ld->prog, ld->ifindex, ld->mode, 0);
		if (!err) {
			pr_info("attached to %s in native mode\n", ifname);
			return 0;
		}
		if (!strcmp(mode_arg, "native")) {
			pr_warn("cannot attach to %s in native mode: %s\n", ifname, strerror(-err));
			return -1;
		}
		pr_warn("native XDP unavailable on %s (%s); using generic mode, which is slower\n",
			ifname, strerror(-err));
	}
	ld->mode = XDP_MODE_SKB;
	err = xdp_program__attach(ld->prog, ld->ifindex, ld->mode, 0);
	if (err) {
		pr_warn("cannot attach to %s: %s\n", ifname, strerror(-err));
		return -1;
	}
	pr_info("attached to %s in generic mode\n", ifname);
	return 0;
}

int lb_loader_attach(struct lb_loader *ld, const char *ifname, const char *mode_arg)
{
	int err = attach_main(ld, ifname, mode_arg);

	if (!err)
		carry_in(ld);
	return err;
}

/*
 * Backends' diverted FIN/RST arriving there must reach lb_xdp. A program a
 * previous daemon left there goes first (replaced in place when attached alone).
 */
int lb_loader_attach_side(struct lb_loader *ld, int ifindex, const char *ifname, size_t n_sides)
{
	__u32 flags = ld->mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	int fd = bpf_program__fd(ld->skel->progs.lb_xdp), err;
	struct lb_loader_side *side = &ld->sides[ld->n_sides];
	enum xdp_attach_mode old_mode = ld->mode;
	__u32 old_id;

	if (ld->n_sides == LB_MAX_IFACES - 1)
		return -1; /* the config loader allows no more */
	*side = (struct lb_loader_side){ .ifindex = ifindex };
	old_id = find_previous(ifindex, &old_mode);
	if (old_id) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts);

		opts.old_prog_fd = bpf_prog_get_fd_by_id(old_id);
		err = opts.old_prog_fd < 0 ? -errno
					   : bpf_xdp_attach(ifindex, fd, flags | XDP_FLAGS_REPLACE,
							    &opts);
		if (opts.old_prog_fd >= 0)
			close(opts.old_prog_fd);
		side->legacy = true;
	} else {
		err = ld->prog ? xdp_program__attach(ld->prog, ifindex, ld->mode, 0) : -ENOENT;
		if (!err)
			side->prog = ld->prog;
		else if (!(err = bpf_xdp_attach(ifindex, fd, flags, NULL)))
			side->legacy = true;
	}
	/* Counted either way: a replace that failed may still have to be undone. */
	ld->n_sides++;
	if (err) {
		pr_warn("cannot attach to %s (backends behind it): %s\n", ifname, strerror(-err));
		return -1;
	}
	pr_info("attached to %s too (%zu backend interface(s)): closes of its backends "
		"come back there\n", ifname, n_sides);
	return 0;
}

/* lb_local_egress's filter on the main interface: ours by handle and priority. */
#define LB_LOCAL_TC_HANDLE   0x1b
#define LB_LOCAL_TC_PRIORITY 1

int lb_loader_attach_local(struct lb_loader *ld, const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ld->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = LB_LOCAL_TC_HANDLE,
		    .priority = LB_LOCAL_TC_PRIORITY,
		    .prog_fd = bpf_program__fd(ld->skel->progs.lb_local_egress),
		    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (!err || err == -EEXIST)
		err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_warn("cannot attach lb_local_egress to %s's TC egress (the local backend's "
			"connection ends): %s\n", ifname, strerror(-err));
		return -1;
	}
	ld->local_egress = true;
	return 0;
}

void lb_loader_detach_local(struct lb_loader *ld)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ld->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = LB_LOCAL_TC_HANDLE,
		    .priority = LB_LOCAL_TC_PRIORITY);

	libbpf_print_fn_t print;

	/*
	 * Nothing there is no error, and the kernel's message about it no
	 * warning. The clsact qdisc stays: other tools' filters may use it.
	 */
	print = libbpf_set_print(NULL);
	bpf_tc_detach(&hook, &opts);
	libbpf_set_print(print);
	ld->local_egress = false;
}

void lb_loader_detach(struct lb_loader *ld)
{
	__u32 flags = ld->mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	size_t i;

	for (i = 0; i < ld->n_sides; i++) {
		if (ld->sides[i].prog)
			xdp_program__detach(ld->sides[i].prog, ld->sides[i].ifindex, ld->mode, 0);
		else if (ld->sides[i].legacy)
			bpf_xdp_detach(ld->sides[i].ifindex, flags, NULL);
	}
	ld->n_sides = 0;
	if (ld->local_egress)
		lb_loader_detach_local(ld);
	if (ld->prog)
		xdp_program__detach(ld->prog, ld->ifindex, ld->mode, 0);
	if (ld->skel)
		bpf_object__unpin_maps(ld->skel->obj, NULL);
	rmdir(LB_PIN_DIR);
}

/* Array map @map mmapped whole (@len bytes), or NULL. */
static void *map_array(struct bpf_map *map, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);

	return p == MAP_FAILED ? NULL : p;
}

static void unmap_array(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

int lb_loader_map_backends(struct lb_loader *ld)
{
	ld->backends = map_array(ld->skel->maps.backends, LB_BACKENDS_MMAP_LEN);
	return ld->backends ? 0 : -1;
}

int lb_loader_map_counters(struct lb_loader *ld)
{
	ld->disp_rows = map_array(ld->skel->maps.disp_stats, LB_DISP_ROWS_MMAP_LEN);
	ld->disp_threads = map_array(ld->skel->maps.disp_threads, LB_DISP_THREADS_MMAP_LEN);
	if (!ld->disp_rows || !ld->disp_threads)
		return -1;
	/* A killed daemon's counts are its own: this one's start from zero. */
	memset(ld->disp_rows, 0, LB_DISP_ROWS_MMAP_LEN);
	memset(ld->disp_threads, 0, LB_DISP_THREADS_MMAP_LEN);
	return 0;
}

void lb_loader_close(struct lb_loader *ld)
{
	free(ld->carry.values); /* never carried in: the attach failed */
	ld->carry = (struct lb_loader_carry){ .map = NULL };
	unmap_array(ld->backends, LB_BACKENDS_MMAP_LEN);
	ld->backends = NULL;
	unmap_array(ld->disp_rows, LB_DISP_ROWS_MMAP_LEN);
	ld->disp_rows = NULL;
	unmap_array(ld->disp_threads, LB_DISP_THREADS_MMAP_LEN);
	ld->disp_threads = NULL;
	xdp_program__close(ld->prog);
	ld->prog = NULL;
	balancer__destroy(ld->skel);
	ld->skel = NULL;
}

struct lb_flow_progs lb_loader_flow_progs(struct balancer *skel)
{
	return (struct lb_flow_progs){
		.end = bpf_program__fd(skel->progs.lb_flow_end),
		.move = bpf_program__fd(skel->progs.lb_flow_move),
		.drops = bpf_program__fd(skel->progs.lb_flow_drops),
		.binds = bpf_program__fd(skel->progs.lb_flow_binds),
	};
}
