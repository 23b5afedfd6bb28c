// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xdp/xsk.h>

#include "log.h"
#include "xsk.h"

#define NUM_FRAMES  4096
#define FRAME_SIZE  XSK_UMEM__DEFAULT_FRAME_SIZE
#define RING_SIZE   2048 /* FILL and RX get half the frames, TX the other half */
#define RX_BATCH    64

struct xsk_queue {
	void *area;
	struct xsk_umem *umem;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_socket *xsk;
	struct xsk_ring_cons rx;
	struct xsk_ring_prod tx;
	uint64_t tx_free[NUM_FRAMES / 2]; /* frame addresses free for sending */
	uint32_t n_tx_free;
	uint32_t tx_queued;		 /* submitted since the last kick */
};

struct lb_xsk {
	struct xsk_queue *q;
	unsigned int nq;
	bool zerocopy;
};

/* RX queues of the interface; 1 where the driver does not say (veth without channels). */
static unsigned int rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned int n = 1;

	if (fd < 0)
		return 1;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_data = (void *)&ch;
	if (!ioctl(fd, SIOCETHTOOL, &ifr)) {
		n = ch.rx_count + ch.combined_count;
		if (!n)
			n = 1;
	}
	close(fd);
	return n;
}

static void reclaim_tx(struct xsk_queue *q)
{
	uint32_t idx, n, i;

	n = xsk_ring_cons__peek(&q->comp, RING_SIZE, &idx);
	for (i = 0; i < n; i++)
		q->tx_free[q->n_tx_free++] = *xsk_ring_cons__comp_addr(&q->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&q->comp, n);
}

static int open_queue(struct xsk_queue *q, const char *ifname, unsigned int id, int map_fd,
		      bool *zerocopy)
{
	struct xsk_umem_config ucfg = {
		.fill_size = RING_SIZE, .comp_size = RING_SIZE, .frame_size = FRAME_SIZE,
	};
	struct xsk_socket_config scfg = {
		.rx_size = RING_SIZE, .tx_size = RING_SIZE,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY,
	};
	uint32_t idx, i;
	int err;

	q->area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		return -errno;
	}
	err = xsk_umem__create(&q->umem, q->area, (size_t)NUM_FRAMES * FRAME_SIZE, &q->fill,
			       &q->comp, &ucfg);
	if (err)
		return err;
	err = xsk_socket__create(&q->xsk, ifname, id, q->umem, &q->rx, &q->tx, &scfg);
	if (err) {
		/* No zero-copy in this driver (veth, generic XDP): copy mode, said once. */
		if (*zerocopy)
			pr_info("%s: no AF_XDP zero-copy here (%s): copy mode\n", ifname,
				strerror(-err));
		scfg.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
		err = xsk_socket__create(&q->xsk, ifname, id, q->umem, &q->rx, &q->tx, &scfg);
		if (err)
			return err;
		*zerocopy = false;
	}
	if (xsk_ring_prod__reserve(&q->fill, NUM_FRAMES / 2, &idx) != NUM_FRAMES / 2)
		return -ENOMEM;
	for (i = 0; i < NUM_FRAMES / 2; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&q->fill, NUM_FRAMES / 2);
	for (i = 0; i < NUM_FRAMES / 2; i++)
		q->tx_free[i] = (uint64_t)(NUM_FRAMES / 2 + i) * FRAME_SIZE;
	q->n_tx_free = NUM_FRAMES / 2;
	return xsk_socket__update_xskmap(q->xsk, map_fd);
}

struct lb_xsk *lb_xsk_open(const char *ifname, int xsks_map_fd)
{
	struct lb_xsk *x = calloc(1, sizeof(*x));
	unsigned int i;
	int err;

	if (!x)
		return NULL;
	x->nq = rx_queues(ifname);
	x->zerocopy = true;
	x->q = calloc(x->nq, sizeof(*x->q));
	if (!x->q) {
		free(x);
		return NULL;
	}
	for (i = 0; i < x->nq; i++) {
		err = open_queue(&x->q[i], ifname, i, xsks_map_fd, &x->zerocopy);
		if (err) {
			pr_warn("AF_XDP socket on %s queue %u: %s\n", ifname, i, strerror(-err));
			x->nq = i + 1; /* close what was opened, this one included */
			lb_xsk_close(x);
			errno = -err;
			return NULL;
		}
	}
	return x;
}

