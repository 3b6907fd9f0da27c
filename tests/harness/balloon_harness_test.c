/*
 * virtio-balloon in its own vmm-device process, driven by the harness: the host's target reaches
 * config space with a config interrupt, inflated and deflated pages reach "main" as merged
 * ranges, `actual` reaching the target is told once, statistics are kept and their buffer given
 * back each interval, and malformed buffers break the device without killing it.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "virtq.h"

#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define Q_INFLATE 0
#define Q_DEFLATE 1
#define Q_STATS 2
#define CFG_NUM_PAGES 0
#define CFG_ACTUAL 4
#define PAGE 4096ULL
/* PFNs the tests give: in the data area, far above what harness_alloc() hands out here. */
#define PFN_BASE 0x3000u

#define F_RING                                                                                     \
	(HARNESS_F(VIRTIO_F_VERSION_1) | HARNESS_F(VIRTIO_F_INDIRECT_DESC) |                       \
	 HARNESS_F(VIRTIO_F_EVENT_IDX))

static struct harness h;

static void start(const char *const *args)
{
	struct harness_spec s = {.type = "balloon", .backend_fd = -1, .args = args};
	int ret = harness_start(&h, &s);

	cr_assert_eq(ret, 0, "balloon did not start: %s", strerror(-ret));
	cr_assert_eq(h.info.device_type, 5);
	cr_assert_eq(h.info.nqueues, 3);
	cr_assert_eq(h.info.config_size, 8);
}

/* A balloon with both options, all three queues active. */
static void start_all(void)
{
	static const char *const args[] = {"--deflate-on-oom", "--stats-interval", "1", NULL};

	start(args);
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
}

static void stop(void)
{
	harness_stop(&h);
}

TestSuite(balloon_harness, .fini = stop, .timeout = 60);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t config_u32(uint32_t off)
{
	uint32_t v;

	cr_assert_eq(harness_config_read(&h, off, &v, sizeof(v)), 0);
	return le32toh(v);
}

static int config_write(uint32_t off, const void *data, uint32_t len)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_CONFIG_WRITE};
	struct device_response r;
	int ret;

	q.config_write.offset = off;
	q.config_write.len = len;
	memcpy(q.config_write.data, data, len);
	ret = harness_call(&h, &q, NULL, 0, &r);
	return ret ? ret : harness_status(&r, 0);
}

/* The driver writes `actual`. */
static void write_actual(uint32_t pages)
{
	uint32_t v = htole32(pages);

	cr_assert_eq(config_write(CFG_ACTUAL, &v, sizeof(v)), 0);
}

static int command(uint32_t op, uint64_t arg, struct device_response *r)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_COMMAND};
	int ret;

	q.command.op = op;
	q.command.arg = arg;
	ret = harness_call(&h, &q, NULL, 0, r);
	return ret ? ret : harness_status(r, MSG_DEVICE_BALLOON_STATS);
}

static int set_target(uint64_t bytes)
{
	struct device_response r;

	return command(MSG_DEVICE_CMD_BALLOON_TARGET, bytes, &r);
}

static struct msg_device_balloon_stats get_stats(void)
{
	struct device_response r;

	cr_assert_eq(command(MSG_DEVICE_CMD_BALLOON_STATS, 0, &r), 0);
	cr_assert_eq(r.hdr.type, MSG_DEVICE_BALLOON_STATS);
	return r.balloon_stats;
}

/* The PFNs as a device-readable buffer in guest memory. */
static struct harness_buf pfn_buf(const uint32_t *pfns, unsigned int n)
{
	uint64_t gpa = harness_alloc(&h, 4ULL * n);
	uint32_t *p = harness_ptr(&h, gpa, 4ULL * n);

	cr_assert_not_null(p);
	for (unsigned int i = 0; i < n; i++)
		p[i] = htole32(pfns[i]);
	return (struct harness_buf){.gpa = gpa, .len = 4 * n};
}

/* One buffer of PFNs on queue qi, given back with nothing written. */
static void give_pfns(unsigned int qi, const uint32_t *pfns, unsigned int n)
{
	struct harness_buf b = pfn_buf(pfns, n);
	struct harness_used u;
	int ret = harness_run(&h, qi, &b, 1, false, &u);

	cr_assert_eq(ret, 0, "queue %u: %s", qi, strerror(-ret));
	cr_assert_eq(u.len, 0);
}

