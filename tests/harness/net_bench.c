/*
 * net_bench: moves frames between a vmm-device net device's rings and its tap, driven by the
 * harness, or between this process and the same tap directly (the ceiling), for
 * tests/bench/net.sh. Not a test: it prints numbers. Runs in the network namespace the script
 * made, on a tap that exists there and is up; opens it as main's tap_open() does (vnet header
 * of 12 bytes, offloads CSUM | TSO4 | TSO6, non-blocking).
 *
 *   net_bench features TAP
 *       Starts a net device on TAP and prints what it offers: "features=0x...".
 *   net_bench tx|rx dev|tap TAP SIZE SECONDS
 *       SIZE-byte frames for SECONDS (after half a second of warm-up), one process doing all
 *       the work on this side so that dev and tap differ only by the device:
 *       tx dev: frames on the tx ring -> the device writev()s them to the tap;
 *       tx tap: this process write()s the same frames (vnet header first) to the tap;
 *       rx dev: frames sent on the tap's interface -> the device reads them from the tap onto
 *               the rx ring (4 KiB buffers, mergeable) -> taken back and reposted here;
 *       rx tap: the same frames sent, this process read()s them from the tap.
 *       The far side is an AF_PACKET socket on the tap's interface: the sink of tx (it counts
 *       what arrived), the source of rx. At most WINDOW frames are in flight, so that neither
 *       side drops on the way; a frame not seen in 100 ms counts as lost.
 *       SIZE over 1514 is a TCP/IPv4 GSO frame (MSS 1448) with its vnet header.
 *       Prints "fps=N gbps=N frames=N lost=N bad=N".
 *
 * Every tx buffer holds the same frame (the device only reads them); one descriptor each.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"
#include "virtq.h"

#define RXQ 0
#define TXQ 1
#define NET_HDR 12	       /* struct virtio_net_hdr_mrg_rxbuf */
#define FRAME_MAX 65550	       /* devices/net.c's NET_FRAME_MAX */
#define PLAIN_MAX 1514	       /* larger frames are GSO */
#define GSO_MSS 1448	       /* TCP payload per segment */
#define RX_BUF 4096	       /* rx buffer with mergeable buffers, like a page */
#define WINDOW 256	       /* frames in flight; the tap queues 500 */
#define BATCH 64	       /* frames per sendmmsg/recvmmsg/read loop */
#define SNAP 128	       /* bytes of a frame the sink copies (it counts the rest) */
#define SINK_RCVBUF (64 << 20) /* WINDOW 64 KiB frames, with room */
#define ETHERTYPE_TEST 0x88b5  /* IEEE local experimental */

static const uint8_t dev_mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
static const uint8_t host_mac[6] = {0x02, 0, 0, 0, 0, 1}; /* not the tap's: OTHERHOST */

struct bench {
	bool tx, dev;
	size_t size;			   /* frame bytes, without the vnet header */
	uint8_t wire[NET_HDR + FRAME_MAX]; /* vnet header + frame: what the tap sees */
	uint16_t ethertype;
	int tap;
	int pkt; /* AF_PACKET: the sink (tx) or the source (rx) */
	int ifindex;
	struct harness h;
	uint64_t bufs[HARNESS_QUEUE_MAX];   /* tx: frame copies; rx: RX_BUF each */
	uint64_t gpa_of[HARNESS_QUEUE_MAX]; /* rx: the buffer behind each head */
	uint32_t rx_buf_len;
	unsigned int next_buf;
	unsigned int rx_left; /* rx dev: buffers still due for the frame in progress */
	uint32_t rx_len;      /* and its bytes so far */
	uint64_t sent, arrived, got, bytes, lost, bad;
	double elapsed;
};

/* One direction and side: push up to room frames, take what arrived, wait for either. */
struct path {
	int (*produce)(struct bench *b, unsigned int room);
	int (*consume)(struct bench *b);
	int (*wait)(struct bench *b);
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- frames ---- */

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* TCP/IPv4 169.254.77.1 -> .2 in f (size bytes), and the vnet header of a TSO frame. */
static void make_gso(uint8_t *hdr, uint8_t *f, size_t size)
{
	struct virtio_net_hdr_mrg_rxbuf vh = {0};
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint16_t tot = (uint16_t)(size - 14);

	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, (const uint8_t[]){169, 254, 77, 1, 169, 254, 77, 2}, 8);
	ip[10] = ip[11] = 0;
	memcpy(ip + 10, &(uint16_t){htons(ip_csum(ip, 20))}, 2);
	memset(tcp, 0, 20);
	memcpy(tcp, (const uint8_t[]){0x9c, 0x40, 0x13, 0x89}, 4); /* ports 40000 -> 5001 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* PSH, ACK */
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	vh.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.hdr.hdr_len = htole16(14 + 20 + 20);
	vh.hdr.gso_size = htole16(GSO_MSS);
	vh.hdr.csum_start = htole16(14 + 20);
	vh.hdr.csum_offset = htole16(16);
	memcpy(hdr, &vh, NET_HDR);
}

