/*
 * virtio-blk in its own vmm-device process, on a temporary 8 MiB image, checked against the image
 * file on the host: reads, writes, flush, errors past the end, discard, write zeroes, GET_ID,
 * read-only disks, config space, indirect chains, both interrupt suppression schemes and
 * MSG_DEVICE_CMD_RESIZE.
 * Skipped (not failed) while vmm-device does not know --type block.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "harness_blk.h"
#include "virtq.h"

#define IMAGE_SIZE (8ULL << 20)
#define CAPACITY (IMAGE_SIZE / VIRTIO_BLK_SECTOR)
#define SERIAL "harness-serial-01"

static struct harness h;
static int image = -1;

static void stop(void)
{
	harness_stop(&h);
	if (image >= 0)
		close(image);
	image = -1;
}

TestSuite(blk_harness, .fini = stop, .timeout = 60);

/* Starts block on fd (image, or a reopened copy) with options args; skips if there is none. */
static void start_on(int fd, const char *const *args)
{
	struct harness_spec s = {.type = "block", .backend_fd = fd, .args = args};
	int ret = harness_start(&h, &s);

	cr_assert_eq(ret, 0, "virtio-blk did not start (HELLO: %s)", strerror(-ret));
	cr_assert_eq(h.info.device_type, 2);
	cr_assert_geq(h.info.nqueues, 1);
}

static void new_image(void)
{
	image = harness_blk_image(IMAGE_SIZE);
	cr_assert_geq(image, 0, "image: %s", strerror(-image));
}

/* A fresh image, a device on it with a serial, all offered features minus drop. */
static void start_blk(uint64_t drop)
{
	static const char *const args[] = {"--serial", SERIAL, NULL};

	new_image();
	start_on(image, args);
	cr_assert_eq(harness_activate(&h, h.info.features & ~drop), 0);
}

static bool offered(unsigned int bit)
{
	return h.info.features & HARNESS_F(bit);
}

static void pattern(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void *gbuf(uint64_t gpa, size_t len)
{
	void *p = harness_ptr(&h, gpa, len);

	cr_assert_not_null(p);
	return p;
}

/* The image's bytes at sector (host view, through fd). */
static void file_read(int fd, uint64_t sector, void *buf, size_t len)
{
	cr_assert_eq(pread(fd, buf, len, (off_t)(sector * VIRTIO_BLK_SECTOR)), (ssize_t)len);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Writes a pattern through the device, checks the file, reads it back through the device. */
static void write_check_read(uint64_t sector, uint32_t len, unsigned int seed, bool indirect)
{
	uint64_t out = harness_alloc(&h, len), in = harness_alloc(&h, len);
	uint8_t *host = malloc(len);
	uint32_t used = 0;

	cr_assert(out && in && host);
	pattern(gbuf(out, len), len, seed);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, sector, out, len, indirect, &used),
		     VIRTIO_BLK_S_OK, "write of %u bytes at sector %llu", len,
		     (unsigned long long)sector);
	cr_assert_eq(used, 1, "a write's used len is the status byte");
	file_read(image, sector, host, len);
	cr_assert_eq(memcmp(host, gbuf(out, len), len), 0, "image differs at sector %llu",
		     (unsigned long long)sector);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, sector, in, len, indirect, &used),
		     VIRTIO_BLK_S_OK);
	cr_assert_eq(used, len + 1, "a read's used len is data + status");
	cr_assert_eq(memcmp(gbuf(in, len), host, len), 0, "read back differs at sector %llu",
		     (unsigned long long)sector);
	free(host);
}

Test(blk_harness, config_space)
{
	uint8_t cfg[8];
	uint64_t cap;
	uint32_t blk_size;

	start_blk(0);
	cr_assert_eq(harness_config_read(&h, 0, cfg, 8), 0);
	memcpy(&cap, cfg, 8);
	cr_assert_eq(le64toh(cap), CAPACITY, "capacity %llu", (unsigned long long)le64toh(cap));
	if (offered(VIRTIO_BLK_F_BLK_SIZE)) {
		cr_assert_eq(harness_config_read(&h, 20, &blk_size, 4), 0);
		cr_assert_geq(le32toh(blk_size), 512);
	}
	cr_assert_lt(harness_config_read(&h, h.info.config_size, cfg, 1), 0);
	cr_assert_not(offered(VIRTIO_BLK_F_RO));
}

