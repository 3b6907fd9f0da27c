/*
 * virtio-net (virtio 1.2, 5.1) on a tap main opened for us at fd 6 with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR and a vnet header of 12 bytes (struct virtio_net_hdr_mrg_rxbuf). Queues: rx (0),
 * tx (1). Config: mac[6], le16 status.
 *
 * Offloads: checksum, TSO4/6 and ECN both ways. The driver's tx header goes to the tap as the
 * kernel reads it (it honours NEEDS_CSUM and gso), after a check against what was negotiated: a
 * header the driver had no right to send drops its frame, counted and logged rate-limited. At
 * ACTIVATE the tap is told (TUNSETOFFLOAD) to hand us only what the driver accepted, so with no
 * guest offloads it delivers complete, checksummed frames; a header from the tap that still
 * does not fit (a frame queued before) is dropped the same way. UFO is not offered: Linux's tap
 * ignores TUN_F_UFO since 4.14, and USO (TUN_F_USO4/6, Linux 6.2) is left for later.
 *
 * rx reads one frame at a time into a bounce buffer, then spreads it over as many rx chains as
 * it needs (mergeable buffers) and publishes them together, num_buffers set, with one used idx
 * update (virtq_fill()/virtq_flush()), so the driver never sees part of a frame. When the guest
 * has no (more) rx buffers the frame waits there, the tap is not watched, and a kick on the rx
 * queue resumes. A frame that cannot fit what the guest can post is dropped.
 */
#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "vdev.h"

#define NET_VIRTIO_TYPE 1
#define NET_QUEUE_SIZE 256
#define NET_RXQ 0
#define NET_TXQ 1

#define NET_ETH_HLEN 14
#define NET_FRAME_MAX 65550u /* largest frame (without the header) we pass on */
#define NET_BUF_MAX (NET_HDR_LEN + NET_FRAME_MAX)
#define NET_CONFIG_SIZE 8		 /* mac[6], le16 status */
#define NET_LOG_INTERVAL_NS 1000000000LL /* rate limit of the drop logs */

/* What a header may carry in one direction, and the features that allow it. */
struct net_dir {
	unsigned int csum; /* NEEDS_CSUM (and on rx DATA_VALID) */
	uint8_t flags;	   /* the flags csum allows */
	unsigned int tso4, tso6, ecn;
};

/* tx: what the driver may send (5.1.6.2.1); rx: what we may deliver (5.1.6.4.1). */
static const struct net_dir net_tx_dir = {VIRTIO_NET_F_CSUM, NET_HDR_F_NEEDS_CSUM,
					  VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
					  VIRTIO_NET_F_HOST_ECN};
static const struct net_dir net_rx_dir = {
    VIRTIO_NET_F_GUEST_CSUM, NET_HDR_F_NEEDS_CSUM | NET_HDR_F_DATA_VALID, VIRTIO_NET_F_GUEST_TSO4,
    VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN};