/* b->wire: the vnet header and a frame of b->size bytes in b's direction. */
static void make_frame(struct bench *b)
{
	uint8_t *f = b->wire + NET_HDR;

	memset(b->wire, 0, NET_HDR);
	memcpy(f, b->tx ? host_mac : dev_mac, 6);
	memcpy(f + 6, b->tx ? dev_mac : host_mac, 6);
	b->ethertype = b->size > PLAIN_MAX ? 0x0800 : ETHERTYPE_TEST;
	f[12] = (uint8_t)(b->ethertype >> 8);
	f[13] = (uint8_t)b->ethertype;
	for (size_t i = 14; i < b->size; i++)
		f[i] = (uint8_t)(i * 7);
	if (b->size > PLAIN_MAX)
		make_gso(b->wire, f, b->size);
}

/* A frame of len bytes arrived at the far side. */
static void count(struct bench *b, size_t len)
{
	b->arrived++;
	if (len != b->size) {
		b->bad++;
		return;
	}
	b->got++;
	b->bytes += len;
}

/* ---- the host side: tap, sink, source ---- */

/* As main's tap_open(): attach to the tap with a 12-byte vnet header and offloads. */
static int open_tap(struct bench *b, const char *name)
{
	struct ifreq ifr = {0};
	int hdr = NET_HDR;

	b->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (b->tap < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(b->tap, TUNSETIFF, &ifr) < 0 || ioctl(b->tap, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(b->tap, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
		fprintf(stderr, "net_bench: tap %s: %s\n", name, strerror(errno));
		return -errno;
	}
	b->ifindex = (int)if_nametoindex(name);
	return b->ifindex > 0 ? 0 : -ENODEV;
}

/* tx: every frame arriving on the tap's interface, with a receive buffer for WINDOW of them. */
static int open_sink(struct bench *b)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = b->ifindex};
	int sz = SINK_RCVBUF;

	b->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (b->pkt < 0)
		return -errno;
	if (setsockopt(b->pkt, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 ||
	    bind(b->pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

/* rx: a socket that sends on the tap's interface and receives nothing (protocol 0). */
static int open_source(struct bench *b)
{
	int on = 1;

	b->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (b->pkt < 0)
		return -errno;
	/* GSO frames go with their virtio_net_hdr, so the tap gets them whole (it has TSO). */
	if (b->size > PLAIN_MAX &&
	    setsockopt(b->pkt, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) < 0)
		return -errno;
	return 0;
}

static int sink_drain(struct bench *b)
{
	static uint8_t snap[BATCH][SNAP];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll from[BATCH];
	int n;

	memset(m, 0, sizeof(m));
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = snap[i], .iov_len = SNAP};
		m[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
					       .msg_namelen = sizeof(from[i]),
					       .msg_iov = &iov[i],
					       .msg_iovlen = 1};
	}
	/* MSG_TRUNC: msg_len is the frame's length, though only SNAP bytes are copied. */
	n = recvmmsg(b->pkt, m, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (int i = 0; i < n; i++)
		if (from[i].sll_pkttype != PACKET_OUTGOING)
			count(b, m[i].msg_len);
	return n;
}

static int source_send(struct bench *b, unsigned int room)
{
	struct sockaddr_ll to = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(b->ethertype),
				 .sll_ifindex = b->ifindex,
				 .sll_halen = 6};
	bool gso = b->size > PLAIN_MAX;
	/* with PACKET_VNET_HDR the socket takes the 10-byte virtio_net_hdr first */
	struct iovec iov[2] = {{.iov_base = b->wire, .iov_len = sizeof(struct virtio_net_hdr)},
			       {.iov_base = b->wire + NET_HDR, .iov_len = b->size}};
	struct mmsghdr m[BATCH];
	unsigned int n = room < BATCH ? room : BATCH;
	int r;

	memcpy(to.sll_addr, dev_mac, 6);
	memset(m, 0, sizeof(m));
	for (unsigned int i = 0; i < n; i++)
		m[i].msg_hdr = (struct msghdr){.msg_name = &to,
					       .msg_namelen = sizeof(to),
					       .msg_iov = gso ? iov : iov + 1,
					       .msg_iovlen = gso ? 2 : 1};
	r = sendmmsg(b->pkt, m, n, MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == ENOBUFS ? 0 : -errno;
	return r;
}

/* Waits up to 1 ms for a or b (either may be -1) to become readable. */
static int wait2(int a, int c)
{
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = c, .events = POLLIN}};

	return poll(p, 2, 1) < 0 && errno != EINTR ? -errno : 0;
}

/* ---- tx ---- */

static int tx_dev_produce(struct bench *b, unsigned int room)
{
	struct harness_used u;
	unsigned int n = 0;
	int ret;

	/* Used tx buffers are free again; each holds the same frame, so no bookkeeping. */
	while ((ret = harness_poll_used(&b->h, TXQ, &u)) == 1)
		;
	if (ret < 0)
		return ret;
	for (; n < room; n++) {
		struct harness_buf hb = {.gpa = b->bufs[b->next_buf],
					 .len = (uint32_t)(NET_HDR + b->size)};

		ret = harness_add(&b->h, TXQ, &hb, 1, false);
		if (ret == -ENOSPC)
			break;
		if (ret < 0)
			return ret;
		b->next_buf = (b->next_buf + 1) % b->h.q[TXQ].size;
	}
	if (n)
		harness_kick(&b->h, TXQ);
	return (int)n;
}

static int tx_dev_wait(struct bench *b)
{
	int ret = wait2(b->pkt, b->h.q[TXQ].irq_fd);

	harness_irqs(&b->h, TXQ);
	return ret;
}

static int tx_tap_produce(struct bench *b, unsigned int room)
{
	unsigned int n = 0;

	for (; n < room && n < BATCH; n++) {
		ssize_t w = write(b->tap, b->wire, NET_HDR + b->size);

		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0)
			return -errno;
	}
	return (int)n;
}