Test(blk_harness, write_read_patterns)
{
	static const uint64_t sectors[] = {0, 1, 7, 100, 4095, 4096, CAPACITY - 1};

	start_blk(0);
	for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++)
		write_check_read(sectors[i], 512, (unsigned int)i + 1, false);
	write_check_read(5000, 64 * 1024, 99, false);
	write_check_read(CAPACITY - 128, 64 * 1024, 98, false);
	/* the first write is still there after the others */
	write_check_read(0, 4096, 1, false);
}

/* Data split over several segments: header, three data buffers, status. */
Test(blk_harness, multi_segment_data)
{
	static const uint32_t lens[] = {512, 1024, 2560};
	uint64_t req, data[3];
	struct harness_buf b[5];
	struct harness_used u;
	uint8_t host[4096];
	size_t off = 0;

	start_blk(0);
	for (int dir = 0; dir < 2; dir++) {
		req = harness_blk_alloc_req(&h);
		harness_blk_header(&h, req, dir ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, 64);
		b[0] = (struct harness_buf){.gpa = req, .len = 16};
		for (int i = 0; i < 3; i++) {
			data[i] = harness_alloc(&h, lens[i]);
			if (!dir)
				pattern(gbuf(data[i], lens[i]), lens[i], 40 + i);
			b[1 + i] =
			    (struct harness_buf){.gpa = data[i], .len = lens[i], .write = dir};
		}
		b[4] =
		    (struct harness_buf){.gpa = req + HARNESS_BLK_STATUS_OFF, .len = 1, .write = 1};
		cr_assert_eq(harness_run(&h, 0, b, 5, false, &u), 0);
		cr_assert_eq(harness_blk_status(&h, req), VIRTIO_BLK_S_OK);
		cr_assert_eq(u.len, dir ? 4097 : 1);
	}
	file_read(image, 64, host, sizeof(host));
	for (int i = 0; i < 3; i++) {
		uint8_t want[2560];

		pattern(want, lens[i], 40 + i);
		cr_assert_eq(memcmp(host + off, want, lens[i]), 0, "segment %d on disk", i);
		cr_assert_eq(memcmp(gbuf(data[i], lens[i]), want, lens[i]), 0, "segment %d read",
			     i);
		off += lens[i];
	}
}

Test(blk_harness, flush_reaches_the_file)
{
	uint64_t out;
	uint8_t host[8192];
	uint32_t used = 0;
	int other;

	start_blk(0);
	cr_assert(offered(VIRTIO_BLK_F_FLUSH));
	out = harness_alloc(&h, sizeof(host));
	pattern(gbuf(out, sizeof(host)), sizeof(host), 7);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, 200, out, sizeof(host), false, NULL),
		     VIRTIO_BLK_S_OK);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &used),
		     VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 1);
	other = harness_blk_reopen(image, O_RDONLY);
	cr_assert_geq(other, 0);
	file_read(other, 200, host, sizeof(host));
	close(other);
	cr_assert_eq(memcmp(host, gbuf(out, sizeof(host)), sizeof(host)), 0);
}

