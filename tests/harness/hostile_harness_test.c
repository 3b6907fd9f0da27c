/*
 * A hostile guest and a confused main, each against a fresh device (rng, and block once it
 * exists). After every malformed ring the device must stay alive, tell main on the mem tube
 * (NEEDS_RESET) and signal the config interrupt, complete nothing of the bad chain, and still
 * answer RESET so that a new ACTIVATE and a good request work. Malformed ctrl messages get an
 * error RESPONSE, never a crash.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"
#include "harness_blk.h"
#include "virtq.h"

#define IMAGE_SIZE (8ULL << 20)
#define F_VIRTQ                                                                                    \
	(HARNESS_F(VIRTIO_F_VERSION_1) | HARNESS_F(VIRTIO_F_INDIRECT_DESC) |                       \
	 HARNESS_F(VIRTIO_F_EVENT_IDX))

static struct harness h;
static int image = -1;
static bool is_blk;

static void start_rng(void)
{
	struct harness_spec s = {.type = "rng"};
	int ret;

	s.backend_fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(s.backend_fd, 0);
	ret = harness_start(&h, &s);
	close(s.backend_fd);
	cr_assert_eq(ret, 0, "rng did not start: %s", strerror(-ret));
	is_blk = false;
}

/* Skips the test until vmm-device knows --type block. */
static void start_blk(void)
{
	struct harness_spec s = {.type = "block"};
	int ret;

	image = harness_blk_image(IMAGE_SIZE);
	cr_assert_geq(image, 0, "image: %s", strerror(-image));
	s.backend_fd = image;
	ret = harness_start(&h, &s);
	cr_assert_eq(ret, 0, "virtio-blk did not start (HELLO: %s)", strerror(-ret));
	is_blk = true;
}

static void stop(void)
{
	harness_stop(&h);
	if (image >= 0)
		close(image);
	image = -1;
}

TestSuite(hostile_rng, .fini = stop, .timeout = 60);
TestSuite(hostile_blk, .fini = stop, .timeout = 60);

/* Every feature the device offers: the hostile cases need INDIRECT_DESC. */
static void activate_all(void)
{
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
}

/* A request the device must complete: rng fills, block writes and reads back sector 0. */
static void good_request(void)
{
	uint64_t buf = harness_alloc(&h, 4096);
	uint32_t len = 0;

	cr_assert_neq(buf, 0);
	if (!is_blk) {
		struct harness_buf b = {.gpa = buf, .len = 64, .write = true};
		struct harness_used u;

		cr_assert_eq(harness_run(&h, 0, &b, 1, false, &u), 0, "good request lost");
		cr_assert_eq(u.len, 64);
		return;
	}
	memset(harness_ptr(&h, buf, 512), 0x5a, 512);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, 0, buf, 512, false, NULL),
		     VIRTIO_BLK_S_OK);
	memset(harness_ptr(&h, buf, 512), 0, 512);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, 0, buf, 512, false, &len),
		     VIRTIO_BLK_S_OK);
	cr_assert_eq(len, 513);
	cr_assert_eq(((uint8_t *)harness_ptr(&h, buf, 512))[511], 0x5a);
}

/* What must follow any malformed ring on queue 0. */
static void check_broken_then_recovers(void)
{
	int ret;

	ret = harness_wait_needs_reset(&h, 1, HARNESS_TIMEOUT_MS);
	cr_assert_eq(ret, 0, "no NEEDS_RESET notice on the mem tube");
	cr_assert_eq(h.needs_reset_queue, 0);
	cr_assert_eq(h.mem_bad, 0, "a mem tube request did not decode");
	cr_assert_gt(harness_wait_eventfd(h.config_irq_fd, HARNESS_TIMEOUT_MS), 0,
		     "no config interrupt");
	cr_assert(harness_alive(&h), "the device died (status 0x%x)", h.exit_status);
	cr_assert_eq(harness_used_idx(&h, 0), 0, "the malformed chain was completed");

	/* Broken stays broken, quietly: more kicks do nothing and send no second notice. */
	harness_notify(&h, 0);
	usleep(20 * 1000);
	cr_assert_eq(h.needs_reset, 1);
	cr_assert_eq(harness_used_idx(&h, 0), 0);

	cr_assert_eq(harness_reset(&h), 0, "RESET refused");
	activate_all();
	good_request();
	good_request();
	cr_assert(harness_alive(&h));
	cr_assert_eq(h.needs_reset, 1);
}