/* Feature dependencies (5.1.3.1): an offload counts only with the one it needs. */
static const struct {
	unsigned int bit;
	uint64_t needs; /* any of these */
} net_deps[] = {
    {VIRTIO_NET_F_HOST_TSO4, NET_F(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_HOST_TSO6, NET_F(VIRTIO_NET_F_CSUM)},
    {VIRTIO_NET_F_HOST_ECN, NET_F(VIRTIO_NET_F_HOST_TSO4) | NET_F(VIRTIO_NET_F_HOST_TSO6)},
    {VIRTIO_NET_F_GUEST_TSO4, NET_F(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_TSO6, NET_F(VIRTIO_NET_F_GUEST_CSUM)},
    {VIRTIO_NET_F_GUEST_ECN, NET_F(VIRTIO_NET_F_GUEST_TSO4) | NET_F(VIRTIO_NET_F_GUEST_TSO6)},
};

/* The tap offload each guest offload asks for (TUNSETOFFLOAD). */
static const struct {
	unsigned int bit;
	unsigned int tun;
} net_tap_map[] = {
    {VIRTIO_NET_F_GUEST_CSUM, TUN_F_CSUM},
    {VIRTIO_NET_F_GUEST_TSO4, TUN_F_TSO4},
    {VIRTIO_NET_F_GUEST_TSO6, TUN_F_TSO6},
    {VIRTIO_NET_F_GUEST_ECN, TUN_F_TSO_ECN},
};

struct net {
	uint64_t feat; /* the negotiated features that count (net_deps) */
	uint8_t *buf;  /* the frame being delivered, header first */
	size_t len;    /* its bytes, 0: none pending */
	size_t off;    /* bytes already placed in rx chains */
	/* Chains popped for it and filled, not yet returned (at most the queue size). */
	uint16_t heads[NET_QUEUE_SIZE];
	uint32_t lens[NET_QUEUE_SIZE];
	unsigned int nheads;
	/* Where the first chain keeps the header's num_buffers (it may span two segments). */
	uint8_t *nb_ptr[2];
	/* A tx frame: our checked copy of its header, then the guest's frame bytes. */
	struct iovec iov[NET_QUEUE_SIZE + 1];
	long long last_log_ns;
	unsigned long long dropped; /* drops since the last log */
};

static struct net *net_of(struct vdev *d)
{
	return d->priv;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A rate-limited warning about a dropped frame: at most one a second, with the count. */
static void net_drop(struct vdev *d, const char *why)
{
	struct net *n = net_of(d);
	long long t = now_ns();

	n->dropped++;
	if (t - n->last_log_ns < NET_LOG_INTERVAL_NS)
		return;
	log_warn("dropped %llu frame(s), the last: %s", n->dropped, why);
	n->dropped = 0;
	n->last_log_ns = t;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return -EINVAL; /* multicast */
	return 0;
}

static int net_init(struct vdev *d, int argc, char **argv)
{
	uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	struct stat st;
	struct net *n;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--mac") == 0 && i + 1 < argc) {
			if (parse_mac(argv[++i], mac) < 0) {
				log_err("bad --mac '%s' (XX:XX:XX:XX:XX:XX, unicast)", argv[i]);
				return -EINVAL;
			}
		} else {
			log_err("net: unknown option '%s' (--mac XX:XX:XX:XX:XX:XX)", argv[i]);
			return -EINVAL;
		}
	}
	if (d->backend_fd < 0 || fstat(d->backend_fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		log_err("net needs a tap (a /dev/net/tun fd) at fd %d", VDEV_FD_BACKEND);
		return -EBADF;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->buf = malloc(NET_BUF_MAX);
	if (!n->buf) {
		free(n);
		return -ENOMEM;
	}
	d->priv = n;
	memcpy(d->config, mac, 6);
	d->config[6] = VIRTIO_NET_S_LINK_UP; /* le16 */
	d->config[7] = 0;
	return 0;
}

static void net_destroy(struct vdev *d)
{
	struct net *n = net_of(d);

	if (n)
		free(n->buf);
	free(n);
	d->priv = NULL;
}

/* Device reset: the frame and the chains it held are forgotten (the rings are gone). */
static void net_reset(struct vdev *d)
{
	struct net *n = net_of(d);

	n->len = n->off = 0;
	n->nheads = 0;
	n->feat = 0;
}

/* ---- the vnet header ---- */

/* acked without the offloads whose prerequisite the driver did not accept. */
static uint64_t net_effective(uint64_t acked)
{
	for (size_t i = 0; i < sizeof(net_deps) / sizeof(net_deps[0]); i++)
		if (!(acked & net_deps[i].needs))
			acked &= ~NET_F(net_deps[i].bit);
	return acked;
}

/* The TUNSETOFFLOAD flags for the guest offloads in feat. */
static unsigned int net_tap_offloads(uint64_t feat)
{
	unsigned int flags = 0;

	for (size_t i = 0; i < sizeof(net_tap_map) / sizeof(net_tap_map[0]); i++)
		if (feat & NET_F(net_tap_map[i].bit))
			flags |= net_tap_map[i].tun;
	return flags;
}

/*
 * Why header h of a frame of len bytes (header excluded) may not go the way dir says with the
 * features feat, or NULL when it may. Offsets past the frame would make the kernel refuse it or
 * the guest read past its buffer.
 */
static const char *net_hdr_check(uint64_t feat, const struct net_dir *dir, const struct net_hdr *h,
				 size_t len)
{
	uint8_t gso = h->gso_type & (uint8_t)~NET_GSO_ECN;
	unsigned int need;

	if (h->flags & ~(feat & NET_F(dir->csum) ? dir->flags : 0))
		return "header flags not negotiated";
	if ((h->flags & NET_HDR_F_NEEDS_CSUM) &&
	    (size_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > len)
		return "checksum offsets beyond the frame";
	if (le16toh(h->hdr_len) > len)
		return "hdr_len beyond the frame";
	if (gso == NET_GSO_NONE)
		return h->gso_type ? "ECN without a gso type" : NULL;
	need = gso == NET_GSO_TCPV4 ? dir->tso4 : gso == NET_GSO_TCPV6 ? dir->tso6 : 0;
	if (!need || !(feat & NET_F(need)))
		return "a gso type not negotiated";
	if ((h->gso_type & NET_GSO_ECN) && !(feat & NET_F(dir->ecn)))
		return "gso with ECN not negotiated";
	if (!(h->flags & NET_HDR_F_NEEDS_CSUM) || h->gso_size == 0)
		return "gso without NEEDS_CSUM or gso_size";
	return NULL;
}

/* ---- tx ---- */

/* n->iov: our copy of the header, then the chain's bytes after the guest's header. */
static int net_tx_iov(struct net *n, const struct virtq_chain *c, struct net_hdr *hdr)
{
	size_t skip = NET_HDR_LEN;
	int cnt = 1;

	n->iov[0] = (struct iovec){.iov_base = hdr, .iov_len = NET_HDR_LEN};
	for (unsigned int i = 0; i < c->nread; i++) {
		size_t l = c->seg[i].len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		/* nread <= the queue size <= NET_QUEUE_SIZE (virtq_pop()), so cnt fits iov */
		n->iov[cnt].iov_base = (uint8_t *)c->seg[i].ptr + skip;
		n->iov[cnt++].iov_len = l - skip;
		skip = 0;
	}
	return cnt;
}

/* Sends the frame of tx chain c to the tap, or drops it (counted, logged rate-limited). */
static void net_tx_frame(struct vdev *d, const struct virtq_chain *c)
{
	struct net *n = net_of(d);
	size_t len = c->read_len - NET_HDR_LEN;
	struct net_hdr hdr;
	const char *bad;
	int cnt;
	ssize_t w;

	if (len > NET_FRAME_MAX) {
		net_drop(d, "a tx frame over 65550 bytes");
		return;
	}
	/* Checked and sent from our copy: the guest may rewrite its header meanwhile. */
	virtq_chain_read(c, 0, &hdr, sizeof(hdr));
	bad = net_hdr_check(n->feat, &net_tx_dir, &hdr, len);
	if (bad) {
		net_drop(d, bad);
		return;
	}
	cnt = net_tx_iov(n, c, &hdr);
	do
		w = writev(d->backend_fd, n->iov, cnt);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		net_drop(d, strerror(errno));
}

static void net_tx(struct vdev *d)
{
	struct virtq *q = &d->q[NET_TXQ];
	struct virtq_chain *c = d->chain;
	int r;

	do {
		virtq_disable_notify(q);
		while ((r = virtq_pop(q, c)) > 0) {
			if (c->nread != c->nseg || c->read_len < NET_HDR_LEN) {
				/* 5.1.6.2: tx buffers are device-readable and start with the
				 * header. */
				vdev_broken(d, NET_TXQ);
				return;
			}
			net_tx_frame(d, c);
			virtq_push(q, c->head, 0);
		}
		if (r < 0) {
			vdev_broken(d, NET_TXQ);
			return;
		}
	} while (virtq_enable_notify(q));
	vdev_interrupt(d, NET_TXQ);
}

/* ---- rx ---- */

/* Returns the chains held for the frame, all with one used idx update, and forgets it. */
static void net_rx_return(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];

	/* Cannot fail: we hold at most the queue size of chains, each popped from q. */
	for (unsigned int i = 0; i < n->nheads; i++)
		if (virtq_fill(q, n->heads[i], n->lens[i]) < 0)
			break;
	virtq_flush(q);
	n->nheads = 0;
	n->len = n->off = 0;
}

/* The frame is in its chains: num_buffers into the header, then publish them. */
static void net_rx_complete(struct vdev *d)
{
	struct net *n = net_of(d);
	uint16_t nb = (uint16_t)n->nheads;

	*n->nb_ptr[0] = (uint8_t)nb;
	*n->nb_ptr[1] = (uint8_t)(nb >> 8);
	net_rx_return(d);
}

/* The frame cannot be delivered: its chains go back unused (length 0). */
static void net_rx_drop(struct vdev *d, const char *why)
{
	struct net *n = net_of(d);

	net_drop(d, why);
	memset(n->lens, 0, n->nheads * sizeof(n->lens[0]));
	net_rx_return(d);
}

/* Finds the host bytes of the chain's writable byte off (it lies within write_len). */
static uint8_t *chain_byte(const struct virtq_chain *c, size_t off)
{
	for (unsigned int i = c->nread; i < c->nseg; i++) {
		if (off < c->seg[i].len)
			return (uint8_t *)c->seg[i].ptr + off;
		off -= c->seg[i].len;
	}
	return NULL;
}

/*
 * Places the pending frame in rx chains. Returns 1 when it is delivered (or dropped), 0 when
 * the guest has no more buffers, -EIO when the ring broke.
 */
static int net_rx_place(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];
	struct virtq_chain *c = d->chain;
	bool mrg = d->acked & NET_F(VIRTIO_NET_F_MRG_RXBUF);
	int r;

	while (n->off < n->len) {
		size_t put;

		if (n->nheads == q->size) {
			/* The guest's every buffer is ours and the frame still does not fit. */
			net_rx_drop(d, "an rx frame larger than the whole rx ring");
			return 1;
		}
		r = virtq_pop(q, c);
		if (r <= 0)
			return r < 0 ? -EIO : 0;
		if (c->nread != 0 || c->write_len == 0 ||
		    (n->nheads == 0 && c->write_len < NET_HDR_LEN)) {
			/* 5.1.6.3: rx buffers are device-writable, the first holds the header. */
			return -EIO;
		}
		put = virtq_chain_write(c, 0, n->buf + n->off, n->len - n->off);
		if (n->nheads == 0) {
			n->nb_ptr[0] = chain_byte(c, NET_HDR_NUM_BUFFERS);
			n->nb_ptr[1] = chain_byte(c, NET_HDR_NUM_BUFFERS + 1);
		}
		n->heads[n->nheads] = c->head;
		n->lens[n->nheads++] = (uint32_t)put;
		n->off += put;
		if (!mrg && n->off < n->len) {
			/* Without mergeable buffers a frame must fit one buffer (5.1.6.3.1). */
			net_rx_drop(d, "an rx frame larger than the guest's buffer");
			return 1;
		}
	}
	net_rx_complete(d);
	return 1;
}

/*
 * Why the frame the tap gave us (n->buf, got bytes) cannot go to the guest, or NULL. Fixes
 * what we owe the guest on the way: no DATA_VALID it did not ask for, num_buffers 0 until
 * known.
 */
static const char *net_rx_check(struct net *n, size_t got)
{
	struct net_hdr h;

	if (got > NET_BUF_MAX)
		return "a frame from the tap over 65550 bytes (truncated)";
	if (got < NET_HDR_LEN + NET_ETH_HLEN)
		return "a short read from the tap";
	memcpy(&h, n->buf, sizeof(h));
	/* DATA_VALID is a hint the guest may take only with GUEST_CSUM (5.1.6.4.1). */
	if (!(n->feat & NET_F(VIRTIO_NET_F_GUEST_CSUM)))
		h.flags &= (uint8_t)~NET_HDR_F_DATA_VALID;
	h.num_buffers = 0;
	memcpy(n->buf, &h, sizeof(h));
	return net_hdr_check(n->feat, &net_rx_dir, &h, got - NET_HDR_LEN);
}

/* Reads one frame from the tap if it has one: 1, or 0 (none now). */
static int net_rx_read(struct vdev *d)
{
	struct net *n = net_of(d);
	struct pollfd p = {.fd = d->backend_fd, .events = POLLIN};
	const char *bad;
	ssize_t got;

	if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
		return 0;
	do
		got = read(d->backend_fd, n->buf, NET_BUF_MAX);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		if (errno != EAGAIN)
			net_drop(d, strerror(errno));
		return 0;
	}
	/* A read longer than the buffer says how much the tap truncated (tun_put_user()). */
	bad = net_rx_check(n, (size_t)got);
	if (bad) {
		net_drop(d, bad);
		return 1;
	}
	n->len = (size_t)got;
	n->off = 0;
	n->nheads = 0;
	return 1;
}

/* Moves frames from the tap to the guest until one of them runs out. */
static void net_rx(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];
	uint16_t used = q->used_idx;
	int r;

	if (!q->ready)
		return;
	for (int budget = 0; budget < 64; budget++) {
		if (n->len == 0 && !net_rx_read(d))
			break;
		if (n->len == 0)
			continue;
		r = net_rx_place(d);
		if (r < 0) {
			vdev_broken(d, NET_RXQ);
			return;
		}
		if (r == 0) {
			/* No buffers: wait for a kick on rx with the tap unwatched. */
			vdev_watch_backend(d, false);
			if (!virtq_enable_notify(q))
				goto out;
			continue;
		}
	}
	vdev_watch_backend(d, true);
out:
	if (q->used_idx != used)
		vdev_interrupt(d, NET_RXQ);
}