Test(blk_harness, past_capacity_is_ioerr)
{
	uint64_t buf;
	struct stat st;

	start_blk(0);
	buf = harness_alloc(&h, 4096);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, CAPACITY, buf, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, CAPACITY - 1, buf, 1024, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, UINT64_MAX, buf, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, CAPACITY, buf, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, CAPACITY - 7, buf, 4096, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(fstat(image, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, IMAGE_SIZE, "the image grew");
	/* a data length that is not whole sectors */
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, 0, buf, 100, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	/* still fine after the errors */
	write_check_read(CAPACITY - 8, 4096, 3, false);
}

Test(blk_harness, unknown_type_is_unsupp)
{
	uint64_t buf;
	uint32_t used = 0;

	start_blk(0);
	buf = harness_alloc(&h, 512);
	cr_assert_eq(harness_blk_do(&h, 0x77, 0, buf, 512, false, &used), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(used, 1);
	write_check_read(0, 512, 4, false);
}

/* One DISCARD or WRITE_ZEROES range. */
static int dwz(uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t seg = harness_alloc(&h, sizeof(struct harness_blk_range));
	struct harness_blk_range r = {
	    .sector = htole64(sector), .num_sectors = htole32(n), .flags = htole32(flags)};

	memcpy(gbuf(seg, sizeof(r)), &r, sizeof(r));
	return harness_blk_do(&h, type, 0, seg, sizeof(r), false, NULL);
}

Test(blk_harness, discard_frees_blocks_and_reads_zeros)
{
	const uint32_t len = 1 << 20;
	uint64_t out, in;
	uint8_t *host = malloc(len);
	struct stat before, after;

	start_blk(0);
	cr_assert(offered(VIRTIO_BLK_F_DISCARD), "a writable disk offers DISCARD");
	out = harness_alloc(&h, len);
	in = harness_alloc(&h, len);
	pattern(gbuf(out, len), len, 11);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, 2048, out, len, false, NULL),
		     VIRTIO_BLK_S_OK);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	cr_assert_eq(fstat(image, &before), 0);
	cr_assert_geq(before.st_blocks, len / 512, "the write allocated %lld blocks",
		      (long long)before.st_blocks);
	cr_assert_eq(dwz(VIRTIO_BLK_T_DISCARD, 2048, len / 512, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(fstat(image, &after), 0);
	cr_assert_leq(after.st_blocks, before.st_blocks - len / 512 / 2,
		      "st_blocks %lld -> %lld: discard freed nothing", (long long)before.st_blocks,
		      (long long)after.st_blocks);
	cr_assert_eq((uint64_t)after.st_size, IMAGE_SIZE);
	memset(gbuf(in, len), 0xee, len);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, 2048, in, len, false, NULL),
		     VIRTIO_BLK_S_OK);
	cr_assert(is_zero(gbuf(in, len), len), "discarded range does not read as zeros");
	file_read(image, 2048, host, len);
	cr_assert(is_zero(host, len));
	/* past the end, and UNMAP on a discard (5.2.6.2) are refused */
	cr_assert_neq(dwz(VIRTIO_BLK_T_DISCARD, CAPACITY - 1, 2, 0), VIRTIO_BLK_S_OK);
	cr_assert_neq(dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 1), VIRTIO_BLK_S_OK);
	free(host);
}

Test(blk_harness, write_zeroes)
{
	const uint32_t len = 16 * 512;
	uint64_t out, in;
	uint8_t host[16 * 512];

	start_blk(0);
	cr_assert(offered(VIRTIO_BLK_F_WRITE_ZEROES), "a writable disk offers WRITE_ZEROES");
	out = harness_alloc(&h, len);
	in = harness_alloc(&h, len);
	for (uint32_t flags = 0; flags < 2; flags++) {
		pattern(gbuf(out, len), len, 20 + flags);
		cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, 296, out, len, false, NULL),
			     VIRTIO_BLK_S_OK);
		/* zero sectors 300..307 of 296..311; unmap asked the second time */
		cr_assert_eq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 300, 8, flags), VIRTIO_BLK_S_OK,
			     "write zeroes, flags %u", flags);
		cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, 296, in, len, false, NULL),
			     VIRTIO_BLK_S_OK);
		file_read(image, 296, host, len);
		cr_assert_eq(memcmp(host, gbuf(in, len), len), 0);
		cr_assert_eq(memcmp(host, gbuf(out, len), 4 * 512), 0, "sectors before touched");
		cr_assert(is_zero(host + 4 * 512, 8 * 512), "range not zeroed (flags %u)", flags);
		cr_assert_eq(memcmp(host + 12 * 512, (uint8_t *)gbuf(out, len) + 12 * 512, 4 * 512),
			     0, "sectors after touched");
	}
	cr_assert_neq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, CAPACITY - 4, 8, 0), VIRTIO_BLK_S_OK);
}