static int tx_tap_wait(struct bench *b)
{
	return wait2(b->pkt, -1);
}

/* ---- rx ---- */

static int rx_post(struct bench *b, uint64_t gpa)
{
	struct harness_buf hb = {.gpa = gpa, .len = b->rx_buf_len, .write = true};
	int head = harness_add(&b->h, RXQ, &hb, 1, false);

	if (head < 0)
		return head;
	b->gpa_of[head] = gpa;
	return 0;
}

/* Takes used rx buffers back, counting frames by the num_buffers of their first, reposts. */
static int rx_dev_consume(struct bench *b)
{
	struct harness_used u;
	int ret, n = 0, posted = 0;

	while ((ret = harness_poll_used(&b->h, RXQ, &u)) == 1) {
		uint64_t gpa = b->gpa_of[u.id];

		if (b->rx_left == 0) {
			const uint8_t *p = harness_ptr(&b->h, gpa, NET_HDR);

			b->rx_left = (unsigned int)(p[10] | p[11] << 8);
			b->rx_left = b->rx_left ? b->rx_left : 1;
			b->rx_len = 0;
		}
		b->rx_len += u.len;
		if (--b->rx_left == 0) {
			count(b, b->rx_len - NET_HDR);
			n++;
		}
		if ((ret = rx_post(b, gpa)) < 0)
			return ret;
		posted++;
	}
	if (ret < 0)
		return ret;
	if (posted)
		harness_kick(&b->h, RXQ);
	return n;
}

static int rx_dev_wait(struct bench *b)
{
	int ret = wait2(b->h.q[RXQ].irq_fd, -1);

	harness_irqs(&b->h, RXQ);
	return ret;
}

static int rx_tap_consume(struct bench *b)
{
	static uint8_t buf[NET_HDR + FRAME_MAX];
	int n = 0;

	for (; n < BATCH; n++) {
		ssize_t r = read(b->tap, buf, sizeof(buf));

		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0)
			return -errno;
		count(b, r > NET_HDR ? (size_t)r - NET_HDR : 0);
	}
	return n;
}

static int rx_tap_wait(struct bench *b)
{
	return wait2(b->tap, -1);
}

static const struct path paths[2][2] = {
    /* [tx][dev] */
    {{.produce = source_send, .consume = rx_tap_consume, .wait = rx_tap_wait},
     {.produce = source_send, .consume = rx_dev_consume, .wait = rx_dev_wait}},
    {{.produce = tx_tap_produce, .consume = sink_drain, .wait = tx_tap_wait},
     {.produce = tx_dev_produce, .consume = sink_drain, .wait = tx_dev_wait}},
};

/* ---- the run ---- */

static int run(struct bench *b, const struct path *p, double seconds)
{
	double t0 = now_s(), t, idle = t0;
	int n, m, ret;

	while ((t = now_s()) < t0 + seconds) {
		uint64_t inflight;

		if (b->arrived > b->sent) {
			/* frames counted lost came after all */
			b->lost -= MIN(b->lost, b->arrived - b->sent);
			b->sent = b->arrived;
		}
		inflight = b->sent - b->arrived;

		n = inflight < WINDOW ? p->produce(b, (unsigned int)(WINDOW - inflight)) : 0;
		if (n < 0)
			return n;
		b->sent += (unsigned int)n;
		if ((m = p->consume(b)) < 0)
			return m;
		if (n || m) {
			idle = t;
			continue;
		}
		if (t - idle > 0.1) {
			/* nothing moved for 100 ms: what is in flight is not coming */
			if (b->dev && !harness_alive(&b->h))
				return -ECHILD;
			b->lost += b->sent - b->arrived;
			b->sent = b->arrived;
			idle = t;
		}
		if ((ret = p->wait(b)) < 0)
			return ret;
	}
	b->elapsed = t - t0;
	return 0;
}

