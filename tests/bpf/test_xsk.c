// SPDX-License-Identifier: GPL-2.0
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_xdp.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>

#include "test_xsk.h"

#define XSK_FRAMES     64
#define XSK_FRAME_SIZE 4096

static void lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(ifr.ifr_name, "lo");
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

void test_xsk_open(struct test_xsk *x, int xsks_fd)
{
	struct xsk_umem_config ucfg = {
		.fill_size = XSK_FRAMES, .comp_size = XSK_FRAMES, .frame_size = XSK_FRAME_SIZE,
	};
	struct xsk_socket_config scfg = {
		.rx_size = XSK_FRAMES,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	uint32_t key = 0;
	int err, fd;

	memset(x, 0, sizeof(*x));
	x->map_fd = xsks_fd;
	x->orig_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(x->orig_netns, 0);
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	lo_up();

	x->area_len = (size_t)XSK_FRAMES * XSK_FRAME_SIZE;
	x->area = mmap(NULL, x->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	ck_assert_msg(x->area != MAP_FAILED, "mmap: %s", strerror(errno));
	err = xsk_umem__create(&x->umem, x->area, x->area_len, &x->fill, &x->comp, &ucfg);
	ck_assert_msg(!err, "xsk_umem__create: %s", strerror(-err));
	err = xsk_socket__create(&x->xsk, "lo", 0, x->umem, &x->rx, NULL, &scfg);
	ck_assert_msg(!err, "xsk_socket__create on lo: %s", strerror(-err));
	fd = xsk_socket__fd(x->xsk);
	ck_assert_int_eq(bpf_map_update_elem(xsks_fd, &key, &fd, BPF_ANY), 0);
}

void test_xsk_close(struct test_xsk *x)
{
	uint32_t key = 0;

	bpf_map_delete_elem(x->map_fd, &key);
	xsk_socket__delete(x->xsk);
	xsk_umem__delete(x->umem);
	munmap(x->area, x->area_len);
	ck_assert_msg(setns(x->orig_netns, CLONE_NEWNET) == 0, "back to our namespace: %s",
		      strerror(errno));
	close(x->orig_netns);
}