struct range {
	uint64_t pfn;
	uint64_t pages;
};

/* The ranges recorded at got[first..first + n) (of ngot), against want[0..n). */
static void check_ranges(const struct msg_vm_memory_range *got, unsigned int ngot,
			 unsigned int first, const struct range *want, unsigned int n)
{
	cr_assert_geq(ngot, first + n, "%u ranges recorded, expected %u", ngot, first + n);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(got[first + i].gpa, want[i].pfn * PAGE, "range %u at 0x%llx", i,
			     (unsigned long long)got[first + i].gpa);
		cr_assert_eq(got[first + i].len, want[i].pages * PAGE, "range %u of 0x%llx", i,
			     (unsigned long long)got[first + i].len);
	}
}

Test(balloon_harness, hello_without_options)
{
	start(NULL);
	cr_assert(h.info.features & HARNESS_F(VIRTIO_F_VERSION_1));
	cr_assert_not(h.info.features & HARNESS_F(VIRTIO_BALLOON_F_STATS_VQ));
	cr_assert_not(h.info.features & HARNESS_F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(h.info.queue_max[i], 128);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 0);
	cr_assert_eq(config_u32(CFG_ACTUAL), 0);
}

Test(balloon_harness, hello_with_options)
{
	static const char *const args[] = {"--stats-interval=5", "--deflate-on-oom", NULL};

	start(args);
	cr_assert(h.info.features & HARNESS_F(VIRTIO_BALLOON_F_STATS_VQ));
	cr_assert(h.info.features & HARNESS_F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
}

Test(balloon_harness, stats_interval_zero_offers_no_stats_queue)
{
	static const char *const args[] = {"--stats-interval", "0", NULL};

	start(args);
	cr_assert_not(h.info.features & HARNESS_F(VIRTIO_BALLOON_F_STATS_VQ));
}

Test(balloon_harness, bad_options_refused)
{
	static const char *const bad[][3] = {
	    {"--stats-interval", NULL},
	    {"--stats-interval", "x", NULL},
	    {"--stats-interval", "-1", NULL},
	    {"--stats-interval", "999999", NULL},
	    {"--bogus", NULL},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct harness_spec s = {.type = "balloon", .backend_fd = -1, .args = bad[i]};
		int ret = harness_start(&h, &s);

		harness_stop(&h);
		cr_assert_lt(ret, 0, "started with %s %s", bad[i][0], bad[i][1] ? bad[i][1] : "");
	}
}

Test(balloon_harness, target_sets_num_pages_and_interrupts)
{
	start_all();
	cr_assert_eq(set_target(8ULL << 20), 0);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 2048);
	cr_assert_geq(harness_wait_eventfd(h.config_irq_fd, HARNESS_TIMEOUT_MS), 1,
		      "no config interrupt");
	cr_assert_eq(set_target(0), 0);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 0);
	cr_assert_geq(harness_wait_eventfd(h.config_irq_fd, HARNESS_TIMEOUT_MS), 1);
	/* 2^32 pages do not fit num_pages */
	cr_assert_eq(set_target(PAGE << 32), -EINVAL);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 0);
	cr_assert(harness_alive(&h));
}

/* Before the driver is there: the target waits in config space for it to read. */
Test(balloon_harness, target_before_activate)
{
	start(NULL);
	cr_assert_eq(set_target(PAGE * 300), 0);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 300);
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 300);
}

Test(balloon_harness, only_actual_is_writable)
{
	uint32_t v = htole32(77);

	start_all();
	cr_assert_lt(config_write(CFG_NUM_PAGES, &v, 4), 0, "the driver wrote num_pages");
	cr_assert_lt(config_write(CFG_ACTUAL, &v, 2), 0, "half of actual written");
	cr_assert_lt(config_write(CFG_ACTUAL + 2, &v, 2), 0);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 0);
	cr_assert_eq(config_u32(CFG_ACTUAL), 0);
	write_actual(77);
	cr_assert_eq(config_u32(CFG_ACTUAL), 77);
	cr_assert_eq(get_stats().actual, 77 * PAGE);
}

