/*
 * virtio-net in its own vmm-device process, driven by the harness, on a tap in a network
 * namespace each test creates (no traffic leaves it). The test plays the host through an
 * AF_PACKET socket bound to the tap's interface: what the device writes to the tap the kernel
 * receives there, and what the test sends there comes out of the tap into the device's rx.
 * Offload tests add a second tap (no vnet header, no offloads) and a bridge joining the two:
 * what leaves that tap is what the kernel put "on the wire" for a frame of the device, after it
 * checksummed or segmented it. Frames with a vnet header go into the tap from an AF_PACKET
 * socket with PACKET_VNET_HDR, as the kernel's own psock_snd selftest sends them.
 * Needs root (CAP_NET_ADMIN for the namespace and the tap): skipped, loudly, otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "net.h"
#include "virtq.h"

#define TAP_NAME "vmmtap0"
#define WIRE_NAME "vmmtap1" /* the second tap, behind the bridge */
#define BRIDGE_NAME "vmmbr0"
#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental */
#define F_NO_MRG                                                                                   \
	(HARNESS_F(VIRTIO_F_VERSION_1) | NET_F(VIRTIO_NET_F_MAC) | NET_F(VIRTIO_NET_F_STATUS))
#define F_NET (F_NO_MRG | NET_F(VIRTIO_NET_F_MRG_RXBUF))
/* The TCP/IPv4 frames of the offload tests: Ethernet, IPv4 and TCP headers without options. */
#define TCP_HDRS (14 + 20 + 20)
#define TCP_CSUM_OFF 16 /* of the TCP checksum in the TCP header */
#define MSS 1000

static const uint8_t dev_mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 2};
static struct harness h;
static int tap = -1;
static int pkt = -1;
static int wire = -1;			   /* the second tap, once a test asked for it */
static uint64_t rx_gpa[HARNESS_QUEUE_MAX]; /* each rx head's buffer */

static void write_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, v, strlen(v)) < 0) {
			/* best effort: without it the kernel may send a few IPv6 frames */
		}
		close(fd);
	}
}

/* A net device on the tap, with dev_mac. */
static void start_device(void)
{
	static const char *const args[] = {"--mac", "52:54:00:ab:cd:ef", NULL};
	struct harness_spec s = {.type = "net", .args = args, .backend_fd = tap};
	int ret = harness_start(&h, &s);

	cr_assert_eq(ret, 0, "net did not start: %s", strerror(-ret));
	cr_assert_eq(h.info.device_type, 1);
	cr_assert_eq(h.info.nqueues, 2);
}

