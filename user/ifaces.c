// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "ifaces.h"
#include "log.h"

#define LB_NEIGH_TABLE	"/proc/net/arp"
#define LB_DISCARD_PORT 9 /* where the datagram that makes the kernel ask ARP goes */

static int read_own_mac(const char *ifname, uint8_t mac[ETH_ALEN])
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ret = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (!ret)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	return ret;
}

/* A raw socket sending out of @ifindex (@name for the message), or -1 having said why. */
static int packet_socket(uint32_t ifindex, const char *name)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)ifindex };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		pr_warn("cannot open a packet socket on %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int lb_ifaces_side_of(const struct lb_ifaces *ifs, const struct lb_cfg_backend *c)
{
	size_t i;

	for (i = 0; c->interface[0] && i < ifs->n_sides; i++)
		if (!strcmp(ifs->names[i], c->interface))
			return i;
	return -1;
}

uint32_t lb_ifaces_backend_ifindex(const struct lb_ifaces *ifs, const struct lb_cfg_backend *c)
{
	int side = lb_ifaces_side_of(ifs, c);

	if (c->local)
		return LB_IFINDEX_LOCAL;
	return side >= 0 ? ifs->ports[side].ifindex : 0;
}

/* A raw socket on @c's interface for hand-offs (protocol 0: it sends, never receives). */
static int open_side(struct lb_ifaces *ifs, const struct lb_config *cfg, size_t i)
{
	const struct lb_cfg_backend *c = &cfg->backends[i];
	struct lb_handoff_port *port = &ifs->ports[ifs->n_sides];

	port->fd = -1;
	port->ifindex = if_nametoindex(c->interface);
	if (!port->ifindex) {
		pr_warn("%s:%d: backends[%zu].interface: '%s' not found on this host (ip link "
			"shows the names)\n", cfg->path, c->interface_line, i, c->interface);
		return -1;
	}
	if (read_own_mac(c->interface, port->mac)) {
		pr_warn("cannot read the MAC of %s: %s\n", c->interface, strerror(errno));
		return -1;
	}
	port->fd = packet_socket(port->ifindex, c->interface);
	if (port->fd < 0)
		return -1;
	snprintf(ifs->names[ifs->n_sides], LB_IFNAME_MAX, "%s", c->interface);
	ifs->n_sides++;
	return 0;
}

/*
 * The local backend's way in: a raw socket on lo, our main MAC as the source
 * (what `backend attach --interface lo --balancer-mac` on this host names).
 */
static int open_local(struct lb_ifaces *ifs)
{
	struct lb_handoff_port *port = &ifs->local;
	uint32_t lo = if_nametoindex("lo");

	if (!lo) {
		pr_warn("no lo on this host: the local backend cannot be reached\n");
		return -1;
	}
	port->ifindex = LB_IFINDEX_LOCAL;
	memcpy(port->mac, ifs->mac, ETH_ALEN);
	port->fd = packet_socket(lo, "lo");
	return port->fd < 0 ? -1 : 0;
}

int lb_ifaces_open(struct lb_ifaces *ifs, const struct lb_config *cfg)
{
	size_t i;

	ifs->fd = -1;
	ifs->local.fd = -1;
	ifs->ifindex = if_nametoindex(cfg->interface);
	if (!ifs->ifindex) {
		pr_warn("%s: interface '%s' not found on this host (ip link shows the names)\n",
			cfg->path, cfg->interface);
		return -1;
	}
	if (read_own_mac(cfg->interface, ifs->mac))
		return -1;
	ifs->fd = packet_socket(ifs->ifindex, cfg->interface);
	if (ifs->fd < 0)
		return -1;
	for (i = 0; i < cfg->n_backends; i++) {
		const struct lb_cfg_backend *c = &cfg->backends[i];

		if (c->local && ifs->local.fd < 0 && open_local(ifs))
			return -1;
		if (!c->interface[0] || lb_ifaces_side_of(ifs, c) >= 0)
			continue;
		if (ifs->n_sides == LB_MAX_IFACES - 1)
			return -1; /* the config loader allows no more */
		if (open_side(ifs, cfg, i))
			return -1;
	}
	return 0;
}

void lb_ifaces_close(struct lb_ifaces *ifs)
{
	size_t i;

	for (i = 0; i < ifs->n_sides; i++)
		if (ifs->ports[i].fd >= 0)
			close(ifs->ports[i].fd);
	ifs->n_sides = 0;
	if (ifs->local.fd >= 0)
		close(ifs->local.fd);
	ifs->local.fd = -1;
	if (ifs->fd >= 0)
		close(ifs->fd);
	ifs->fd = -1;
}

/* The main interface is in the maps too, for closes arriving on a side. */
int lb_ifaces_send(const struct lb_ifaces *ifs, const uint8_t *frame, size_t len)
{
	return send(ifs->fd, frame, len, MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

int lb_ifaces_fill_ports(const struct lb_ifaces *ifs, int devmap_fd, int ifaces_fd)
{
	__u32 k, next, *prev = NULL;
	struct lb_iface iface = {};
	size_t i;

	k = ifs->ifindex;
	memcpy(iface.mac, ifs->mac, ETH_ALEN);
	if (bpf_map_update_elem(devmap_fd, &k, &k, 0) ||
	    bpf_map_update_elem(ifaces_fd, &k, &iface, 0))
		return -1;
	for (i = 0; i < ifs->n_sides; i++) {
		k = ifs->ports[i].ifindex;
		memcpy(iface.mac, ifs->ports[i].mac, ETH_ALEN);
		if (bpf_map_update_elem(devmap_fd, &k, &k, 0) ||
		    bpf_map_update_elem(ifaces_fd, &k, &iface, 0))
			return -1;
	}
	while (!bpf_map_get_next_key(ifaces_fd, prev, &next)) {
		bool used = next == (__u32)ifs->ifindex;

		for (i = 0; i < ifs->n_sides; i++)
			used |= next == ifs->ports[i].ifindex;
		if (!used) {
			bpf_map_delete_elem(ifaces_fd, &next);
			bpf_map_delete_elem(devmap_fd, &next);
			prev = NULL; /* restart after a delete; the table is small */
			continue;
		}
		k = next;
		prev = &k;
	}
	return 0;
}

/* A backend whose MAC comes from the neighbour table: the local one has ours. */
static bool resolves_mac(const struct lb_cfg_backend *c)
{
	return c->name[0] && !c->mac_given && !c->local;
}

/* The kernel's answer, learnt on the interface @c sits behind and nowhere else. */
static void learn_mac(const struct lb_config *cfg, struct lb_backend *backends, in_addr_t addr,
		      const char *dev, const unsigned int m[ETH_ALEN])
{
	size_t i;
	int k;

	for (i = 0; i < cfg->n_backends; i++) {
		const struct lb_cfg_backend *c = &cfg->backends[i];
		struct lb_backend *b = &backends[i];

		if (!resolves_mac(c) || b->addr != addr ||
		    strcmp(dev, c->interface[0] ? c->interface : cfg->interface))
			continue;
		for (k = 0; k < ETH_ALEN; k++)
			b->mac[k] = m[k];
	}
}

/*
 * Until a backend's MAC is known it gets no hand-offs (the dispatcher answers
 * 503 for content only it holds); resolution runs once a second.
 */
void lb_ifaces_resolve_macs(const struct lb_config *cfg, struct lb_backend *backends)
{
	char line[256], ip[64], hw[64], dev[64];
	unsigned int flags, m[ETH_ALEN];
	size_t i, pending = 0;
	FILE *f;

	for (i = 0; i < cfg->n_backends; i++)
		if (resolves_mac(&cfg->backends[i]))
			pending++;
	if (!pending)
		return;
	f = fopen(LB_NEIGH_TABLE, "r");
	while (f && fgets(line, sizeof(line), f)) {
		struct in_addr a;

		/* IP address, HW type, Flags, HW address, Mask, Device; complete entries only. */
		if (sscanf(line, "%63s %*s %x %63s %*s %63s", ip, &flags, hw, dev) != 4 ||
		    !(flags & ATF_COM) || inet_pton(AF_INET, ip, &a) != 1 ||
		    sscanf(hw, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
			continue;
		learn_mac(cfg, backends, a.s_addr, dev, m);
	}
	if (f)
		fclose(f);
	for (i = 0; i < cfg->n_backends; i++) {
		static const uint8_t zero[ETH_ALEN];
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(LB_DISCARD_PORT) };
		int fd;

		if (!resolves_mac(&cfg->backends[i]) || memcmp(backends[i].mac, zero, ETH_ALEN))
			continue;
		to.sin_addr = cfg->backends[i].address;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0) {
			sendto(fd, "", 0, 0, (struct sockaddr *)&to, sizeof(to));
			close(fd);
		}
	}
}