static void net_notify(struct vdev *d, unsigned int qi)
{
	if (qi == NET_TXQ)
		net_tx(d);
	else
		net_rx(d);
}

/*
 * The features are known: the tap hands us only what the guest accepted (main set every
 * offload at open, for the driver to choose from), so with no guest offloads it checksums and
 * segments itself.
 */
static int net_activate(struct vdev *d)
{
	struct net *n = net_of(d);
	unsigned int flags;

	n->feat = net_effective(d->acked);
	flags = net_tap_offloads(n->feat);
	if (ioctl(d->backend_fd, TUNSETOFFLOAD, flags) < 0) {
		int ret = -errno;

		log_err_errno("TUNSETOFFLOAD 0x%x on the tap", flags);
		return ret;
	}
	net_rx(d);
	return 0;
}

const struct vdev_ops net_ops = {
	.name = "net",
	.virtio_type = NET_VIRTIO_TYPE,
	.nqueues = 2,
	.queue_max = NET_QUEUE_SIZE,
	.features = NET_F(VIRTIO_NET_F_CSUM) | NET_F(VIRTIO_NET_F_GUEST_CSUM) |
		    NET_F(VIRTIO_NET_F_MAC) | NET_F(VIRTIO_NET_F_GUEST_TSO4) |
		    NET_F(VIRTIO_NET_F_GUEST_TSO6) | NET_F(VIRTIO_NET_F_GUEST_ECN) |
		    NET_F(VIRTIO_NET_F_HOST_TSO4) | NET_F(VIRTIO_NET_F_HOST_TSO6) |
		    NET_F(VIRTIO_NET_F_HOST_ECN) | NET_F(VIRTIO_NET_F_MRG_RXBUF) |
		    NET_F(VIRTIO_NET_F_STATUS),
	.config_size = NET_CONFIG_SIZE,
	.init = net_init,
	.activate = net_activate,
	.reset = net_reset,
	.notify = net_notify,
	.destroy = net_destroy,
	.backend_ready = net_rx,
};