Test(blk_harness, get_id_returns_serial)
{
	uint64_t buf;
	uint32_t used = 0;
	char id[VIRTIO_BLK_ID_BYTES + 1] = {0};

	start_blk(0);
	buf = harness_alloc(&h, VIRTIO_BLK_ID_BYTES);
	memset(gbuf(buf, VIRTIO_BLK_ID_BYTES), 0xee, VIRTIO_BLK_ID_BYTES);
	cr_assert_eq(
	    harness_blk_do(&h, VIRTIO_BLK_T_GET_ID, 0, buf, VIRTIO_BLK_ID_BYTES, false, &used),
	    VIRTIO_BLK_S_OK);
	cr_assert_eq(used, VIRTIO_BLK_ID_BYTES + 1);
	memcpy(id, gbuf(buf, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_ID_BYTES);
	cr_assert_str_eq(id, SERIAL);
	cr_assert(is_zero((uint8_t *)id + strlen(SERIAL), VIRTIO_BLK_ID_BYTES - strlen(SERIAL)),
		  "serial not NUL-padded");
}

/* A serial of exactly 20 bytes comes back without a NUL. */
Test(blk_harness, get_id_twenty_bytes)
{
	static const char *const args[] = {"--serial", "ABCDEFGHIJKLMNOPQRST", NULL};
	uint64_t buf;

	new_image();
	start_on(image, args);
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
	buf = harness_alloc(&h, VIRTIO_BLK_ID_BYTES);
	cr_assert_eq(
	    harness_blk_do(&h, VIRTIO_BLK_T_GET_ID, 0, buf, VIRTIO_BLK_ID_BYTES, false, NULL),
	    VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(gbuf(buf, 20), "ABCDEFGHIJKLMNOPQRST", 20), 0);
}

Test(blk_harness, read_only)
{
	static const char *const args[] = {"--read-only", NULL};
	uint8_t *before = malloc(IMAGE_SIZE), *now = malloc(IMAGE_SIZE);
	uint64_t buf;
	int ro;

	cr_assert(before && now);
	new_image();
	pattern(before, IMAGE_SIZE, 5);
	cr_assert_eq(pwrite(image, before, IMAGE_SIZE, 0), (ssize_t)IMAGE_SIZE);
	ro = harness_blk_reopen(image, O_RDONLY);
	cr_assert_geq(ro, 0);
	start_on(ro, args);
	close(ro);
	cr_assert(offered(VIRTIO_BLK_F_RO), "VIRTIO_BLK_F_RO not offered");
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
	buf = harness_alloc(&h, 4096);
	memset(gbuf(buf, 4096), 0x11, 4096);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, 0, buf, 4096, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_OUT, 100, buf, 512, true, NULL),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_neq(dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_OK);
	cr_assert_neq(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, 0, buf, 4096, false, NULL),
		     VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(gbuf(buf, 4096), before, 4096), 0, "reads work on a read-only disk");
	file_read(image, 0, now, IMAGE_SIZE);
	cr_assert_eq(memcmp(now, before, IMAGE_SIZE), 0, "a read-only image changed");
	free(before);
	free(now);
}

/* Without --read-only a device refuses an image it cannot write. */
Test(blk_harness, rw_device_refuses_read_only_fd)
{
	struct harness_spec s = {.type = "block"};
	struct harness probe;
	int ro, ret;

	new_image();
	/* First make sure block exists at all, so that the refusal below means something. */
	start_on(image, NULL);
	ro = harness_blk_reopen(image, O_RDONLY);
	cr_assert_geq(ro, 0);
	s.backend_fd = ro;
	ret = harness_start(&probe, &s);
	close(ro);
	harness_stop(&probe);
	cr_assert_lt(ret, 0, "a writable disk on an O_RDONLY image was started");
}

Test(blk_harness, indirect_descriptors)
{
	start_blk(0);
	cr_assert(offered(VIRTIO_F_INDIRECT_DESC));
	write_check_read(10, 512, 30, true);
	write_check_read(1000, 32 * 1024, 31, true);
	write_check_read(CAPACITY - 1, 512, 32, true);
}

/* Many requests in both interrupt schemes; the data always matches the file. */
static void traffic(void)
{
	for (unsigned int i = 0; i < 40; i++)
		write_check_read((i * 97) % (CAPACITY - 8), 4096, 50 + i, i % 3 == 0);
	harness_irqs(&h, 0);
	cr_assert_gt(h.q[0].irqs, 0, "no interrupts at all");
}

