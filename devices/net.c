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
 * rx keeps a pool of rx chains taken from the ring ahead of the frames (with mergeable buffers
 * enough for the largest frame, else one) and readv()s each frame from the tap straight into
 * them: no copy. The chains the frame filled go back together, num_buffers set, with one used
 * idx update (virtq_fill()/virtq_flush()), so the driver never sees part of a frame; the rest
 * stay for the next. Up to NET_RX_BUDGET frames per wakeup, one interrupt for them all. What
 * does not fit the pool lands in a bounce buffer behind it and waits there for more chains
 * (mergeable buffers; without them a frame must fit one chain). When the guest has no rx
 * buffers at all, frames wait in the tap, the tap is not watched, and a kick on the rx queue
 * resumes. A frame that cannot fit what the guest can post is dropped.
 *
 * tx drains the ring per kick (one writev() per frame: a tap takes one frame per call), moves
 * used idx every NET_TX_FLUSH frames and at the end, and interrupts once for the batch.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "util.h"
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
#define NET_RX_BUDGET 64   /* frames per turn of the loop, then tx and main get theirs */
#define NET_TX_FLUSH 32	   /* tx frames per used idx update, at most */
#define NET_RX_IOV IOV_MAX /* one readv(): the pool's segments, the bounce buffer */
_Static_assert(NET_QUEUE_SIZE < NET_RX_IOV, "a chain as long as the queue fits one readv()");

/* What moving an rx frame came to (net_rx_one(), net_rx_place()); -EIO: the ring broke. */
enum { NET_RX_NO_BUFS, NET_RX_MOVED, NET_RX_TAP_EMPTY };

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

/* An rx chain taken ahead of the tap's frames; its writable segments are in net.rx_iov. */
struct net_rxchain {
	uint16_t head;
	uint32_t len;	   /* writable bytes */
	unsigned int nseg; /* its entries in rx_iov */
};

struct net {
	uint64_t feat; /* the negotiated features that count (net_deps) */
	bool nonblock; /* the tap is O_NONBLOCK: readv() needs no poll() first */
	/*
	 * The pool: rx chains taken from the ring ahead of the frames, in ring order, enough for
	 * the largest frame with mergeable buffers, else one. A frame is read straight into them
	 * (rx_iov: their segments, then the bounce buffer for what does not fit); those it filled
	 * go back, the rest wait for the next frame.
	 */
	struct net_rxchain pool[NET_QUEUE_SIZE];
	unsigned int npool;
	unsigned int pool_nseg;
	size_t pool_len;
	struct iovec rx_iov[NET_RX_IOV];
	/* A frame larger than the pool, waiting for more chains (mergeable buffers only). */
	uint8_t *buf; /* the bounce buffer: its bytes from off on are the frame's rest */
	size_t len;   /* its bytes, 0: none pending */
	size_t off;   /* bytes already placed in rx chains */
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
	int fl;

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
	fl = fcntl(d->backend_fd, F_GETFL);
	if (fl < 0) {
		log_err_errno("fcntl(F_GETFL) on the tap");
		return -EBADF;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->nonblock = fl & O_NONBLOCK;
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

/* Device reset: the pool, the frame and the chains it held are forgotten (the rings are gone). */
static void net_reset(struct vdev *d)
{
	struct net *n = net_of(d);

	n->npool = n->pool_nseg = 0;
	n->pool_len = 0;
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
			/* 5.1.6.2: tx buffers are device-readable and start with the header. */
			if (c->nread != c->nseg || c->read_len < NET_HDR_LEN)
				break;
			net_tx_frame(d, c);
			/*
			 * Used idx moves every NET_TX_FLUSH frames, not each: the driver reads it
			 * from another CPU. Below the queue size, so virtq_fill() cannot fail.
			 */
			virtq_fill(q, c->head, 0);
			if (q->filled >= MIN(NET_TX_FLUSH, q->size))
				virtq_flush(q);
		}
		virtq_flush(q);
		if (r != 0) {
			vdev_broken(d, NET_TXQ);
			return;
		}
	} while (virtq_enable_notify(q));
	vdev_interrupt(d, NET_TXQ);
}

/* ---- rx ---- */