Test(balloon_harness, inflate_merges_contiguous_pfns)
{
	static const uint32_t pfns[] = {PFN_BASE,	 PFN_BASE + 1,	  PFN_BASE + 2,
					PFN_BASE + 0x10, PFN_BASE + 0x11, PFN_BASE - 1,
					PFN_BASE + 0x20};
	static const struct range want[] = {
	    {PFN_BASE, 3}, {PFN_BASE + 0x10, 2}, {PFN_BASE - 1, 1}, {PFN_BASE + 0x20, 1}};

	start_all();
	give_pfns(Q_INFLATE, pfns, 7);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.free_requests, 1);
	cr_assert_eq(h.reclaim_requests, 0);
	cr_assert_eq(h.nfreed, 4);
	check_ranges(h.freed, h.nfreed, 0, want, 4);
	pthread_mutex_unlock(&h.lock);
	cr_assert(harness_alive(&h));
}

/* 200 separate pages: 64 ranges a message, so four messages. */
Test(balloon_harness, inflate_many_ranges)
{
	uint32_t pfns[200];
	struct range want[200];

	start_all();
	for (unsigned int i = 0; i < 200; i++) {
		pfns[i] = PFN_BASE + 2 * i;
		want[i] = (struct range){PFN_BASE + 2 * i, 1};
	}
	give_pfns(Q_INFLATE, pfns, 200);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.free_requests, 4);
	cr_assert_eq(h.nfreed, 200);
	check_ranges(h.freed, h.nfreed, 0, want, 200);
	pthread_mutex_unlock(&h.lock);
}

/* Over several descriptors and an indirect table: one list of PFNs. */
Test(balloon_harness, inflate_chained_buffers)
{
	static const uint32_t a[] = {PFN_BASE, PFN_BASE + 1}, b[] = {PFN_BASE + 2, PFN_BASE + 9};
	static const struct range want[] = {{PFN_BASE, 3}, {PFN_BASE + 9, 1}};
	struct harness_buf bufs[2];
	struct harness_used u;

	start_all();
	bufs[0] = pfn_buf(a, 2);
	bufs[1] = pfn_buf(b, 2);
	cr_assert_eq(harness_run(&h, Q_INFLATE, bufs, 2, false, &u), 0);
	cr_assert_eq(harness_run(&h, Q_INFLATE, bufs, 2, true, &u), 0);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.free_requests, 2);
	cr_assert_eq(h.nfreed, 4);
	check_ranges(h.freed, h.nfreed, 0, want, 2);
	check_ranges(h.freed, h.nfreed, 2, want, 2);
	pthread_mutex_unlock(&h.lock);
}

Test(balloon_harness, deflate_reclaims)
{
	static const uint32_t pfns[] = {PFN_BASE + 5, PFN_BASE + 6, PFN_BASE + 7, PFN_BASE + 1};
	static const struct range want[] = {{PFN_BASE + 5, 3}, {PFN_BASE + 1, 1}};

	start_all();
	give_pfns(Q_INFLATE, pfns, 4);
	give_pfns(Q_DEFLATE, pfns, 4);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.free_requests, 1);
	cr_assert_eq(h.reclaim_requests, 1);
	cr_assert_eq(h.nreclaimed, 2);
	check_ranges(h.reclaimed, h.nreclaimed, 0, want, 2);
	pthread_mutex_unlock(&h.lock);
}

/* Linux's driver without STATS_VQ sets up only the inflate and deflate queues. */
Test(balloon_harness, two_queues_without_stats)
{
	static const uint32_t pfns[] = {PFN_BASE};

	start(NULL);
	cr_assert_eq(harness_layout(&h, 2, 0), 0);
	cr_assert_eq(harness_send_activate(&h, h.info.features), 0);
	give_pfns(Q_INFLATE, pfns, 1);
	give_pfns(Q_DEFLATE, pfns, 1);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.free_requests + h.reclaim_requests, 2);
	pthread_mutex_unlock(&h.lock);
}