Test(blk_harness, event_idx_negotiated)
{
	start_blk(0);
	cr_assert(h.features & HARNESS_F(VIRTIO_F_EVENT_IDX));
	traffic();
	/* used_event ahead: no interrupt until it is passed */
	h.q[0].manual_irq = true;
	harness_irqs_settled(&h, 0); /* the traffic's last interrupts, not counted below */
	h.q[0].irqs = 0;
	harness_set_used_event(&h, 0, (uint16_t)(h.q[0].used_seen + 2));
	write_check_read(77, 512, 1, false); /* two completions: up to used_event + 1 */
	cr_assert_eq(harness_irqs_settled(&h, 0), 0, "interrupted before used_event was passed");
	write_check_read(78, 512, 2, false); /* the third passes it */
	cr_assert_eq(harness_irqs_settled(&h, 0), 1, "one interrupt once used_event was passed");
}

Test(blk_harness, event_idx_not_negotiated)
{
	start_blk(HARNESS_F(VIRTIO_F_EVENT_IDX));
	cr_assert_not(h.features & HARNESS_F(VIRTIO_F_EVENT_IDX));
	traffic();
	harness_set_avail_flags(&h, 0, VIRTQ_AVAIL_F_NO_INTERRUPT);
	harness_irqs_settled(&h, 0); /* the traffic's last interrupts, not counted below */
	h.q[0].irqs = 0;
	write_check_read(90, 512, 3, false);
	cr_assert_eq(harness_irqs_settled(&h, 0), 0, "interrupted despite VIRTQ_AVAIL_F_NO_INTERRUPT");
}

/* FLUSH not negotiated: the device writes through; data is in the file when completed. */
Test(blk_harness, no_flush_feature_writes_through)
{
	start_blk(HARNESS_F(VIRTIO_BLK_F_FLUSH));
	write_check_read(300, 8192, 8, false);
}

/* A queue's worth of reads in flight at once, completed in any order, each checked. */
Test(blk_harness, deep_queue)
{
	enum { N = 64, LEN = 4096 };
	uint64_t req[N], buf[N];
	int head[N];
	uint8_t *img = malloc(IMAGE_SIZE);
	unsigned int done = 0;

	start_blk(0);
	pattern(img, IMAGE_SIZE, 9);
	cr_assert_eq(pwrite(image, img, IMAGE_SIZE, 0), (ssize_t)IMAGE_SIZE);
	for (int i = 0; i < N; i++) {
		req[i] = harness_blk_alloc_req(&h);
		buf[i] = harness_alloc(&h, LEN);
		head[i] = harness_blk_add(&h, 0, req[i], VIRTIO_BLK_T_IN, (uint64_t)i * 129 % 16000,
					  buf[i], LEN, i & 1);
		cr_assert_geq(head[i], 0);
	}
	harness_kick(&h, 0);
	while (done < N) {
		struct harness_used u;
		int i;

		cr_assert_eq(harness_wait_used(&h, 0, &u, HARNESS_TIMEOUT_MS), 0, "%u of %d", done,
			     N);
		for (i = 0; i < N && head[i] != (int)u.id; i++)
			;
		cr_assert_lt(i, N, "unknown head %u", u.id);
		head[i] = -1;
		cr_assert_eq(harness_blk_status(&h, req[i]), VIRTIO_BLK_S_OK);
		cr_assert_eq(memcmp(gbuf(buf[i], LEN), img + (uint64_t)i * 129 % 16000 * 512, LEN),
			     0, "request %d", i);
		done++;
	}
	free(img);
}

/* ---- MSG_DEVICE_CMD_RESIZE: main resized the image, the device follows ---- */

static int resize_to(uint64_t bytes)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_COMMAND};
	struct device_response r;
	int ret;

	q.command.op = MSG_DEVICE_CMD_RESIZE;
	q.command.arg = bytes;
	ret = harness_call(&h, &q, NULL, 0, &r);
	return ret ? ret : harness_status(&r, 0);
}

/* The same, with an arg the encoder would refuse: the device's decoder must refuse it too. */
static int resize_raw(uint64_t bytes)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_COMMAND};
	struct device_response r;
	uint8_t buf[MSG_MAX_SIZE];
	uint64_t le = htole64(bytes);
	size_t len;
	int ret;

	q.command.op = MSG_DEVICE_CMD_RESIZE;
	q.command.arg = 512;
	cr_assert_eq(msg_device_encode_request(&q, 0, buf, sizeof(buf), &len), 0);
	memcpy(buf + sizeof(struct msg_hdr) + offsetof(struct msg_device_command, arg), &le, 8);
	ret = harness_call_raw(&h, buf, len, NULL, 0, &r);
	return ret ? ret : harness_status(&r, 0);
}