/* The host address of byte off of iov[0..cnt), or NULL past their end. */
static uint8_t *iov_byte(const struct iovec *iov, unsigned int cnt, size_t off)
{
	for (unsigned int i = 0; i < cnt; i++) {
		if (off < iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + off;
		off -= iov[i].iov_len;
	}
	return NULL;
}

/*
 * Copies the frame's header between h and the start of iov[0..cnt), the segments of a chain
 * that holds it whole: out of the chain when out is set, into it otherwise.
 */
static void net_hdr_copy(const struct iovec *iov, unsigned int cnt, struct net_hdr *h, bool out)
{
	uint8_t *p = (uint8_t *)h;

	for (size_t i = 0; i < sizeof(*h); i++) {
		uint8_t *g = iov_byte(iov, cnt, i);

		if (out)
			p[i] = *g;
		else
			*g = p[i];
	}
}

/* Returns the chains held for the pending frame, all with one used idx update, and forgets it. */
static void net_rx_return(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];

	/* Cannot fail: we hold at most the queue size of chains, each popped from q, and every
	 * frame before was flushed. */
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

/*
 * Places the rest of the pending frame (the bounce buffer's n->buf[off, len)) in more rx
 * chains. Returns NET_RX_MOVED when it is delivered (or dropped), NET_RX_NO_BUFS when the
 * guest has no more buffers, -EIO when the ring broke.
 */
static int net_rx_place(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];
	struct virtq_chain *c = d->chain;
	int r;

	while (n->off < n->len) {
		size_t put;

		if (n->nheads == q->size) {
			/* The guest's every buffer is ours and the frame still does not fit. */
			net_rx_drop(d, "an rx frame larger than the whole rx ring");
			return NET_RX_MOVED;
		}
		r = virtq_pop(q, c);
		if (r <= 0)
			return r < 0 ? -EIO : NET_RX_NO_BUFS;
		/* 5.1.6.3: rx buffers are device-writable. */
		if (c->nread != 0 || c->write_len == 0)
			return -EIO;
		put = virtq_chain_write(c, 0, n->buf + n->off, n->len - n->off);
		n->heads[n->nheads] = c->head;
		n->lens[n->nheads++] = (uint32_t)put;
		n->off += put;
	}
	net_rx_complete(d);
	return NET_RX_MOVED;
}

/*
 * Tops the pool up from the rx ring: until it holds the largest frame with mergeable buffers,
 * one chain without them, or the ring is empty. 0, or -EIO when the ring broke.
 */
static int net_rx_fill_pool(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];
	struct virtq_chain *c = d->chain;
	bool mrg = d->acked & NET_F(VIRTIO_NET_F_MRG_RXBUF);
	unsigned int want = mrg ? q->size : 1;
	int r;

	/* A chain has at most q->size segments: room for it and for the bounce buffer. */
	while (n->pool_len < NET_BUF_MAX && n->npool < want &&
	       n->pool_nseg + q->size < NET_RX_IOV) {
		struct net_rxchain *p = &n->pool[n->npool];

		r = virtq_pop(q, c);
		if (r <= 0)
			return r;
		/* 5.1.6.3: rx buffers are device-writable. */
		if (c->nread != 0 || c->write_len == 0)
			return -EIO;
		p->head = c->head;
		p->len = c->write_len;
		p->nseg = c->nseg;
		for (unsigned int i = 0; i < c->nseg; i++)
			n->rx_iov[n->pool_nseg++] =
			    (struct iovec){.iov_base = c->seg[i].ptr, .iov_len = c->seg[i].len};
		n->pool_len += c->write_len;
		n->npool++;
	}
	return 0;
}

/* Forgets the pool's first k chains (they went back to the guest). */
static void net_rx_pool_shift(struct net *n, unsigned int k)
{
	unsigned int nseg = 0;
	size_t len = 0;

	for (unsigned int i = 0; i < k; i++) {
		nseg += n->pool[i].nseg;
		len += n->pool[i].len;
	}
	memmove(n->pool, n->pool + k, (n->npool - k) * sizeof(n->pool[0]));
	memmove(n->rx_iov, n->rx_iov + nseg, (n->pool_nseg - nseg) * sizeof(n->rx_iov[0]));
	n->npool -= k;
	n->pool_nseg -= nseg;
	n->pool_len -= len;
}

/*
 * Reads one frame from the tap straight into the pool's chains, the bounce buffer taking
 * whatever does not fit them: its length (with the header), or 0 when the tap has none now.
 * A read longer than the space says how much the tap truncated (tun_put_user()).
 */
static size_t net_rx_readv(struct vdev *d)
{
	struct net *n = net_of(d);
	unsigned int cnt = n->pool_nseg;
	ssize_t got;

	if (n->pool_len < NET_BUF_MAX)
		n->rx_iov[cnt++] = (struct iovec){.iov_base = n->buf + n->pool_len,
						  .iov_len = NET_BUF_MAX - n->pool_len};
	if (!n->nonblock) {
		/* A blocking tap: read only what is there. */
		struct pollfd p = {.fd = d->backend_fd, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
			return 0;
	}
	do
		got = readv(d->backend_fd, n->rx_iov, (int)cnt);
	while (got < 0 && errno == EINTR);
	if (got < 0 && errno != EAGAIN)
		net_drop(d, strerror(errno));
	return got < 0 ? 0 : (size_t)got;
}

/*
 * Why the frame the tap gave us (got bytes, header h) cannot go to the guest, or NULL. Fixes
 * what we owe the guest on the way: no DATA_VALID it did not ask for, num_buffers 0 until
 * known.
 */
static const char *net_rx_check(struct net *n, struct net_hdr *h, size_t got)
{
	/* DATA_VALID is a hint the guest may take only with GUEST_CSUM (5.1.6.4.1). */
	if (!(n->feat & NET_F(VIRTIO_NET_F_GUEST_CSUM)))
		h->flags &= (uint8_t)~NET_HDR_F_DATA_VALID;
	h->num_buffers = 0;
	return net_hdr_check(n->feat, &net_rx_dir, h, got - NET_HDR_LEN);
}

/*
 * The frame (got bytes, checked header h) fits the pool: the header with num_buffers goes
 * over the tap's, the chains it filled go back to the guest with one used idx update.
 */
static void net_rx_deliver(struct vdev *d, struct net_hdr *h, size_t got)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];
	unsigned int k = 0;

	/* Cannot fail: each frame is flushed, so at most npool <= q->size are filled. */
	for (size_t left = got; left > 0; k++) {
		uint32_t put = (uint32_t)MIN(left, n->pool[k].len);

		if (virtq_fill(q, n->pool[k].head, put) < 0)
			break;
		left -= put;
	}
	h->num_buffers = htole16((uint16_t)k);
	net_hdr_copy(n->rx_iov, n->pool[0].nseg, h, false);
	/* Release: the header and the frame land before used idx (virtq_flush()). */
	virtq_flush(q);
	net_rx_pool_shift(n, k);
}

