/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An AF_XDP socket standing in for the dispatcher's, so that a test run of the
 * XDP program can show which redirect to the dispatcher it chose
 * (redirect_dispatch, redirect_next_request, ...) instead of drop_no_xsk.
 *
 * BPF_PROG_TEST_RUN runs an XDP program on queue 0 of the loopback device of
 * the caller's network namespace and does not carry the redirect out, so a
 * socket bound to that queue and entered in `xsks` is all the program needs
 * to see. It is made in a network namespace of its own, entered by
 * test_xsk_open() and left by test_xsk_close(): the host's loopback is never
 * touched.
 */
#ifndef LATEBIND_TEST_XSK_H
#define LATEBIND_TEST_XSK_H

#include <stddef.h>

#include <xdp/xsk.h>

/*
 * libxdp keeps pointers to the rings it is given and unmaps them through those
 * pointers when the socket and umem are deleted: they live here, as long as
 * the socket, never on test_xsk_open()'s stack.
 */
struct test_xsk {
	int orig_netns; /* the namespace to go back to */
	int map_fd;
	void *area;
	size_t area_len;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp, rx;
};

/* Into a new network namespace, lo up, a socket on its queue 0 in @xsks_fd at key 0. */
void test_xsk_open(struct test_xsk *x, int xsks_fd);

/* Out of the map, closed, and back to the namespace the caller came from. */
void test_xsk_close(struct test_xsk *x);

#endif