void lb_xsk_close(struct lb_xsk *x)
{
	unsigned int i;

	if (!x)
		return;
	for (i = 0; i < x->nq; i++) {
		struct xsk_queue *q = &x->q[i];

		if (q->xsk)
			xsk_socket__delete(q->xsk);
		if (q->umem)
			xsk_umem__delete(q->umem);
		if (q->area)
			munmap(q->area, (size_t)NUM_FRAMES * FRAME_SIZE);
	}
	free(x->q);
	free(x);
}

unsigned int lb_xsk_queues(const struct lb_xsk *x)
{
	return x->nq;
}

bool lb_xsk_zerocopy(const struct lb_xsk *x)
{
	return x->zerocopy;
}

int lb_xsk_busy_poll(struct lb_xsk *x)
{
	int one = 1, usecs = LB_XSK_BUSY_POLL_US, budget = RX_BATCH;
	unsigned int i;

	for (i = 0; i < x->nq; i++) {
		int fd = xsk_socket__fd(x->q[i].xsk);

		if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
		    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) ||
		    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget)))
			return -errno;
	}
	return 0;
}

int lb_xsk_fd(const struct lb_xsk *x, unsigned int queue)
{
	return xsk_socket__fd(x->q[queue].xsk);
}

unsigned int lb_xsk_rx(struct lb_xsk *x, unsigned int queue, lb_xsk_rx_fn fn, void *ctx)
{
	struct xsk_queue *q = &x->q[queue];
	uint32_t idx_rx, idx_fill, n, i;

	reclaim_tx(q);
	n = xsk_ring_cons__peek(&q->rx, RX_BATCH, &idx_rx);
	if (!n) {
		if (xsk_ring_prod__needs_wakeup(&q->fill))
			recvfrom(xsk_socket__fd(q->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct xdp_desc *desc = xsk_ring_cons__rx_desc(&q->rx, idx_rx + i);

		fn(ctx, xsk_umem__get_data(q->area, desc->addr), desc->len);
	}
	/* Give the same frames back to the kernel: FILL has room for all we took. */
	while (xsk_ring_prod__reserve(&q->fill, n, &idx_fill) != n)
		;
	for (i = 0; i < n; i++) {
		const struct xdp_desc *desc = xsk_ring_cons__rx_desc(&q->rx, idx_rx + i);

		*xsk_ring_prod__fill_addr(&q->fill, idx_fill + i) = xsk_umem__extract_addr(desc->addr);
	}
	xsk_ring_prod__submit(&q->fill, n);
	xsk_ring_cons__release(&q->rx, n);
	return n;
}

int lb_xsk_send(struct lb_xsk *x, unsigned int queue, const uint8_t *frame, size_t len)
{
	struct xsk_queue *q = &x->q[queue];
	struct xdp_desc *desc;
	uint32_t idx;
	uint64_t addr;

	if (len > FRAME_SIZE)
		return -1;
	if (!q->n_tx_free)
		reclaim_tx(q);
	if (!q->n_tx_free || xsk_ring_prod__reserve(&q->tx, 1, &idx) != 1)
		return -1;
	addr = q->tx_free[--q->n_tx_free];
	memcpy(xsk_umem__get_data(q->area, addr), frame, len);
	desc = xsk_ring_prod__tx_desc(&q->tx, idx);
	desc->addr = addr;
	desc->len = len;
	xsk_ring_prod__submit(&q->tx, 1);
	/* A long turn (many batches received) sends before the ring runs out. */
	if (++q->tx_queued >= RING_SIZE / 2)
		lb_xsk_flush(x, queue);
	return 0;
}

void lb_xsk_flush_by_poll(struct lb_xsk *x, unsigned int queue)
{
	struct xsk_queue *q = &x->q[queue];

	if (q->tx_queued && RING_SIZE - xsk_prod_nb_free(&q->tx, RING_SIZE) > LB_XSK_POLL_TX)
		lb_xsk_flush(x, queue);
}

void lb_xsk_flush(struct lb_xsk *x, unsigned int queue)
{
	struct xsk_queue *q = &x->q[queue];
	int kicks;

	if (!q->tx_queued)
		return;
	/*
	 * In copy mode the kernel only transmits when told to, and then at most a
	 * small batch per call (32 frames): kick until the ring is drained.
	 */
	for (kicks = 0; kicks < RING_SIZE / 32 + 1; kicks++) {
		if (xsk_prod_nb_free(&q->tx, RING_SIZE) == RING_SIZE)
			break;
		if (sendto(xsk_socket__fd(q->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS)
			break;
	}
	q->tx_queued = xsk_prod_nb_free(&q->tx, RING_SIZE) != RING_SIZE;
	reclaim_tx(q);
}