/*
 * The frame (got bytes, checked header h) is larger than the pool: it holds every pooled chain
 * and waits for more (net_rx_place()), its rest in the bounce buffer. Without mergeable buffers
 * it had to fit one: it is dropped, that chain returned empty.
 */
static int net_rx_overflow(struct vdev *d, struct net_hdr *h, size_t got)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];

	if (!(d->acked & NET_F(VIRTIO_NET_F_MRG_RXBUF))) {
		/* 5.1.6.3.1: the pool is one chain here. */
		net_drop(d, "an rx frame larger than the guest's buffer");
		virtq_push(q, n->pool[0].head, 0);
		net_rx_pool_shift(n, 1);
		return NET_RX_MOVED;
	}
	net_hdr_copy(n->rx_iov, n->pool[0].nseg, h, false);
	n->nb_ptr[0] = iov_byte(n->rx_iov, n->pool[0].nseg, NET_HDR_NUM_BUFFERS);
	n->nb_ptr[1] = iov_byte(n->rx_iov, n->pool[0].nseg, NET_HDR_NUM_BUFFERS + 1);
	for (n->nheads = 0; n->nheads < n->npool; n->nheads++) {
		n->heads[n->nheads] = n->pool[n->nheads].head;
		n->lens[n->nheads] = n->pool[n->nheads].len;
	}
	n->len = got;
	n->off = n->pool_len; /* the bounce buffer's bytes start there (net_rx_readv()) */
	n->npool = n->pool_nseg = 0;
	n->pool_len = 0;
	return net_rx_place(d);
}

/*
 * Moves one frame from the tap into the guest. NET_RX_MOVED when one was delivered or dropped,
 * NET_RX_NO_BUFS when the guest has no buffer, NET_RX_TAP_EMPTY, or -EIO when the ring broke.
 */
static int net_rx_one(struct vdev *d)
{
	struct net *n = net_of(d);
	struct net_hdr h;
	const char *bad;
	size_t got;
	int r;

	r = net_rx_fill_pool(d);
	if (r < 0)
		return -EIO;
	if (n->npool == 0)
		return NET_RX_NO_BUFS; /* the frame waits in the tap */
	got = net_rx_readv(d);
	if (got == 0)
		return NET_RX_TAP_EMPTY;
	/* A frame we drop leaves the pool as it was: the guest never sees those bytes. */
	if (got > NET_BUF_MAX)
		bad = "a frame from the tap over 65550 bytes (truncated)";
	else if (got < NET_HDR_LEN + NET_ETH_HLEN)
		bad = "a short read from the tap";
	else if (n->pool[0].len < NET_HDR_LEN)
		return -EIO; /* 5.1.6.3: the first buffer of a frame holds the whole header */
	else {
		/* Checked on our copy: the guest may rewrite its buffer meanwhile. */
		net_hdr_copy(n->rx_iov, n->pool[0].nseg, &h, true);
		bad = net_rx_check(n, &h, got);
	}
	if (bad) {
		net_drop(d, bad);
		return NET_RX_MOVED;
	}
	if (got > n->pool_len)
		return net_rx_overflow(d, &h, got);
	net_rx_deliver(d, &h, got);
	return NET_RX_MOVED;
}

/*
 * Moves frames from the tap to the guest until one of them runs out or NET_RX_BUDGET frames
 * went (the tap stays watched: the loop comes back), with one interrupt for them all.
 */
static void net_rx(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];
	uint16_t used = q->used_idx;
	int r = NET_RX_MOVED;

	if (!q->ready)
		return;
	for (int budget = 0; budget < NET_RX_BUDGET; budget++) {
		r = n->len ? net_rx_place(d) : net_rx_one(d);
		if (r < 0) {
			vdev_broken(d, NET_RXQ);
			return;
		}
		if (r == NET_RX_TAP_EMPTY)
			break;
		if (r == NET_RX_NO_BUFS) {
			/* No buffers: wait for a kick on rx with the tap unwatched. */
			vdev_watch_backend(d, false);
			if (!virtq_enable_notify(q))
				goto out;
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