static unsigned int reached(void)
{
	unsigned int n;

	/* Any notice is sent before the device reads its next request: a round trip settles it. */
	config_u32(CFG_ACTUAL);
	pthread_mutex_lock(&h.lock);
	n = h.target_reached;
	pthread_mutex_unlock(&h.lock);
	return n;
}

Test(balloon_harness, target_reached_once_per_target)
{
	start_all();
	write_actual(3);
	cr_assert_eq(reached(), 0, "told without a target");
	cr_assert_eq(set_target(4 * PAGE), 0);
	write_actual(2);
	cr_assert_eq(reached(), 0);
	write_actual(4);
	cr_assert_eq(harness_wait_count(&h, &h.target_reached, 1, HARNESS_TIMEOUT_MS), 0);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.target_bytes, 4 * PAGE);
	pthread_mutex_unlock(&h.lock);
	write_actual(4);
	write_actual(3);
	write_actual(4);
	cr_assert_eq(reached(), 1, "told twice for one target");
	/* a new target: told again once the driver gets there */
	cr_assert_eq(set_target(0), 0);
	cr_assert_eq(reached(), 1);
	write_actual(0);
	cr_assert_eq(reached(), 2);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.target_bytes, 0);
	pthread_mutex_unlock(&h.lock);
	/* a target the balloon already has: the driver writes nothing, the device tells at once */
	cr_assert_eq(set_target(0), 0);
	cr_assert_eq(reached(), 3);
}

/* struct virtio_balloon_stat: le16 tag, le64 val, packed. */
static struct harness_buf stats_buf(const uint16_t *tags, const uint64_t *vals, unsigned int n)
{
	uint64_t gpa = harness_alloc(&h, 10ULL * n);
	uint8_t *p = harness_ptr(&h, gpa, 10ULL * n);

	cr_assert_not_null(p);
	for (unsigned int i = 0; i < n; i++) {
		uint16_t t = htole16(tags[i]);
		uint64_t v = htole64(vals[i]);

		memcpy(p + 10 * i, &t, 2);
		memcpy(p + 10 * i + 2, &v, 8);
	}
	return (struct harness_buf){.gpa = gpa, .len = 10 * n};
}

/* Waits (bounded) until the device has taken a report with these valid bits. */
static struct msg_device_balloon_stats wait_stats(uint32_t valid)
{
	struct msg_device_balloon_stats s = get_stats();

	for (int i = 0; i < HARNESS_TIMEOUT_MS && s.valid != valid; i++) {
		usleep(1000);
		s = get_stats();
	}
	cr_assert_eq(s.valid, valid, "valid 0x%x, expected 0x%x", s.valid, valid);
	return s;
}

Test(balloon_harness, stats_kept_and_buffer_returned_each_interval)
{
	static const uint16_t tags[] = {4, 5, 0, 42};
	static const uint64_t vals[] = {123456789, 987654321, 7, 5};
	static const uint16_t tags2[] = {6};
	static const uint64_t vals2[] = {555};
	struct msg_device_balloon_stats s;
	struct harness_buf b;
	struct harness_used u;
	int64_t t0;
	int head;

	start_all();
	b = stats_buf(tags, vals, 4);
	t0 = now_ms();
	head = harness_submit(&h, Q_STATS, &b, 1, false);
	cr_assert_geq(head, 0);
	s = wait_stats(1u << 0 | 1u << 4 | 1u << 5);
	cr_assert_eq(s.stats[4], 123456789);
	cr_assert_eq(s.stats[5], 987654321);
	cr_assert_eq(s.stats[0], 7);
	cr_assert_eq(s.stats[1], 0);
	cr_assert_eq(s.actual, 0);
	/* held until the interval (1 s) is over, then given back with nothing written */
	if (now_ms() - t0 < 800)
		cr_assert_eq(harness_poll_used(&h, Q_STATS, &u), 0,
			     "stats buffer returned at once");
	cr_assert_eq(harness_wait_used(&h, Q_STATS, &u, 3000), 0);
	cr_assert_eq(u.id, (uint32_t)head);
	cr_assert_eq(u.len, 0);
	cr_assert_geq(now_ms() - t0, 900, "returned after %lld ms", (long long)(now_ms() - t0));
	/* the interrupt follows the used entry: wait (bounded) for it */
	for (int i = 0; i < HARNESS_TIMEOUT_MS && harness_irqs(&h, Q_STATS) < 1; i++)
		usleep(1000);
	cr_assert_geq(harness_irqs(&h, Q_STATS), 1, "no interrupt for the stats buffer");
	/* the driver's next report replaces the last */
	b = stats_buf(tags2, vals2, 1);
	cr_assert_geq(harness_submit(&h, Q_STATS, &b, 1, false), 0);
	s = wait_stats(1u << 6);
	cr_assert_eq(s.stats[6], 555);
	cr_assert_eq(s.stats[4], 0);
	write_actual(9);
	cr_assert_eq(get_stats().actual, 9 * PAGE);
}