static void start(void)
{
	struct ifreq ifr;
	struct sockaddr_ll sll;
	int sock, ret;

	if (geteuid() != 0) {
		fprintf(stderr, "net_harness_test: SKIPPED, needs root for a network namespace and "
				"a tap\n");
		cr_skip_test("needs root (network namespace and tap)");
	}
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	/* A quiet link: no IPv6 router solicitations or MLD reports on the tap. */
	write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");

	tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	cr_assert_geq(tap, 0, "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TAP_NAME);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	cr_assert_eq(ioctl(tap, TUNSETIFF, &ifr), 0, "TUNSETIFF: %s", strerror(errno));
	ret = NET_HDR_LEN;
	cr_assert_eq(ioctl(tap, TUNSETVNETHDRSZ, &ret), 0, "TUNSETVNETHDRSZ: %s", strerror(errno));
	/* As main/tap.c opens it: every offload on, for the device to narrow at ACTIVATE. */
	cr_assert_eq(ioctl(tap, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), 0,
		     "TUNSETOFFLOAD: %s", strerror(errno));

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(sock, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TAP_NAME);
	cr_assert_eq(ioctl(sock, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(sock, SIOCSIFFLAGS, &ifr), 0, "SIOCSIFFLAGS: %s", strerror(errno));
	close(sock);

	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	cr_assert_geq(pkt, 0, "AF_PACKET: %s", strerror(errno));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(TAP_NAME);
	cr_assert_gt(sll.sll_ifindex, 0);
	cr_assert_eq(bind(pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	ret = 1;
	cr_assert_eq(setsockopt(pkt, SOL_PACKET, PACKET_AUXDATA, &ret, sizeof(ret)), 0);

	start_device();
}

static void stop(void)
{
	harness_stop(&h);
	if (pkt >= 0)
		close(pkt);
	if (tap >= 0)
		close(tap);
	if (wire >= 0)
		close(wire);
	pkt = tap = wire = -1;
	/* The bridge and the taps go with the namespace when this test's process exits. */
}

TestSuite(net_harness, .init = start, .fini = stop, .timeout = 60);

/* A test frame of len bytes (>= 14) to the device's MAC, payload from seed. */
static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 1};

	memcpy(f, dev_mac, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

static bool is_test_frame(const uint8_t *f, size_t len)
{
	return len >= 14 && f[12] == (ETHERTYPE_TEST >> 8) && f[13] == (ETHERTYPE_TEST & 0xff);
}

/* A frame of make_tcp4(): to dev_mac, IPv4 from 169.254.7.1, TCP. */
static bool is_test_tcp4(const uint8_t *f, size_t len)
{
	static const uint8_t src[4] = {169, 254, 7, 1};

	return len >= 14 + 20 + 20 && memcmp(f, dev_mac, 6) == 0 && f[12] == 0x08 && f[13] == 0 &&
	       f[14 + 9] == 6 && memcmp(f + 14 + 12, src, 4) == 0;
}

/* Sends frame f on the tap's interface: it comes out of the tap fd, into the device. */
static void host_send(const uint8_t *f, size_t len)
{
	cr_assert_eq(send(pkt, f, len, 0), (ssize_t)len, "send: %s", strerror(errno));
}

/*
 * The next test frame (ETHERTYPE_TEST, or make_tcp4()'s when ip is set) the kernel received on the
 * tap's interface: its length, or -1. status: the tpacket_auxdata tp_status it came with.
 */
static ssize_t host_recv_from(uint8_t *buf, size_t len, int timeout_ms, bool ip, uint32_t *status)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		struct pollfd p = {.fd = pkt, .events = POLLIN};
		struct sockaddr_ll from;
		union {
			struct cmsghdr c;
			uint8_t b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} ctl;
		struct iovec iov = {.iov_base = buf, .iov_len = len};
		struct msghdr m = {.msg_name = &from,
				   .msg_namelen = sizeof(from),
				   .msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = &ctl,
				   .msg_controllen = sizeof(ctl)};
		struct cmsghdr *c;
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recvmsg(pkt, &m, MSG_DONTWAIT);
		if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (ip ? !is_test_tcp4(buf, (size_t)n) : !is_test_frame(buf, (size_t)n))
			continue;
		for (c = CMSG_FIRSTHDR(&m); c && status; c = CMSG_NXTHDR(&m, c)) {
			struct tpacket_auxdata aux;

			if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
				memcpy(&aux, CMSG_DATA(c), sizeof(aux));
				*status = aux.tp_status;
			}
		}
		return n;
	}
	return -1;
}

static ssize_t host_recv(uint8_t *buf, size_t len, int timeout_ms)
{
	return host_recv_from(buf, len, timeout_ms, false, NULL);
}

/* Submits one writable rx buffer of len bytes; returns its gpa. */
static uint64_t rx_buffer(uint32_t len)
{
	uint64_t gpa = harness_alloc(&h, len);
	struct harness_buf b = {.gpa = gpa, .len = len, .write = true};
	int head;

	cr_assert_neq(gpa, 0);
	head = harness_submit(&h, 0, &b, 1, false);
	cr_assert_geq(head, 0);
	rx_gpa[head] = gpa;
	return gpa;
}

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

Test(net_harness, hello_mac_and_link)
{
	uint8_t cfg[8];

	cr_assert_eq(harness_config_read(&h, 0, cfg, sizeof(cfg)), 0);
	cr_assert_arr_eq(cfg, dev_mac, 6);
	cr_assert_eq(le16_at(cfg + 6), 1, "link up");
	cr_assert(h.info.features & NET_F(VIRTIO_NET_F_MAC), "MAC offered");
	cr_assert(h.info.features & NET_F(VIRTIO_NET_F_MRG_RXBUF), "MRG_RXBUF offered");
	cr_assert(h.info.features & NET_F(VIRTIO_NET_F_STATUS), "STATUS offered");
	cr_assert(h.info.features & HARNESS_F(VIRTIO_F_VERSION_1));
}

Test(net_harness, tx_frame_reaches_the_tap)
{
	uint8_t frame[300], got[2048];
	uint64_t gpa;
	struct harness_buf b[2];
	struct harness_used u;
	ssize_t n;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	make_frame(frame, sizeof(frame), 3);
	gpa = harness_alloc(&h, 4096);
	cr_assert_neq(gpa, 0);
	/* header and frame in two descriptors */
	memcpy(harness_ptr(&h, gpa + 1024, sizeof(frame)), frame, sizeof(frame));
	b[0] = (struct harness_buf){.gpa = gpa, .len = NET_HDR_LEN};
	b[1] = (struct harness_buf){.gpa = gpa + 1024, .len = sizeof(frame)};
	cr_assert_eq(harness_run(&h, 1, b, 2, false, &u), 0);
	n = host_recv(got, sizeof(got), HARNESS_TIMEOUT_MS);
	cr_assert_eq(n, (ssize_t)sizeof(frame));
	cr_assert_arr_eq(got, frame, sizeof(frame));
}

Test(net_harness, rx_frame_lands_in_one_buffer)
{
	uint8_t frame[200];
	struct harness_used u;
	uint64_t gpa;
	const uint8_t *p;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	gpa = rx_buffer(2048);
	make_frame(frame, sizeof(frame), 9);
	host_send(frame, sizeof(frame));
	cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
	p = harness_ptr(&h, gpa, 2048);
	cr_assert_eq(u.len, NET_HDR_LEN + sizeof(frame));
	cr_assert_eq(le16_at(p + 10), 1, "num_buffers");
	cr_assert_arr_eq(p + NET_HDR_LEN, frame, sizeof(frame));
}

Test(net_harness, rx_merges_small_buffers)
{
	uint8_t frame[200], all[512];
	uint64_t gpa[8];
	struct harness_used u;
	size_t off = 0;
	unsigned int nb;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	for (int i = 0; i < 8; i++)
		gpa[i] = rx_buffer(64);
	make_frame(frame, sizeof(frame), 5);
	host_send(frame, sizeof(frame));
	cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(u.id, 0); /* the first descriptor we gave */
	nb = le16_at(harness_ptr(&h, gpa[0], 64) + 10);
	cr_assert_eq(nb, 4, "212 bytes in 64-byte buffers: num_buffers %u", nb);
	cr_assert_geq(harness_used_idx(&h, 0), nb, "used idx published part of the frame");
	for (unsigned int i = 0; i < nb; i++) {
		if (i > 0)
			cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
		cr_assert_eq(u.id, i);
		memcpy(all + off, harness_ptr(&h, gpa[i], u.len), u.len);
		off += u.len;
	}
	cr_assert_eq(off, NET_HDR_LEN + sizeof(frame));
	cr_assert_arr_eq(all + NET_HDR_LEN, frame, sizeof(frame));
}

Test(net_harness, rx_waits_for_a_buffer)
{
	uint8_t frame[100];
	struct harness_used u;
	uint64_t gpa;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	make_frame(frame, sizeof(frame), 1);
	host_send(frame, sizeof(frame));
	cr_assert_eq(harness_wait_used(&h, 0, &u, 300), -ETIMEDOUT);
	cr_assert(harness_alive(&h));
	gpa = rx_buffer(1600);
	cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(u.len, NET_HDR_LEN + sizeof(frame));
	cr_assert_arr_eq(harness_ptr(&h, gpa + NET_HDR_LEN, sizeof(frame)), frame, sizeof(frame));
}

Test(net_harness, tx_writable_descriptor_needs_reset)
{
	uint64_t gpa;
	struct harness_buf b[2];

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	gpa = harness_alloc(&h, 4096);
	b[0] = (struct harness_buf){.gpa = gpa, .len = NET_HDR_LEN + 60};
	b[1] = (struct harness_buf){.gpa = gpa + 2048, .len = 64, .write = true};
	cr_assert_geq(harness_submit(&h, 1, b, 2, false), 0);
	cr_assert_eq(harness_wait_needs_reset(&h, 1, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(h.needs_reset_queue, 1);
	cr_assert_eq(harness_reset(&h), 0);
	cr_assert(harness_alive(&h));
}

Test(net_harness, tx_short_header_needs_reset)
{
	uint64_t gpa;
	struct harness_buf b = {.len = 8};

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	gpa = harness_alloc(&h, 4096);
	b.gpa = gpa;
	cr_assert_geq(harness_submit(&h, 1, &b, 1, false), 0);
	cr_assert_eq(harness_wait_needs_reset(&h, 1, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(harness_reset(&h), 0);
	cr_assert(harness_alive(&h));
}

Test(net_harness, tx_oversized_frame_dropped)
{
	uint64_t gpa;
	struct harness_buf b = {.len = NET_HDR_LEN + 65551};
	struct harness_used u;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	gpa = harness_alloc(&h, 128 * 1024);
	b.gpa = gpa;
	cr_assert_eq(harness_run(&h, 1, &b, 1, false, &u), 0);
	cr_assert_eq(u.len, 0);
	cr_assert(harness_alive(&h));
	cr_assert_eq(h.needs_reset, 0);
}

/* ---- offloads: frames, checksums, the second tap ---- */

/* One's complement sum of len bytes (big-endian words) added to sum, not folded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The IPv4 pseudo header's sum for a TCP segment of tcp_len bytes in frame f. */
static uint32_t pseudo_sum(const uint8_t *f, size_t tcp_len)
{
	return csum_add(0, f + 14 + 12, 8) + 6 + (uint32_t)tcp_len;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* True when the IPv4 header and the TCP checksum of TCP/IPv4 frame f (len bytes) are right. */
static bool tcp4_csums_ok(const uint8_t *f, size_t len)
{
	size_t tcp_len = len - 14 - 20;

	if (len < TCP_HDRS || get_be16(f + 14 + 2) != len - 14)
		return false;
	return csum_fold(csum_add(0, f + 14, 20)) == 0xffff &&
	       csum_fold(csum_add(pseudo_sum(f, tcp_len), f + 34, tcp_len)) == 0xffff;
}

/*
 * A TCP/IPv4 frame from peer_mac to dev_mac (169.254.7.1:4000 -> 169.254.7.2:5000) with
 * payload bytes from seed: its length. The TCP checksum is complete, or with partial set the
 * pseudo header's sum that NEEDS_CSUM wants (the kernel adds the rest).
 */
static size_t make_tcp4(uint8_t *f, size_t payload, uint8_t seed, bool partial)
{
	static const uint8_t ip[20] = {
	    0x45, 0,	0,    0, /* version and ihl, tos, tot_len (set below) */
	    0x12, 0x34, 0x40, 0, /* id, DF */
	    64,	  6,	0,    0, /* ttl, TCP, header checksum (set below) */
	    169,  254,	7,    1, /* source */
	    169,  254,	7,    2, /* destination */
	};
	size_t len = TCP_HDRS + payload;
	uint8_t *tcp = f + 34;

	memcpy(f, dev_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put_be16(f + 12, 0x0800);
	memcpy(f + 14, ip, sizeof(ip));
	put_be16(f + 14 + 2, (uint16_t)(len - 14));
	put_be16(f + 14 + 10, (uint16_t)~csum_fold(csum_add(0, f + 14, 20)));
	memset(tcp, 0, 20);
	put_be16(tcp, 4000);
	put_be16(tcp + 2, 5000);
	memcpy(tcp + 4, (const uint8_t[]){0, 0, 0x10, 0}, 4); /* seq 4096 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* PSH, ACK */
	put_be16(tcp + 14, 65535);
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)(seed + i * 13 + i / 251);
	if (partial)
		put_be16(tcp + TCP_CSUM_OFF, csum_fold(pseudo_sum(f, len - 34)));
	else
		put_be16(tcp + TCP_CSUM_OFF,
			 (uint16_t)~csum_fold(csum_add(pseudo_sum(f, len - 34), tcp, len - 34)));
	return len;
}

/* The vnet header of a TCP/IPv4 frame with a partial checksum, gso_size mss (0: no gso). */
static struct net_hdr tcp4_hdr(uint16_t mss)
{
	return (struct net_hdr){
	    .flags = NET_HDR_F_NEEDS_CSUM,
	    .gso_type = mss ? NET_GSO_TCPV4 : 0,
	    .hdr_len = mss ? TCP_HDRS : 0,
	    .gso_size = mss,
	    .csum_start = 34,
	    .csum_offset = TCP_CSUM_OFF,
	};
}

static int link_up(int sock, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(sock, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

/*
 * The wire: a second tap without vnet header or offloads, bridged with the device's. Frames the
 * device sends are forwarded out of it, so the kernel must checksum and segment them first:
 * what wire_recv() reads is what a peer on the link would get.
 */
static void wire_up(void)
{
	char br[IFNAMSIZ] = BRIDGE_NAME;
	struct ifreq ifr;
	int sock;

	wire = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	cr_assert_geq(wire, 0, "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", WIRE_NAME);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	cr_assert_eq(ioctl(wire, TUNSETIFF, &ifr), 0, "TUNSETIFF: %s", strerror(errno));

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(sock, 0);
	cr_assert_eq(ioctl(sock, SIOCBRADDBR, br), 0, "SIOCBRADDBR: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", BRIDGE_NAME);
		ifr.ifr_ifindex = (int)if_nametoindex(i ? WIRE_NAME : TAP_NAME);
		cr_assert_eq(ioctl(sock, SIOCBRADDIF, &ifr), 0, "SIOCBRADDIF: %s", strerror(errno));
	}
	cr_assert_eq(link_up(sock, WIRE_NAME), 0);
	cr_assert_eq(link_up(sock, BRIDGE_NAME), 0);
	close(sock);
}

/* The next frame of make_tcp4() out of the wire tap (not the bridge's IGMP reports, say): its
 * length, or -1 after timeout_ms. */
static ssize_t wire_recv(uint8_t *buf, size_t len, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		struct pollfd p = {.fd = wire, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		while ((n = read(wire, buf, len)) > 0)
			if (is_test_tcp4(buf, (size_t)n))
				return n;
	}
	return -1;
}

/* Puts header hd and frame f on the tx ring (two descriptors) and waits for it back. */
static void tx_send(const struct net_hdr *hd, const uint8_t *f, size_t len)
{
	uint64_t gpa = harness_alloc(&h, NET_HDR_LEN + len);
	struct harness_buf b[2] = {
	    {.gpa = gpa, .len = NET_HDR_LEN},
	    {.gpa = gpa + NET_HDR_LEN, .len = (uint32_t)len},
	};
	struct harness_used u;

	cr_assert_neq(gpa, 0);
	memcpy(harness_ptr(&h, gpa, NET_HDR_LEN), hd, NET_HDR_LEN);
	memcpy(harness_ptr(&h, gpa + NET_HDR_LEN, len), f, len);
	cr_assert_eq(harness_run(&h, 1, b, 2, false, &u), 0);
	cr_assert_eq(u.len, 0);
}

/*
 * Sends frame f with vnet header hd into the tap from the host side (an AF_PACKET socket with
 * PACKET_VNET_HDR): the kernel transmits it on the tap, so it comes out of the tap's fd.
 */
static void host_inject(const struct net_hdr *hd, const uint8_t *f, size_t len)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_IP),
	    .sll_ifindex = (int)if_nametoindex(TAP_NAME),
	    .sll_halen = 6,
	};
	struct iovec iov[2] = {{.iov_base = (void *)hd, .iov_len = 10},
			       {.iov_base = (void *)f, .iov_len = len}};
	struct msghdr m = {
	    .msg_name = &sll, .msg_namelen = sizeof(sll), .msg_iov = iov, .msg_iovlen = 2};
	int one = 1, s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ssize_t n;

	cr_assert_geq(s, 0, "AF_PACKET: %s", strerror(errno));
	cr_assert_eq(setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)), 0);
	memcpy(sll.sll_addr, dev_mac, 6);
	n = sendmsg(s, &m, 0);
	close(s);
	cr_assert_eq(n, (ssize_t)(10 + len), "sendmsg: %s", strerror(errno));
}

/*
 * Takes the next frame off the rx ring (as many used elements as its num_buffers says) into
 * out, header first: its length with the header. The whole frame must be published when its
 * first element is: a used idx that shows part of a frame fails here.
 */
static size_t rx_take(uint8_t *out, size_t cap, unsigned int *nb_out)
{
	struct harness_used u;
	size_t off = 0;
	uint16_t seen_before = h.q[0].used_seen;
	unsigned int nb;

	cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
	cr_assert_geq(u.len, NET_HDR_LEN);
	nb = le16_at(harness_ptr(&h, rx_gpa[u.id], NET_HDR_LEN) + 10);
	cr_assert_geq(nb, 1);
	cr_assert_geq((uint16_t)(harness_used_idx(&h, 0) - seen_before), nb,
		      "used idx published part of a %u-buffer frame", nb);
	for (unsigned int i = 0; i < nb; i++) {
		if (i > 0)
			cr_assert_eq(harness_poll_used(&h, 0, &u), 1);
		cr_assert_leq(off + u.len, cap);
		memcpy(out + off, harness_ptr(&h, rx_gpa[u.id], u.len), u.len);
		off += u.len;
	}
	*nb_out = nb;
	return off;
}

/* Sends a len-byte test frame (len <= 1514) and checks it arrives whole: its num_buffers. */
static unsigned int rx_check_frame(size_t len, uint8_t seed)
{
	uint8_t f[1514], got[4096];
	unsigned int nb;
	size_t n;

	make_frame(f, len, seed);
	host_send(f, len);
	n = rx_take(got, sizeof(got), &nb);
	cr_assert_eq(n, NET_HDR_LEN + len);
	cr_assert_arr_eq(got + NET_HDR_LEN, f, len);
	return nb;
}

Test(net_harness, offloads_offered_without_ufo)
{
	uint64_t want = NET_F(VIRTIO_NET_F_CSUM) | NET_F(VIRTIO_NET_F_GUEST_CSUM) |
			NET_F(VIRTIO_NET_F_GUEST_TSO4) | NET_F(VIRTIO_NET_F_GUEST_TSO6) |
			NET_F(VIRTIO_NET_F_GUEST_ECN) | NET_F(VIRTIO_NET_F_HOST_TSO4) |
			NET_F(VIRTIO_NET_F_HOST_TSO6) | NET_F(VIRTIO_NET_F_HOST_ECN);

	cr_assert_eq(h.info.features & want, want, "offered 0x%llx",
		     (unsigned long long)h.info.features);
	cr_assert_eq(
	    h.info.features & (NET_F(VIRTIO_NET_F_GUEST_UFO) | NET_F(VIRTIO_NET_F_HOST_UFO)), 0);
}

/*
 * NEEDS_CSUM: the tap's interface receives the frame byte for byte, its checksum still partial
 * (packet(7): TP_STATUS_CSUMNOTREADY); forwarded to the wire, the kernel completes it.
 */
Test(net_harness, tx_needs_csum_is_honoured)
{
	uint8_t f[1024], got[2048];
	struct net_hdr hd = tcp4_hdr(0);
	uint32_t status = 0;
	size_t len = make_tcp4(f, 600, 11, true);
	ssize_t n;

	wire_up();
	cr_assert_eq(harness_activate(&h, F_NET | NET_F(VIRTIO_NET_F_CSUM)), 0);
	cr_assert_not(tcp4_csums_ok(f, len), "the test frame must need the kernel's checksum");
	tx_send(&hd, f, len);
	n = host_recv_from(got, sizeof(got), HARNESS_TIMEOUT_MS, true, &status);
	cr_assert_eq(n, (ssize_t)len);
	cr_assert_arr_eq(got, f, len);
	cr_assert(status & TP_STATUS_CSUMNOTREADY, "tp_status 0x%x", status);
	n = wire_recv(got, sizeof(got), HARNESS_TIMEOUT_MS);
	cr_assert_eq(n, (ssize_t)len, "nothing (or something else) on the wire");
	cr_assert(tcp4_csums_ok(got, len), "the wire's copy is not checksummed");
	cr_assert_arr_eq(got + TCP_HDRS, f + TCP_HDRS, len - TCP_HDRS);
	cr_assert_arr_eq(got, f, 34 + TCP_CSUM_OFF); /* all but the checksum is the guest's */
}

/* A TSO4 header: one frame on the tap's interface, MSS-sized segments on the wire. */
Test(net_harness, tx_tso4_leaves_as_segments)
{
	static uint8_t f[4096], got[4096];
	struct net_hdr hd = tcp4_hdr(MSS);
	size_t payload = 2 * MSS + 900, len = make_tcp4(f, payload, 21, true);
	size_t off = 0;
	ssize_t n;
	int segs;

	wire_up();
	cr_assert_eq(
	    harness_activate(&h, F_NET | NET_F(VIRTIO_NET_F_CSUM) | NET_F(VIRTIO_NET_F_HOST_TSO4)),
	    0);
	tx_send(&hd, f, len);
	n = host_recv_from(got, sizeof(got), HARNESS_TIMEOUT_MS, true, NULL);
	cr_assert_eq(n, (ssize_t)len, "the tap's interface gets the whole frame");
	cr_assert_arr_eq(got, f, len);
	for (segs = 0; off < payload; segs++) {
		size_t want = payload - off < MSS ? payload - off : MSS;

		n = wire_recv(got, sizeof(got), HARNESS_TIMEOUT_MS);
		cr_assert_eq(n, (ssize_t)(TCP_HDRS + want), "segment %d: %zd bytes", segs, n);
		cr_assert(tcp4_csums_ok(got, (size_t)n), "segment %d checksums", segs);
		cr_assert_eq(get_be16(got + 34 + 6), (uint16_t)(0x1000 + off), "segment %d seq",
			     segs);
		cr_assert_arr_eq(got + TCP_HDRS, f + TCP_HDRS + off, want);
		off += want;
	}
	cr_assert_eq(segs, 3);
	cr_assert_eq(wire_recv(got, sizeof(got), 100), -1, "more segments than the payload");
}

/* One bad header per row, each with the reason the device must drop its frame. */
static const struct {
	const char *what;
	struct net_hdr hd;
} bad_tx[] = {
    {"TSO4 without HOST_TSO4", {NET_HDR_F_NEEDS_CSUM, NET_GSO_TCPV4, 20, 40, 14, 16, 0}},
    {"UFO (never offered)", {NET_HDR_F_NEEDS_CSUM, NET_GSO_UDP, 20, 40, 14, 6, 0}},
    {"ECN without gso", {0, NET_GSO_ECN, 0, 0, 0, 0, 0}},
    {"checksum field past the end", {NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 90, 9, 0}},
    {"csum_start past the end", {NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0xffff, 0xffff, 0}},
    {"hdr_len past the end", {0, 0, 101, 0, 0, 0, 0}},
    {"DATA_VALID (rx only)", {NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0, 0}},
    {"unknown flag", {0x40, 0, 0, 0, 0, 0, 0}},
};

/*
 * Malformed tx headers: each frame is completed but never reaches the tap (the good frame
 * after them is the first the interface sees), and the device carries on without NEEDS_RESET.
 */
Test(net_harness, tx_bad_headers_are_dropped)
{
	uint8_t f[100], got[2048];
	struct net_hdr ok = {0};
	ssize_t n;

	cr_assert_eq(harness_activate(&h, F_NET | NET_F(VIRTIO_NET_F_CSUM)), 0);
	for (size_t i = 0; i < sizeof(bad_tx) / sizeof(bad_tx[0]); i++) {
		make_frame(f, sizeof(f), (uint8_t)i);
		tx_send(&bad_tx[i].hd, f, sizeof(f));
		cr_assert(harness_alive(&h), "%s", bad_tx[i].what);
	}
	make_frame(f, sizeof(f), 99);
	tx_send(&ok, f, sizeof(f));
	n = host_recv(got, sizeof(got), HARNESS_TIMEOUT_MS);
	cr_assert_eq(n, (ssize_t)sizeof(f));
	cr_assert_arr_eq(got, f, sizeof(f), "a frame with a bad header reached the tap");
	cr_assert_eq(h.needs_reset, 0);
	cr_assert(harness_alive(&h));
}

/* NEEDS_CSUM is the driver's only when it accepted VIRTIO_NET_F_CSUM. */
Test(net_harness, tx_needs_csum_without_csum_is_dropped)
{
	uint8_t f[1024], got[2048];
	struct net_hdr hd = tcp4_hdr(0), ok = {0};
	size_t len = make_tcp4(f, 300, 3, true);
	ssize_t n;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	tx_send(&hd, f, len);
	len = make_tcp4(f, 300, 4, false);
	tx_send(&ok, f, len);
	n = host_recv_from(got, sizeof(got), HARNESS_TIMEOUT_MS, true, NULL);
	cr_assert_eq(n, (ssize_t)len);
	cr_assert_arr_eq(got, f, len, "the NEEDS_CSUM frame reached the tap");
	cr_assert_eq(h.needs_reset, 0);
}

/*
 * GUEST_TSO4 accepted: a GSO frame the host sends into the tap reaches the guest whole, with
 * its gso header, over four 1 KiB buffers. The tap starts with no offloads here, so only the
 * device's TUNSETOFFLOAD can make it pass GSO frames on.
 */
Test(net_harness, rx_gso_frame_whole_with_guest_tso4)
{
	static uint8_t f[8192], got[8192];
	struct net_hdr hd = tcp4_hdr(MSS), rh;
	size_t len = make_tcp4(f, 4 * MSS, 7, true), n;
	unsigned int nb;

	cr_assert_eq(ioctl(tap, TUNSETOFFLOAD, 0), 0);
	cr_assert_eq(harness_activate(&h, F_NET | NET_F(VIRTIO_NET_F_GUEST_CSUM) |
					      NET_F(VIRTIO_NET_F_GUEST_TSO4)),
		     0);
	for (int i = 0; i < 8; i++)
		rx_buffer(1024);
	host_inject(&hd, f, len);
	n = rx_take(got, sizeof(got), &nb);
	cr_assert_eq(n, NET_HDR_LEN + len);
	cr_assert_eq(nb, 4, "%zu bytes in 1 KiB buffers: num_buffers %u", n, nb);
	memcpy(&rh, got, sizeof(rh));
	cr_assert_eq(rh.gso_type, NET_GSO_TCPV4);
	cr_assert_eq(rh.gso_size, MSS);
	cr_assert(rh.flags & NET_HDR_F_NEEDS_CSUM, "flags 0x%x", rh.flags);
	cr_assert_eq(rh.csum_start, 34);
	cr_assert_eq(rh.csum_offset, TCP_CSUM_OFF);
	cr_assert(rh.hdr_len >= TCP_HDRS && rh.hdr_len <= len, "hdr_len %u", rh.hdr_len);
	cr_assert_arr_eq(got + NET_HDR_LEN, f, len);
}

/*
 * No guest offloads: the same GSO frame reaches the guest as MSS-sized segments with complete
 * checksums and a plain header. The tap starts with every offload (as main opens it), so only
 * the device's TUNSETOFFLOAD(0) makes the kernel segment.
 */
Test(net_harness, rx_gso_frame_segmented_without_guest_offloads)
{
	static uint8_t f[8192], got[8192];
	struct net_hdr hd = tcp4_hdr(MSS), rh;
	size_t len = make_tcp4(f, 4 * MSS, 8, true);
	unsigned int nb;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	for (int i = 0; i < 16; i++)
		rx_buffer(1024);
	host_inject(&hd, f, len);
	for (int seg = 0; seg < 4; seg++) {
		size_t n = rx_take(got, sizeof(got), &nb);

		cr_assert_eq(n, NET_HDR_LEN + TCP_HDRS + MSS, "segment %d: %zu bytes", seg, n);
		cr_assert_eq(nb, 2, "segment %d: num_buffers %u", seg, nb);
		memcpy(&rh, got, sizeof(rh));
		cr_assert_eq(rh.flags, 0, "segment %d: flags 0x%x", seg, rh.flags);
		cr_assert_eq(rh.gso_type, 0, "segment %d: gso_type %u", seg, rh.gso_type);
		cr_assert(tcp4_csums_ok(got + NET_HDR_LEN, n - NET_HDR_LEN), "segment %d checksums",
			  seg);
		cr_assert_arr_eq(got + NET_HDR_LEN + TCP_HDRS, f + TCP_HDRS + (size_t)seg * MSS,
				 MSS);
	}
}

/* GUEST_CSUM alone: a partial checksum reaches the guest as such (TUN_F_CSUM, no TSO). */
Test(net_harness, rx_partial_csum_with_guest_csum)
{
	uint8_t f[2048], got[4096];
	struct net_hdr hd = tcp4_hdr(0), rh;
	size_t len = make_tcp4(f, 700, 5, true), n;
	unsigned int nb;

	cr_assert_eq(ioctl(tap, TUNSETOFFLOAD, 0), 0);
	cr_assert_eq(harness_activate(&h, F_NET | NET_F(VIRTIO_NET_F_GUEST_CSUM)), 0);
	rx_buffer(2048);
	host_inject(&hd, f, len);
	n = rx_take(got, sizeof(got), &nb);
	cr_assert_eq(n, NET_HDR_LEN + len);
	cr_assert_eq(nb, 1);
	memcpy(&rh, got, sizeof(rh));
	cr_assert_eq(rh.flags, NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(rh.gso_type, 0);
	cr_assert_eq(rh.csum_start, 34);
	cr_assert_eq(rh.csum_offset, TCP_CSUM_OFF);
	cr_assert_arr_eq(got + NET_HDR_LEN, f, len,
			 "the partial checksum was not left to the guest");
}

/* Without mergeable buffers a frame must fit one buffer: the one it does not fit comes back
 * empty, and the next frame is delivered. */
Test(net_harness, rx_frame_larger_than_the_buffer_is_dropped)
{
	uint8_t f[600], got[4096];
	size_t n;
	unsigned int nb;
	struct harness_used u;

	cr_assert_eq(harness_activate(&h, F_NO_MRG), 0);
	rx_buffer(256);
	make_frame(f, sizeof(f), 1);
	host_send(f, sizeof(f));
	cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(u.len, 0);
	cr_assert(harness_alive(&h));
	rx_buffer(2048);
	make_frame(f, 100, 2);
	host_send(f, 100);
	n = rx_take(got, sizeof(got), &nb);
	cr_assert_eq(n, NET_HDR_LEN + 100);
	cr_assert_eq(nb, 1);
	cr_assert_arr_eq(got + NET_HDR_LEN, f, 100);
	cr_assert_eq(h.needs_reset, 0);
}

/*
 * Mergeable buffers, a ring of 4 small ones and a frame larger than all of them: the device
 * cannot wait for more (it holds every buffer), so the frame is dropped and the four come back
 * empty, together; the next frame is delivered.
 */
Test(net_harness, rx_frame_larger_than_the_ring_is_dropped)
{
	uint8_t f[600];
	struct harness_used u;

	cr_assert_eq(harness_layout(&h, 2, 4), 0);
	cr_assert_eq(harness_send_activate(&h, F_NET), 0);
	for (int i = 0; i < 4; i++)
		rx_buffer(64);
	make_frame(f, sizeof(f), 1);
	host_send(f, sizeof(f));
	cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(harness_used_idx(&h, 0), 4, "the four buffers come back together");
	cr_assert_eq(u.len, 0);
	for (int i = 1; i < 4; i++) {
		cr_assert_eq(harness_poll_used(&h, 0, &u), 1);
		cr_assert_eq(u.len, 0);
	}
	cr_assert(harness_alive(&h));
	for (int i = 0; i < 2; i++)
		rx_buffer(1024);
	rx_check_frame(100, 2);
	cr_assert_eq(h.needs_reset, 0);
}

/* Adds a writable rx buffer of len bytes without kicking; returns its gpa. */
static uint64_t rx_add(uint32_t len)
{
	struct harness_buf b = {.gpa = harness_alloc(&h, len), .len = len, .write = true};
	int head;

	cr_assert_neq(b.gpa, 0);
	head = harness_add(&h, 0, &b, 1, false);
	cr_assert_geq(head, 0);
	rx_gpa[head] = b.gpa;
	return b.gpa;
}

/* Sends frames of sizes[0..n) (seeds 0..n-1): the buffers of buf bytes they will take. */
static unsigned int send_frames(const size_t *sizes, unsigned int n, uint32_t buf)
{
	uint8_t f[1514];
	unsigned int need = 0;

	for (unsigned int i = 0; i < n; i++) {
		make_frame(f, sizes[i], (uint8_t)i);
		host_send(f, sizes[i]);
		need += (unsigned int)((NET_HDR_LEN + sizes[i] + buf - 1) / buf);
	}
	return need;
}

/*
 * Once the need buffers of send_frames() arrived, takes the frames back and checks each: whole
 * (rx_take()), in order, byte for byte, in as many buffers as it needs.
 */
static void take_frames(const size_t *sizes, unsigned int n, uint32_t buf, unsigned int need)
{
	uint8_t f[1514], got[4096];
	unsigned int nb;

	for (int waited = 0; (uint16_t)(harness_used_idx(&h, 0) - h.q[0].used_seen) < need &&
			     waited < HARNESS_TIMEOUT_MS;
	     waited++)
		usleep(1000);
	cr_assert_eq((uint16_t)(harness_used_idx(&h, 0) - h.q[0].used_seen), need,
		     "%u buffers for %u frames", need, n);
	for (unsigned int i = 0; i < n; i++) {
		size_t len = rx_take(got, sizeof(got), &nb);

		make_frame(f, sizes[i], (uint8_t)i);
		cr_assert_eq(len, NET_HDR_LEN + sizes[i], "frame %u: %zu bytes", i, len);
		cr_assert_eq(nb, (NET_HDR_LEN + sizes[i] + buf - 1) / buf, "frame %u", i);
		cr_assert_arr_eq(got + NET_HDR_LEN, f, sizes[i], "frame %u", i);
	}
}

static const size_t batch_sizes[] = {60, 1514, 200, 900, 1400, 64, 1000, 333};
#define NBATCH (sizeof(batch_sizes) / sizeof(batch_sizes[0]))

/*
 * Frames that queued in the tap while the guest had no buffer go in one batch once it posts
 * some with one kick: each published whole (the buffers of one frame with one used idx update),
 * in order, byte for byte, with one interrupt for the batch.
 */
Test(net_harness, rx_batch_publishes_whole_frames)
{
	unsigned int need;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	need = send_frames(batch_sizes, NBATCH, 512);
	for (int i = 0; i < 32; i++)
		rx_add(512);
	harness_kick(&h, 0);
	take_frames(batch_sizes, NBATCH, 512, need);
	cr_assert_eq(harness_irqs_settled(&h, 0), 1, "one interrupt for the batch of %zu frames",
		     NBATCH);
	/* the 18 buffers left are still the device's: more frames go there */
	need = send_frames(batch_sizes, NBATCH, 512);
	take_frames(batch_sizes, NBATCH, 512, need);
	cr_assert_eq(h.needs_reset, 0);
}

/*
 * Mergeable buffers, a frame larger than the buffers posted: it takes them and waits for more,
 * nothing published meanwhile, then arrives whole across old and new buffers.
 */
Test(net_harness, rx_frame_waits_for_more_buffers)
{
	uint8_t f[1400], got[4096];
	struct harness_used u;
	unsigned int nb;
	size_t n;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	rx_buffer(512);
	rx_buffer(512);
	make_frame(f, sizeof(f), 4);
	host_send(f, sizeof(f));
	cr_assert_eq(harness_wait_used(&h, 0, &u, 300), -ETIMEDOUT);
	cr_assert_eq(harness_used_idx(&h, 0), 0, "part of a frame was published");
	rx_buffer(512);
	rx_buffer(512);
	n = rx_take(got, sizeof(got), &nb);
	cr_assert_eq(n, NET_HDR_LEN + sizeof(f));
	cr_assert_eq(nb, 3);
	cr_assert_arr_eq(got + NET_HDR_LEN, f, sizeof(f));
	/* the fourth buffer stayed with the device: the next frame lands there */
	cr_assert_eq(rx_check_frame(100, 5), 1);
	cr_assert_eq(h.needs_reset, 0);
}

/* The device reports NEEDS_RESET on rx, nothing of the ring published, and takes a reset. */
static void rx_needs_reset(void)
{
	cr_assert_eq(harness_wait_needs_reset(&h, 1, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(h.needs_reset_queue, 0);
	cr_assert_eq(harness_used_idx(&h, 0), 0);
	cr_assert_eq(harness_reset(&h), 0);
	cr_assert(harness_alive(&h));
}

/* 5.1.6.3: rx buffers are device-writable. A readable one breaks the queue, not the device. */
Test(net_harness, rx_readable_descriptor_needs_reset)
{
	struct harness_buf b = {.len = 2048};

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	rx_buffer(2048);
	b.gpa = harness_alloc(&h, 2048);
	cr_assert_geq(harness_submit(&h, 0, &b, 1, false), 0);
	rx_needs_reset();
}

/* 5.1.6.3: a frame's first buffer holds the whole header. One of 8 bytes breaks the queue. */
Test(net_harness, rx_short_first_buffer_needs_reset)
{
	uint8_t f[100];

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	rx_buffer(8);
	rx_buffer(2048);
	make_frame(f, sizeof(f), 6);
	host_send(f, sizeof(f));
	rx_needs_reset();
}

/*
 * The tap as main opens it, O_NONBLOCK (the device then reads without polling first): frames
 * that waited for buffers and frames that came later arrive whole, and the device survives the
 * reads that find the tap empty.
 */
Test(net_harness, rx_on_a_nonblocking_tap)
{
	int fl = fcntl(tap, F_GETFL);
	unsigned int need;

	cr_assert_geq(fl, 0);
	cr_assert_eq(fcntl(tap, F_SETFL, fl | O_NONBLOCK), 0);
	harness_stop(&h);
	start_device();
	cr_assert_eq(harness_activate(&h, F_NET), 0);
	for (int i = 0; i < 40; i++)
		rx_add(512);
	need = send_frames(batch_sizes, NBATCH, 512);
	harness_kick(&h, 0);
	take_frames(batch_sizes, NBATCH, 512, need);
	cr_assert(harness_alive(&h));
	need = send_frames(batch_sizes, NBATCH, 512);
	take_frames(batch_sizes, NBATCH, 512, need);
	cr_assert_eq(h.needs_reset, 0);
}