static int start_dev(struct bench *b)
{
	static const char *const args[] = {"--mac", "52:54:00:ab:cd:ef", NULL};
	struct harness_spec s = {.type = "net", .args = args, .backend_fd = b->tap};
	int ret = harness_start(&b->h, &s);

	if (ret < 0)
		fprintf(stderr, "net_bench: net device did not start: %s\n", strerror(-ret));
	return ret;
}

/* Activates with every feature offered (as a Linux guest would) and fills the rings. */
static int setup_dev(struct bench *b)
{
	int ret = harness_activate(&b->h, b->h.info.features);
	bool mrg = b->h.info.features & HARNESS_F(VIRTIO_NET_F_MRG_RXBUF);
	uint32_t len =
	    b->tx ? (uint32_t)(NET_HDR + b->size) : (mrg ? RX_BUF : (uint32_t)(NET_HDR + b->size));
	unsigned int qi = b->tx ? TXQ : RXQ;

	b->rx_buf_len = len;
	for (unsigned int i = 0; i < b->h.q[qi].size && ret == 0; i++) {
		b->bufs[i] = harness_alloc(&b->h, len);
		if (b->bufs[i] == 0)
			return -ENOMEM;
		if (b->tx)
			memcpy(harness_ptr(&b->h, b->bufs[i], len), b->wire, len);
		else
			ret = rx_post(b, b->bufs[i]);
	}
	if (ret == 0 && !b->tx)
		harness_kick(&b->h, RXQ);
	return ret;
}

static int cmd_run(struct bench *b, const char *tap, double seconds)
{
	const struct path *p = &paths[b->tx][b->dev];
	int ret;

	make_frame(b);
	ret = open_tap(b, tap);
	if (ret == 0)
		ret = b->tx ? open_sink(b) : open_source(b);
	if (ret == 0 && b->dev)
		ret = start_dev(b);
	if (ret == 0 && b->dev)
		ret = setup_dev(b);
	if (ret == 0)
		ret = run(b, p, 0.5); /* warm-up: page faults, caches, the device's first reads */
	b->got = b->bytes = b->lost = b->bad = 0;
	if (ret == 0)
		ret = run(b, p, seconds);
	if (b->dev)
		harness_stop(&b->h);
	if (ret < 0)
		return ret;
	printf("fps=%.0f gbps=%.3f frames=%llu lost=%llu bad=%llu\n", (double)b->got / b->elapsed,
	       (double)b->bytes * 8 / b->elapsed / 1e9, (unsigned long long)b->got,
	       (unsigned long long)b->lost, (unsigned long long)b->bad);
	return 0;
}

static int cmd_features(struct bench *b, const char *tap)
{
	int ret = open_tap(b, tap);

	if (ret == 0)
		ret = start_dev(b);
	if (ret < 0)
		return ret;
	printf("features=0x%llx\n", (unsigned long long)b->h.info.features);
	harness_stop(&b->h);
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b = {.tap = -1, .pkt = -1};
	int ret = -EINVAL;

	if (argc == 3 && strcmp(argv[1], "features") == 0) {
		ret = cmd_features(&b, argv[2]);
	} else if (argc == 6 && (strcmp(argv[1], "tx") == 0 || strcmp(argv[1], "rx") == 0) &&
		   (strcmp(argv[2], "dev") == 0 || strcmp(argv[2], "tap") == 0)) {
		b.tx = strcmp(argv[1], "tx") == 0;
		b.dev = strcmp(argv[2], "dev") == 0;
		b.size = strtoul(argv[4], NULL, 0);
		if (b.size >= 60 && b.size <= FRAME_MAX &&
		    (b.size <= PLAIN_MAX || b.size > 54 + GSO_MSS) && strtod(argv[5], NULL) > 0)
			ret = cmd_run(&b, argv[3], strtod(argv[5], NULL));
	}
	if (ret == -EINVAL)
		fprintf(stderr, "usage: net_bench features TAP\n"
				"       net_bench tx|rx dev|tap TAP SIZE SECONDS\n");
	else if (ret < 0)
		fprintf(stderr, "net_bench: %s\n", strerror(-ret));
	if (b.pkt >= 0)
		close(b.pkt);
	if (b.tap >= 0)
		close(b.tap);
	return ret < 0 ? 1 : 0;
}