/* A second buffer while one is held: the first comes back at once. */
Test(balloon_harness, second_stats_buffer_returns_the_first)
{
	static const uint16_t tags[] = {4};
	static const uint64_t vals[] = {1}, vals2[] = {2};
	struct harness_buf b = {0};
	struct harness_used u;
	int first;

	start_all();
	b = stats_buf(tags, vals, 1);
	first = harness_submit(&h, Q_STATS, &b, 1, false);
	wait_stats(1u << 4);
	b = stats_buf(tags, vals2, 1);
	cr_assert_geq(harness_submit(&h, Q_STATS, &b, 1, false), 0);
	cr_assert_eq(harness_wait_used(&h, Q_STATS, &u, 500), 0);
	cr_assert_eq(u.id, (uint32_t)first);
	cr_assert_eq(get_stats().stats[4], 2);
}

/* Asleep, the held buffer stays held past its interval; WAKE lets it go. */
Test(balloon_harness, stats_buffer_waits_while_asleep)
{
	static const uint16_t tags[] = {4};
	static const uint64_t vals[] = {1};
	struct device_request q = {.hdr.type = MSG_DEVICE_SLEEP};
	struct device_response r;
	struct harness_buf b;
	struct harness_used u;
	int64_t t0;

	start_all();
	b = stats_buf(tags, vals, 1);
	t0 = now_ms();
	cr_assert_geq(harness_submit(&h, Q_STATS, &b, 1, false), 0);
	wait_stats(1u << 4);
	cr_assert_eq(harness_call(&h, &q, NULL, 0, &r), 0);
	cr_assert_eq(harness_status(&r, 0), 0);
	if (now_ms() - t0 > 800)
		cr_skip_test("too slow to fall asleep before the stats interval ended");
	cr_assert_eq(harness_wait_used(&h, Q_STATS, &u, 1500), -ETIMEDOUT, "returned asleep");
	q.hdr.type = MSG_DEVICE_WAKE;
	cr_assert_eq(harness_call(&h, &q, NULL, 0, &r), 0);
	cr_assert_eq(harness_status(&r, 0), 0);
	cr_assert_eq(harness_wait_used(&h, Q_STATS, &u, HARNESS_TIMEOUT_MS), 0);
}

Test(balloon_harness, reset_empties_the_balloon_keeps_the_target)
{
	start_all();
	cr_assert_eq(set_target(10 * PAGE), 0);
	write_actual(5);
	cr_assert_eq(harness_reset(&h), 0);
	cr_assert_eq(config_u32(CFG_ACTUAL), 0);
	cr_assert_eq(config_u32(CFG_NUM_PAGES), 10);
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
	write_actual(10);
	cr_assert_eq(harness_wait_count(&h, &h.target_reached, 1, HARNESS_TIMEOUT_MS), 0);
}

Test(balloon_harness, other_commands_refused)
{
	struct device_response r;

	start_all();
	cr_assert_eq(command(MSG_DEVICE_CMD_RESIZE, 4096, &r), -EOPNOTSUPP);
	cr_assert(harness_alive(&h));
}

/* ---- malformed buffers: NEEDS_RESET, the device stays up, RESET brings it back ---- */

