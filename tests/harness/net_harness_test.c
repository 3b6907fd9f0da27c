/*
 * virtio-net in its own vmm-device process, driven by the harness, on a tap in a network
 * namespace each test creates (no traffic leaves it). The test plays the host through an
 * AF_PACKET socket bound to the tap's interface: what the device writes to the tap the kernel
 * receives there, and what the test sends there comes out of the tap into the device's rx.
 * Needs root (CAP_NET_ADMIN for the namespace and the tap): skipped, loudly, otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
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
#include "virtq.h"

#define TAP_NAME "vmmtap0"
#define NET_HDR 12
#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental */
#define F_NET                                                                                      \
	(HARNESS_F(VIRTIO_F_VERSION_1) | HARNESS_F(5) /* MAC */ | HARNESS_F(15) /* MRG_RXBUF */ |  \
	 HARNESS_F(16) /* STATUS */)

static const uint8_t dev_mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
static struct harness h;
static int tap = -1;
static int pkt = -1;

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

static void start(void)
{
	static const char *const args[] = {"--mac", "52:54:00:ab:cd:ef", NULL};
	struct harness_spec s = {.type = "net", .args = args};
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
	ret = NET_HDR;
	cr_assert_eq(ioctl(tap, TUNSETVNETHDRSZ, &ret), 0, "TUNSETVNETHDRSZ: %s", strerror(errno));

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

	s.backend_fd = tap;
	ret = harness_start(&h, &s);
	cr_assert_eq(ret, 0, "net did not start: %s", strerror(-ret));
	cr_assert_eq(h.info.device_type, 1);
	cr_assert_eq(h.info.nqueues, 2);
}

static void stop(void)
{
	harness_stop(&h);
	if (pkt >= 0)
		close(pkt);
	if (tap >= 0)
		close(tap);
	pkt = tap = -1;
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

/* Sends frame f on the tap's interface: it comes out of the tap fd, into the device. */
static void host_send(const uint8_t *f, size_t len)
{
	cr_assert_eq(send(pkt, f, len, 0), (ssize_t)len, "send: %s", strerror(errno));
}

/* The next test frame the kernel received on the tap's interface: its length, or -1. */
static ssize_t host_recv(uint8_t *buf, size_t len, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		struct pollfd p = {.fd = pkt, .events = POLLIN};
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recvfrom(pkt, buf, len, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n > 0 && from.sll_pkttype != PACKET_OUTGOING && is_test_frame(buf, (size_t)n))
			return n;
	}
	return -1;
}

/* Submits one writable rx buffer of len bytes; returns its gpa. */
static uint64_t rx_buffer(uint32_t len)
{
	uint64_t gpa = harness_alloc(&h, len);
	struct harness_buf b = {.gpa = gpa, .len = len, .write = true};

	cr_assert_neq(gpa, 0);
	cr_assert_geq(harness_submit(&h, 0, &b, 1, false), 0);
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
	cr_assert(h.info.features & HARNESS_F(5), "MAC offered");
	cr_assert(h.info.features & HARNESS_F(15), "MRG_RXBUF offered");
	cr_assert(h.info.features & HARNESS_F(16), "STATUS offered");
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
	b[0] = (struct harness_buf){.gpa = gpa, .len = NET_HDR};
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
	cr_assert_eq(u.len, NET_HDR + sizeof(frame));
	cr_assert_eq(le16_at(p + 10), 1, "num_buffers");
	cr_assert_arr_eq(p + NET_HDR, frame, sizeof(frame));
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
	for (unsigned int i = 0; i < nb; i++) {
		if (i > 0)
			cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0);
		cr_assert_eq(u.id, i);
		memcpy(all + off, harness_ptr(&h, gpa[i], u.len), u.len);
		off += u.len;
	}
	cr_assert_eq(off, NET_HDR + sizeof(frame));
	cr_assert_arr_eq(all + NET_HDR, frame, sizeof(frame));
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
	cr_assert_eq(u.len, NET_HDR + sizeof(frame));
	cr_assert_arr_eq(harness_ptr(&h, gpa + NET_HDR, sizeof(frame)), frame, sizeof(frame));
}

Test(net_harness, tx_writable_descriptor_needs_reset)
{
	uint64_t gpa;
	struct harness_buf b[2];

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	gpa = harness_alloc(&h, 4096);
	b[0] = (struct harness_buf){.gpa = gpa, .len = NET_HDR + 60};
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
	struct harness_buf b = {.len = NET_HDR + 65551};
	struct harness_used u;

	cr_assert_eq(harness_activate(&h, F_NET), 0);
	gpa = harness_alloc(&h, 128 * 1024);
	b.gpa = gpa;
	cr_assert_eq(harness_run(&h, 1, &b, 1, false, &u), 0);
	cr_assert_eq(u.len, 0);
	cr_assert(harness_alive(&h));
	cr_assert_eq(h.needs_reset, 0);
}