/* Each case runs for rng and for block, each on a fresh device. */
#define HOSTILE(name)                                                                              \
	static void name(void);                                                                    \
	Test(hostile_rng, name)                                                                    \
	{                                                                                          \
		start_rng();                                                                       \
		activate_all();                                                                    \
		name();                                                                            \
		check_broken_then_recovers();                                                      \
	}                                                                                          \
	Test(hostile_blk, name)                                                                    \
	{                                                                                          \
		start_blk();                                                                       \
		activate_all();                                                                    \
		name();                                                                            \
		check_broken_then_recovers();                                                      \
	}                                                                                          \
	static void name(void)

static uint16_t qsize(void)
{
	return h.q[0].size;
}

/* Puts a one-descriptor chain at head 0 and kicks. */
static void one_desc(uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	harness_put_desc(&h, 0, 0, addr, len, flags, next);
	harness_put_avail(&h, 0, 0);
	harness_notify(&h, 0);
}

HOSTILE(desc_outside_memory)
{
	one_desc(h.mem_size + 0x10000, 64, VIRTQ_DESC_F_WRITE, 0);
}

HOSTILE(desc_address_wraps)
{
	one_desc(0xfffffffffffff000ULL, 0x2000, VIRTQ_DESC_F_WRITE, 0);
}

HOSTILE(buffer_straddles_end_of_memory)
{
	one_desc(h.mem_size - 256, 4096, VIRTQ_DESC_F_WRITE, 0);
}

