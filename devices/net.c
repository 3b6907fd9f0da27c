/*
 * virtio-net (virtio 1.2, 5.1) on a tap main opened for us at fd 6 with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR and a vnet header of 12 bytes (struct virtio_net_hdr_mrg_rxbuf): the guest's
 * header goes to the tap as is on tx, and the tap's header comes to the guest on rx with
 * num_buffers filled in (mergeable rx buffers). Queues: rx (0), tx (1). Config: mac[6], le16
 * status. No offloads yet: the guest gets no CSUM/GSO features, so the tap sees plain frames.
 *
 * rx reads one frame at a time into a bounce buffer, then spreads it over as many rx chains as
 * it needs. When the guest has no (more) rx buffers the frame waits there, the tap is not
 * watched, and a kick on the rx queue resumes.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vdev.h"

#define NET_VIRTIO_TYPE 1
#define NET_QUEUE_SIZE 256
#define NET_RXQ 0
#define NET_TXQ 1

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define NET_HDR_LEN 12	       /* struct virtio_net_hdr_mrg_rxbuf */
#define NET_HDR_NUM_BUFFERS 10 /* offset of le16 num_buffers */
#define NET_FRAME_MAX 65550u   /* largest frame (without the header) we pass on */
#define NET_BUF_MAX (NET_HDR_LEN + NET_FRAME_MAX)
#define NET_CONFIG_SIZE 8		 /* mac[6], le16 status */
#define NET_LOG_INTERVAL_NS 1000000000LL /* rate limit of the drop logs */

struct net {
	uint8_t *buf; /* the frame being delivered, header first */
	size_t len;   /* its bytes, 0: none pending */
	size_t off;   /* bytes already placed in rx chains */
	/* Chains popped for it and filled, not yet pushed (at most the queue size). */
	uint16_t heads[NET_QUEUE_SIZE];
	uint32_t lens[NET_QUEUE_SIZE];
	unsigned int nheads;
	/* Where the first chain keeps the header's num_buffers (it may span two segments). */
	uint8_t *nb_ptr[2];
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
}

/* ---- tx ---- */

static void net_tx(struct vdev *d)
{
	struct virtq *q = &d->q[NET_TXQ];
	struct virtq_chain *c = d->chain;
	struct iovec iov[VIRTQ_CHAIN_MAX];
	int r;

	do {
		virtq_disable_notify(q);
		while ((r = virtq_pop(q, c)) > 0) {
			ssize_t w;

			if (c->nread != c->nseg || c->read_len < NET_HDR_LEN) {
				/* 5.1.6.2: tx buffers are device-readable and start with the
				 * header. */
				vdev_broken(d, NET_TXQ);
				return;
			}
			if (c->read_len > NET_BUF_MAX) {
				net_drop(d, "a tx frame over 65550 bytes");
				virtq_push(q, c->head, 0);
				continue;
			}
			for (unsigned int i = 0; i < c->nread; i++) {
				iov[i].iov_base = c->seg[i].ptr;
				iov[i].iov_len = c->seg[i].len;
			}
			do
				w = writev(d->backend_fd, iov, (int)c->nread);
			while (w < 0 && errno == EINTR);
			if (w < 0)
				net_drop(d, strerror(errno));
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

/* Pushes the chains of the delivered frame, num_buffers first. */
static void net_rx_complete(struct vdev *d)
{
	struct net *n = net_of(d);
	struct virtq *q = &d->q[NET_RXQ];
	uint16_t nb = (uint16_t)n->nheads;

	*n->nb_ptr[0] = (uint8_t)nb;
	*n->nb_ptr[1] = (uint8_t)(nb >> 8);
	for (unsigned int i = 0; i < n->nheads; i++)
		virtq_push(q, n->heads[i], n->lens[i]);
	n->nheads = 0;
	n->len = n->off = 0;
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
	bool mrg = d->acked & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	int r;

	while (n->off < n->len) {
		size_t put;

		r = virtq_pop(q, c);
		if (r <= 0)
			return r < 0 ? -EIO : 0;
		if (c->nread != 0 || c->write_len == 0 ||
		    (n->nheads == 0 && c->write_len < NET_HDR_LEN)) {
			/* 5.1.6.3: rx buffers are device-writable, the first holds the header. */
			return -EIO;
		}
		if (n->nheads == NET_QUEUE_SIZE) /* cannot be: the ring has no more chains */
			return -EIO;
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
			net_drop(d, "an rx frame larger than the guest's buffer");
			n->lens[0] = 0;
			n->off = n->len;
		}
	}
	net_rx_complete(d);
	return 1;
}

/* Reads one frame from the tap if it has one: 1, or 0 (none now). */
static int net_rx_read(struct vdev *d)
{
	struct net *n = net_of(d);
	struct pollfd p = {.fd = d->backend_fd, .events = POLLIN};
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
	if ((size_t)got <= NET_HDR_LEN) {
		net_drop(d, "a short read from the tap");
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
	bool pushed = false;
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
		pushed = true;
	}
	vdev_watch_backend(d, true);
out:
	if (pushed)
		vdev_interrupt(d, NET_RXQ);
}

static void net_notify(struct vdev *d, unsigned int qi)
{
	if (qi == NET_TXQ)
		net_tx(d);
	else
		net_rx(d);
}

static int net_activate(struct vdev *d)
{
	net_rx(d);
	return 0;
}

const struct vdev_ops net_ops = {
	.name = "net",
	.virtio_type = NET_VIRTIO_TYPE,
	.nqueues = 2,
	.queue_max = NET_QUEUE_SIZE,
	.features = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
		    (1ULL << VIRTIO_NET_F_MRG_RXBUF),
	.config_size = NET_CONFIG_SIZE,
	.init = net_init,
	.activate = net_activate,
	.reset = net_reset,
	.notify = net_notify,
	.destroy = net_destroy,
	.backend_ready = net_rx,
};