static void expect_broken(unsigned int qi)
{
	static const uint32_t pfns[] = {PFN_BASE};
	struct harness_used u;

	cr_assert_eq(harness_wait_needs_reset(&h, 1, HARNESS_TIMEOUT_MS), 0, "no NEEDS_RESET");
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.needs_reset_queue, qi);
	pthread_mutex_unlock(&h.lock);
	cr_assert_eq(harness_poll_used(&h, qi, &u), 0, "a malformed buffer was given back");
	cr_assert(harness_alive(&h));
	cr_assert_eq(harness_reset(&h), 0);
	cr_assert_eq(harness_activate(&h, h.info.features), 0);
	give_pfns(Q_INFLATE, pfns, 1);
}

Test(balloon_harness, odd_length_breaks)
{
	static const uint32_t pfns[] = {PFN_BASE, PFN_BASE + 1};
	struct harness_buf b;

	start_all();
	b = pfn_buf(pfns, 2);
	b.len = 6;
	cr_assert_geq(harness_submit(&h, Q_INFLATE, &b, 1, false), 0);
	expect_broken(Q_INFLATE);
}

Test(balloon_harness, pfn_beyond_ram_breaks)
{
	/* 64 MiB of RAM: PFN 0x4000 is the first page past it */
	static const uint32_t pfns[] = {PFN_BASE, 0x4000};
	static const uint32_t far[] = {0xffffffffu};
	struct harness_buf b;

	start_all();
	b = pfn_buf(pfns, 2);
	cr_assert_geq(harness_submit(&h, Q_DEFLATE, &b, 1, false), 0);
	expect_broken(Q_DEFLATE);
	b = pfn_buf(far, 1);
	cr_assert_geq(harness_submit(&h, Q_INFLATE, &b, 1, false), 0);
	cr_assert_eq(harness_wait_needs_reset(&h, 2, HARNESS_TIMEOUT_MS), 0);
	cr_assert(harness_alive(&h));
}

Test(balloon_harness, writable_descriptor_breaks)
{
	static const uint32_t pfns[] = {PFN_BASE};
	struct harness_buf b;

	start_all();
	b = pfn_buf(pfns, 1);
	b.write = true;
	cr_assert_geq(harness_submit(&h, Q_DEFLATE, &b, 1, false), 0);
	expect_broken(Q_DEFLATE);
}

Test(balloon_harness, malformed_stats_buffer_breaks)
{
	static const uint16_t tags[] = {4, 5};
	static const uint64_t vals[] = {1, 2};
	struct harness_buf b;

	start_all();
	b = stats_buf(tags, vals, 2);
	b.len = 15;
	cr_assert_geq(harness_submit(&h, Q_STATS, &b, 1, false), 0);
	expect_broken(Q_STATS);
	/* and a device-writable one */
	b = stats_buf(tags, vals, 2);
	b.write = true;
	cr_assert_geq(harness_submit(&h, Q_STATS, &b, 1, false), 0);
	cr_assert_eq(harness_wait_needs_reset(&h, 2, HARNESS_TIMEOUT_MS), 0);
	cr_assert(harness_alive(&h));
}

/* A descriptor chained to itself: the chain is longer than the queue. */
Test(balloon_harness, endless_chain_breaks)
{
	uint64_t gpa;

	start_all();
	gpa = harness_alloc(&h, PAGE);
	harness_put_desc(&h, Q_INFLATE, 0, gpa, 4, VIRTQ_DESC_F_NEXT, 0);
	harness_put_avail(&h, Q_INFLATE, 0);
	harness_notify(&h, Q_INFLATE);
	cr_assert_eq(harness_wait_needs_reset(&h, 1, HARNESS_TIMEOUT_MS), 0);
	cr_assert(harness_alive(&h));
	cr_assert_eq(harness_reset(&h), 0);
}

/* Too many PFNs in one buffer (more than 16384) is refused as malformed. */
Test(balloon_harness, oversized_buffer_breaks)
{
	struct harness_buf b;

	start_all();
	b.gpa = harness_alloc(&h, 65540);
	b.len = 65540;
	b.write = false;
	cr_assert_geq(harness_submit(&h, Q_INFLATE, &b, 1, false), 0);
	expect_broken(Q_INFLATE);
	pthread_mutex_lock(&h.lock);
	cr_assert_eq(h.free_requests, 1, "only the good buffer after the reset was freed");
	pthread_mutex_unlock(&h.lock);
}