HOSTILE(chain_self_loop)
{
	one_desc(harness_alloc(&h, 64), 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
}

HOSTILE(chain_loop_back)
{
	uint64_t buf = harness_alloc(&h, 4096);

	harness_put_desc(&h, 0, 1, buf, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	harness_put_desc(&h, 0, 2, buf + 64, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	harness_put_avail(&h, 0, 1);
	harness_notify(&h, 0);
}

/* Every descriptor of the table in one chain, the last pointing back at the first. */
HOSTILE(chain_longer_than_queue)
{
	uint64_t buf = harness_alloc(&h, 16ULL * qsize());

	for (uint16_t i = 0; i < qsize(); i++)
		harness_put_desc(&h, 0, i, buf + 16ULL * i, 16,
				 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
				 (uint16_t)((i + 1) % qsize()));
	harness_put_avail(&h, 0, 0);
	harness_notify(&h, 0);
}

HOSTILE(next_index_out_of_range)
{
	one_desc(harness_alloc(&h, 64), 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, qsize());
}

HOSTILE(head_out_of_range)
{
	harness_put_desc(&h, 0, 0, harness_alloc(&h, 64), 64, VIRTQ_DESC_F_WRITE, 0);
	harness_put_avail(&h, 0, qsize());
	harness_notify(&h, 0);
}

HOSTILE(avail_idx_jumps_past_queue_size)
{
	uint64_t buf = harness_alloc(&h, 64);

	for (uint16_t i = 0; i < qsize(); i++)
		harness_put_desc(&h, 0, i, buf, 64, VIRTQ_DESC_F_WRITE, 0);
	harness_set_avail_idx(&h, 0, (uint16_t)(qsize() + 1));
	harness_notify(&h, 0);
}

HOSTILE(readable_after_writable)
{
	uint64_t buf = harness_alloc(&h, 4096);

	harness_put_desc(&h, 0, 0, buf, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	harness_put_desc(&h, 0, 1, buf + 64, 64, 0, 0);
	harness_put_avail(&h, 0, 0);
	harness_notify(&h, 0);
}

/* An indirect descriptor at head 0 whose table (at table, n entries written) says len. */
static void indirect(uint64_t table, uint32_t len)
{
	one_desc(table, len, VIRTQ_DESC_F_INDIRECT, 0);
}

static uint64_t table_of(unsigned int n, uint16_t flags)
{
	uint64_t t = harness_alloc(&h, 16ULL * n), buf = harness_alloc(&h, 4096);
	uint8_t *p = harness_ptr(&h, t, 16ULL * n);

	for (unsigned int i = 0; i < n; i++) {
		uint64_t a = buf;
		uint32_t l = 16;
		uint16_t f = (uint16_t)(flags | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		uint16_t nx = (uint16_t)(i + 1);

		memcpy(p + 16 * i, &a, 8);
		memcpy(p + 16 * i + 8, &l, 4);
		memcpy(p + 16 * i + 12, &f, 2);
		memcpy(p + 16 * i + 14, &nx, 2);
	}
	return t;
}

HOSTILE(indirect_length_not_multiple_of_16)
{
	indirect(table_of(2, VIRTQ_DESC_F_WRITE), 24);
}

HOSTILE(indirect_length_zero)
{
	indirect(table_of(2, VIRTQ_DESC_F_WRITE), 0);
}

HOSTILE(indirect_table_longer_than_queue)
{
	unsigned int n = qsize() + 1u;

	indirect(table_of(n, VIRTQ_DESC_F_WRITE), 16 * n);
}

HOSTILE(indirect_table_outside_memory)
{
	indirect(h.mem_size - 16, 32);
}

HOSTILE(indirect_nested)
{
	uint64_t inner = table_of(1, VIRTQ_DESC_F_WRITE);
	uint64_t outer = table_of(1, 0);
	uint8_t *p = harness_ptr(&h, outer, 16);
	uint32_t len = 16;
	uint16_t flags = VIRTQ_DESC_F_INDIRECT;

	memcpy(p, &inner, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	indirect(outer, 16);
}

HOSTILE(indirect_next_out_of_range)
{
	uint64_t t = table_of(2, VIRTQ_DESC_F_WRITE);
	uint16_t bad = 5;

	memcpy((uint8_t *)harness_ptr(&h, t, 32) + 14, &bad, 2);
	indirect(t, 32);
}

HOSTILE(indirect_with_next)
{
	harness_put_desc(&h, 0, 0, table_of(1, VIRTQ_DESC_F_WRITE), 16,
			 VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	harness_put_desc(&h, 0, 1, harness_alloc(&h, 64), 64, VIRTQ_DESC_F_WRITE, 0);
	harness_put_avail(&h, 0, 0);
	harness_notify(&h, 0);
}

/* INDIRECT used although the driver did not negotiate VIRTIO_F_INDIRECT_DESC. */
HOSTILE(indirect_not_negotiated)
{
	cr_assert_eq(harness_reset(&h), 0);
	cr_assert_eq(harness_activate(&h, h.info.features & ~HARNESS_F(VIRTIO_F_INDIRECT_DESC)), 0);
	indirect(table_of(1, VIRTQ_DESC_F_WRITE), 16);
}

/* A good request first, then garbage: the good one is done, the bad one breaks the queue. */
static void good_then_bad(void)
{
	uint16_t before;

	good_request();
	before = harness_used_idx(&h, 0);
	one_desc(h.mem_size + 4096, 64, VIRTQ_DESC_F_WRITE, 0);
	cr_assert_eq(harness_wait_needs_reset(&h, 1, HARNESS_TIMEOUT_MS), 0);
	cr_assert_eq(harness_used_idx(&h, 0), before);
	cr_assert(harness_alive(&h));
	cr_assert_eq(harness_reset(&h), 0);
	activate_all();
	good_request();
}

Test(hostile_rng, good_then_bad)
{
	start_rng();
	activate_all();
	good_then_bad();
}

Test(hostile_blk, good_then_bad)
{
	start_blk();
	activate_all();
	good_then_bad();
}

/* ---- ctrl tube: malformed messages from "main" ---- */

struct raw_hdr {
	uint32_t type;
	uint32_t size;
};

/* Sends raw bytes; the answer must be an error RESPONSE, and the device must keep answering. */
static void expect_error(const void *buf, size_t len, const int *fds, unsigned int nfds, int want,
			 const char *what)
{
	struct device_response r;
	int ret = harness_call_raw(&h, buf, len, fds, nfds, &r);

	cr_assert_eq(ret, 0, "%s: no answer (%s)", what, strerror(-ret));
	cr_assert_eq(r.hdr.type, MSG_DEVICE_RESPONSE, "%s: answered with type 0x%x", what,
		     r.hdr.type);
	cr_assert_lt(r.status.status, 0, "%s: accepted", what);
	if (want)
		cr_assert_eq(r.status.status, want, "%s: status %d (%s)", what, r.status.status,
			     strerror(-r.status.status));
	cr_assert(harness_alive(&h), "%s: the device died", what);
	cr_assert_eq(harness_hello(&h), 0, "%s: no HELLO after it", what);
}

/* Entries in /proc/PID/fd of the device. */
static unsigned int device_fds(void)
{
	char dir[64];
	struct dirent *e;
	unsigned int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)h.pid);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void malformed_ctrl(void)
{
	unsigned int nfds = device_fds();
	uint8_t big[MSG_MAX_SIZE + 64] = {0};
	struct raw_hdr hello = {MSG_DEVICE_HELLO, 8};
	struct raw_hdr hello16[2] = {{MSG_DEVICE_HELLO, 16}, {0, 0}};
	struct raw_hdr liar = {MSG_DEVICE_HELLO, 16};
	struct raw_hdr unknown = {0x0199, 8}, zero = {0, 8}, answer = {MSG_DEVICE_INFO, 8};
	int fds[TUBE_MAX_FDS];

	expect_error(hello16, sizeof(hello16), NULL, 0, -EBADMSG, "HELLO with a body");
	expect_error(&liar, sizeof(liar), NULL, 0, -EBADMSG, "size field says 16");
	expect_error(&hello, 4, NULL, 0, -EBADMSG, "4-byte message");
	expect_error(&unknown, sizeof(unknown), NULL, 0, -ENOMSG, "unknown type");
	expect_error(&zero, sizeof(zero), NULL, 0, -ENOMSG, "type 0");
	expect_error(&answer, sizeof(answer), NULL, 0, -ENOMSG, "a response type as request");
	memcpy(big, &hello, sizeof(hello));
	expect_error(big, sizeof(big), NULL, 0, -EMSGSIZE, "message over MSG_MAX_SIZE");
	for (unsigned int i = 0; i < TUBE_MAX_FDS; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		cr_assert_geq(fds[i], 0);
	}
	expect_error(&hello, sizeof(hello), fds, 1, -EPROTO, "HELLO with an fd");
	expect_error(&hello, sizeof(hello), fds, TUBE_MAX_FDS, -EPROTO, "HELLO with 64 fds");
	for (unsigned int i = 0; i < TUBE_MAX_FDS; i++)
		close(fds[i]);
	cr_assert_eq(device_fds(), nfds, "fds of refused messages kept by the device");
}

/* An encoded ACTIVATE for the laid-out queues, then broken by the caller. */
static size_t activate_bytes(uint8_t *out, struct device_request *q)
{
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	cr_assert_eq(harness_layout(&h, h.info.nqueues, 0), 0);
	memset(q, 0, sizeof(*q));
	q->hdr.type = MSG_DEVICE_ACTIVATE;
	q->activate.features = h.info.features;
	q->activate.nregions = 1;
	q->activate.regions[0].size = h.mem_size;
	q->activate.nqueues = 1;
	q->activate.mem_fd = MSG_FD_NONE;
	q->activate.config_irq_fd = MSG_FD_NONE;
	q->activate.queues[0] = (struct msg_device_queue){.desc = h.q[0].desc,
							  .avail = h.q[0].avail,
							  .used = h.q[0].used,
							  .size = h.q[0].size,
							  .enabled = 1,
							  .kick_fd = MSG_FD_NONE,
							  .irq_fd = MSG_FD_NONE};
	cr_assert_eq(msg_device_encode_request(q, 0, wire, sizeof(wire), &len), 0);
	memcpy(out, wire, len);
	return len;
}

static void malformed_activate(void)
{
	struct device_request q;
	uint8_t buf[MSG_MAX_SIZE];
	size_t len = activate_bytes(buf, &q);
	uint32_t three = 3, one = 1;
	int fd = eventfd(0, EFD_CLOEXEC);

	/* nfds (offset 8 + 16) says 3, one rides along */
	memcpy(buf + 24, &three, 4);
	expect_error(buf, len, &fd, 1, -EPROTO, "ACTIVATE naming 3 fds, carrying 1");
	len = activate_bytes(buf, &q);
	expect_error(buf, len, &fd, 1, -EPROTO, "ACTIVATE naming 0 fds, carrying 1");
	/* pad (offset 8 + 28) not zero */
	memcpy(buf + 36, &one, 4);
	expect_error(buf, len, NULL, 0, -EBADMSG, "ACTIVATE with padding set");
	expect_error(buf, len - 8, NULL, 0, -EBADMSG, "ACTIVATE cut short");
	close(fd);
}

/* Moves one ring of queue 0 out of guest memory (case 0..3). */
static const char *misplace_ring(int c)
{
	switch (c) {
	case 0:
		h.q[0].desc = h.mem_size + 0x100000;
		return "descriptor table outside";
	case 1:
		h.q[0].avail = h.mem_size;
		return "avail ring outside";
	case 2:
		h.q[0].used = 1ULL << 48;
		return "used ring far outside";
	default:
		h.q[0].desc = h.mem_size - 16ULL * h.q[0].size + 16;
		return "descriptor table straddling the end";
	}
}

/* Decodes fine, but the rings are not in guest memory: refused, and a good ACTIVATE follows. */
static void activate_rings_outside_memory(void)
{
	uint32_t twice = 2u * h.info.queue_max[0];

	for (int c = 0; c < 4; c++) {
		const char *what;

		cr_assert_eq(harness_layout(&h, h.info.nqueues, 0), 0);
		what = misplace_ring(c);
		cr_assert_lt(harness_send_activate(&h, h.info.features), 0, "%s: accepted", what);
		cr_assert(harness_alive(&h));
	}
	if (twice <= HARNESS_QUEUE_MAX) {
		cr_assert_eq(harness_layout(&h, h.info.nqueues, (uint16_t)twice), 0);
		cr_assert_lt(harness_send_activate(&h, h.info.features), 0,
			     "a queue larger than the device's max accepted");
	}
	activate_all();
	good_request();
}

Test(hostile_rng, malformed_ctrl)
{
	start_rng();
	malformed_ctrl();
}

Test(hostile_blk, malformed_ctrl)
{
	start_blk();
	malformed_ctrl();
}

Test(hostile_rng, malformed_activate)
{
	start_rng();
	malformed_activate();
	activate_all();
	good_request();
}

Test(hostile_blk, malformed_activate)
{
	start_blk();
	malformed_activate();
	activate_all();
	good_request();
}

Test(hostile_rng, activate_rings_outside_memory)
{
	start_rng();
	activate_rings_outside_memory();
}

Test(hostile_blk, activate_rings_outside_memory)
{
	start_blk();
	activate_rings_outside_memory();
}

/* A config read past config space is refused; the device carries on. */
Test(hostile_blk, config_read_out_of_range)
{
	uint8_t b[8];

	start_blk();
	cr_assert_lt(harness_config_read(&h, 250, b, 8), 0);
	cr_assert_lt(harness_config_read(&h, h.info.config_size, b, 1), 0);
	cr_assert_eq(harness_config_read(&h, 0, b, 8), 0);
}