static uint64_t capacity(void)
{
	uint64_t cap;

	cr_assert_eq(harness_config_read(&h, 0, &cap, 8), 0);
	return le64toh(cap);
}

Test(blk_harness, resize_grows_capacity)
{
	uint64_t buf;

	start_blk(0);
	cr_assert_eq(ftruncate(image, (off_t)(2 * IMAGE_SIZE)), 0);
	cr_assert_eq(resize_to(2 * IMAGE_SIZE), 0);
	cr_assert_eq(capacity(), 2 * CAPACITY);
	cr_assert_geq(harness_wait_eventfd(h.config_irq_fd, HARNESS_TIMEOUT_MS), 1,
		      "no config interrupt");
	/* the new sectors are the guest's */
	write_check_read(CAPACITY + 100, 4096, 61, false);
	write_check_read(2 * CAPACITY - 8, 4096, 62, false);
	buf = harness_alloc(&h, 512);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, 2 * CAPACITY, buf, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR);
}

/* Shrinking (main allows it when asked): sectors past the new end are gone. */
Test(blk_harness, resize_shrinks_capacity)
{
	uint64_t buf;

	start_blk(0);
	cr_assert_eq(ftruncate(image, (off_t)(IMAGE_SIZE / 2)), 0);
	cr_assert_eq(resize_to(IMAGE_SIZE / 2), 0);
	cr_assert_eq(capacity(), CAPACITY / 2);
	cr_assert_geq(harness_wait_eventfd(h.config_irq_fd, HARNESS_TIMEOUT_MS), 1);
	buf = harness_alloc(&h, 512);
	cr_assert_eq(harness_blk_do(&h, VIRTIO_BLK_T_IN, CAPACITY / 2, buf, 512, false, NULL),
		     VIRTIO_BLK_S_IOERR);
	write_check_read(CAPACITY / 2 - 1, 512, 63, false);
}

Test(blk_harness, resize_bad_sizes_refused)
{
	start_blk(0);
	/* not what the image holds: main and the image disagree */
	cr_assert_eq(resize_to(2 * IMAGE_SIZE), -EINVAL);
	cr_assert_eq(ftruncate(image, (off_t)(IMAGE_SIZE + 100)), 0);
	cr_assert_eq(resize_to(IMAGE_SIZE + 512), -EINVAL);
	cr_assert_eq(resize_to(IMAGE_SIZE), -EINVAL);
	/* not whole sectors, or nothing: refused before the device looks */
	cr_assert_lt(resize_raw(IMAGE_SIZE + 100), 0);
	cr_assert_lt(resize_raw(0), 0);
	cr_assert_eq(capacity(), CAPACITY);
	cr_assert_eq(harness_wait_eventfd(h.config_irq_fd, 50), -ETIMEDOUT,
		     "config interrupt for a refused resize");
	/* the same size again is fine (and tells the driver to look) */
	cr_assert_eq(ftruncate(image, (off_t)IMAGE_SIZE), 0);
	cr_assert_eq(resize_to(IMAGE_SIZE), 0);
	cr_assert_eq(capacity(), CAPACITY);
	write_check_read(CAPACITY - 1, 512, 64, false);
}

Test(blk_harness, resize_read_only_refused)
{
	static const char *const args[] = {"--read-only", NULL};
	int ro;

	new_image();
	ro = harness_blk_reopen(image, O_RDONLY);
	cr_assert_geq(ro, 0);
	start_on(ro, args);
	close(ro);
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
	cr_assert_eq(ftruncate(image, (off_t)(2 * IMAGE_SIZE)), 0);
	cr_assert_eq(resize_to(2 * IMAGE_SIZE), -EINVAL);
	cr_assert_eq(capacity(), CAPACITY);
}

Test(blk_harness, balloon_commands_refused)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_COMMAND};
	struct device_response r;

	start_blk(0);
	q.command.op = MSG_DEVICE_CMD_BALLOON_STATS;
	cr_assert_eq(harness_call(&h, &q, NULL, 0, &r), 0);
	cr_assert_eq(harness_status(&r, 0), -EOPNOTSUPP);
	cr_assert(harness_alive(&h));
}
