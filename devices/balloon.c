/*
 * virtio-balloon (virtio 1.2, 5.5): the host sets a target (num_pages, by MSG_DEVICE_COMMAND
 * BALLOON_TARGET), the guest driver inflates towards it by giving pages back (inflateq) and
 * deflates by taking them again (deflateq), and reports its progress in `actual`. Given pages
 * go to main as DynamicallyFreeMemoryRanges, which punches them out of guest memory; taken ones
 * as DynamicallyReclaimMemoryRanges. With --stats-interval the driver's memory statistics
 * arrive on statsq: its one buffer is held and given back every interval so that the driver
 * refills it. No backend.
 *
 * A buffer the device cannot take (an odd length, a device-writable part, a page outside guest
 * RAM) breaks the device (DEVICE_NEEDS_RESET); main refusing a range is only logged: the pages
 * stay the guest's.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "msg_vm_memory.h"
#include "util.h"
#include "vdev.h"

#define BALLOON_VIRTIO_TYPE 5
#define BALLOON_QUEUE_SIZE 128

/* Feature bits (5.5.3). */
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2

enum { BALLOON_Q_INFLATE, BALLOON_Q_DEFLATE, BALLOON_Q_STATS, BALLOON_NQUEUES };

/* struct virtio_balloon_config up to actual (5.5.4): the hinting and poison fields are not
 * offered. */
#define BALLOON_CFG_NUM_PAGES 0 /* le32, the target; the host's */
#define BALLOON_CFG_ACTUAL 4	/* le32, the balloon's size; the driver's */
#define BALLOON_CONFIG_SIZE 8

/* The balloon's page, whatever the guest's (5.5.6): PFNs count 4 KiB. */
#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGE_SIZE (1u << BALLOON_PAGE_SHIFT)
/*
 * PFNs one inflate or deflate buffer may hold: 64 MiB of guest memory (Linux sends 256). The
 * spec sets no bound; this one keeps a single buffer from occupying main's mem tube server.
 */
#define BALLOON_PFNS_MAX 16384u
/* PFNs read from guest memory at once. */
#define BALLOON_PFN_CHUNK 256u

/* struct virtio_balloon_stat (5.5.6.3): le16 tag, le64 val, packed. */
#define BALLOON_STAT_SIZE 10u
/* Entries read from one stats buffer; later ones (and unknown tags) are ignored. */
#define BALLOON_STATS_ENTRIES_MAX 64u
#define BALLOON_STATS_INTERVAL_MAX 86400u /* seconds */

/* Warnings the guest can cause: at most this many per second. */
#define BALLOON_LOG_PER_SEC 5

struct balloon {
	unsigned int stats_interval; /* seconds; 0: STATS_VQ not offered */
	bool deflate_on_oom;
	uint32_t num_pages; /* the target */
	uint32_t actual;    /* the driver's last word */
	bool reported;	    /* BalloonTargetReached sent (or due) for this target */
	bool reached_due;   /* ... due at the next tick, after main has its answer */
	bool stats_held;    /* the driver's stats buffer, given back at stats_due_ms */
	uint16_t stats_head;
	int64_t stats_due_ms;
	uint32_t stats_valid; /* bit n: stats[n] came in the last buffer */
	uint64_t stats[MSG_DEVICE_BALLOON_NSTATS];
	time_t log_sec;
	unsigned int log_count;
	struct vm_memory_request req; /* ranges being gathered for main */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool may_log(struct balloon *b)
{
	time_t sec = (time_t)(now_ms() / 1000);

	if (sec != b->log_sec) {
		b->log_sec = sec;
		b->log_count = 0;
	}
	return b->log_count++ < BALLOON_LOG_PER_SEC;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static int parse_interval(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > BALLOON_STATS_INTERVAL_MAX) {
		log_err("balloon: --stats-interval takes 0 to %u seconds, not '%s'",
			BALLOON_STATS_INTERVAL_MAX, s);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

/* --deflate-on-oom, --stats-interval SECONDS (or =SECONDS). */
static int parse_options(struct balloon *b, int argc, char **argv)
{
	static const char interval_eq[] = "--stats-interval=";
	int ret = 0;

	for (int i = 0; i < argc && ret == 0; i++) {
		if (strcmp(argv[i], "--deflate-on-oom") == 0)
			b->deflate_on_oom = true;
		else if (strcmp(argv[i], "--stats-interval") == 0 && i + 1 < argc)
			ret = parse_interval(argv[++i], &b->stats_interval);
		else if (strncmp(argv[i], interval_eq, sizeof(interval_eq) - 1) == 0)
			ret = parse_interval(argv[i] + sizeof(interval_eq) - 1, &b->stats_interval);
		else {
			log_err("balloon: bad option '%s' (takes --deflate-on-oom, "
				"--stats-interval SECONDS)",
				argv[i]);
			ret = -EINVAL;
		}
	}
	return ret;
}

static int balloon_init(struct vdev *d, int argc, char **argv)
{
	struct balloon *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	d->priv = b; /* freed by balloon_destroy(), on failure too */
	b->reported = true; /* no target asked yet */
	ret = parse_options(b, argc, argv);
	if (ret)
		return ret;
	if (b->deflate_on_oom)
		d->features |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->stats_interval)
		d->features |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	return 0;
}

static void balloon_destroy(struct vdev *d)
{
	free(d->priv);
	d->priv = NULL;
}

/* Device reset: the driver starts over with an empty balloon; the host's target stays. */
static void balloon_reset(struct vdev *d)
{
	struct balloon *b = d->priv;

	b->actual = 0;
	put32(d->config + BALLOON_CFG_ACTUAL, 0);
	b->stats_held = false;
}

/* A new target, or a new `actual`: BalloonTargetReached once per target, after the answer. */
static void check_reached(struct balloon *b)
{
	if (!b->reported && b->actual == b->num_pages) {
		b->reported = true;
		b->reached_due = true;
	}
}

/* Only `actual` is the driver's to write (5.5.4), and only whole. */
static int balloon_config_write(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
	struct balloon *b = d->priv;
	uint32_t v;

	if (off != BALLOON_CFG_ACTUAL || len != sizeof(v))
		return -EINVAL;
	memcpy(&v, buf, sizeof(v));
	b->actual = le32toh(v);
	memcpy(d->config + BALLOON_CFG_ACTUAL, &v, sizeof(v));
	check_reached(b);
	return 0;
}

/* ---- inflate and deflate ---- */

/* Sends the ranges gathered so far (none: nothing to do). Main's refusal is only logged. */
static void flush_ranges(struct vdev *d, struct balloon *b)
{
	struct vm_memory_request *m = &b->req;
	int ret;

	if (m->ranges.nranges == 0)
		return;
	ret = vdev_mem_call(d, m);
	if (ret < 0 && may_log(b))
		log_warn("balloon: main did not %s %u ranges from 0x%llx: %s",
			 m->hdr.type == MSG_VM_MEMORY_FREE_RANGES ? "free" : "reclaim",
			 m->ranges.nranges, (unsigned long long)m->ranges.ranges[0].gpa,
			 strerror(-ret));
	/* The codec wants the unused ranges zero. */
	memset(&m->ranges, 0, sizeof(m->ranges));
}

/* Adds one page, merged into the last range when it follows it inside the same RAM region. */
static void add_page(struct vdev *d, struct balloon *b, uint64_t gpa)
{
	struct msg_vm_memory_ranges *r = &b->req.ranges;
	struct msg_vm_memory_range *last = r->nranges ? &r->ranges[r->nranges - 1] : NULL;

	if (last && last->gpa + last->len == gpa &&
	    gmem_ptr(&d->mem, last->gpa, last->len + BALLOON_PAGE_SIZE)) {
		last->len += BALLOON_PAGE_SIZE;
		return;
	}
	if (r->nranges == MSG_VM_MEMORY_MAX_RANGES)
		flush_ranges(d, b);
	r->ranges[r->nranges++] =
	    (struct msg_vm_memory_range){.gpa = gpa, .len = BALLOON_PAGE_SIZE};
}

/*
 * One inflate or deflate buffer: le32 PFNs, all device-readable. Each PFN is read once, checked
 * and gathered; ranges go to main as type (FREE_RANGES or RECLAIM_RANGES), up to 64 a message.
 * A malformed buffer stops where it is found: -EINVAL, the caller breaks the queue.
 */
static int balloon_pages(struct vdev *d, struct balloon *b, const struct virtq_chain *c,
			 uint32_t type)
{
	uint32_t pfn[BALLOON_PFN_CHUNK];
	uint32_t n = c->read_len / sizeof(pfn[0]);

	if (c->nread != c->nseg || c->read_len % sizeof(pfn[0]) || n > BALLOON_PFNS_MAX) {
		if (may_log(b))
			log_warn("balloon: a buffer of %u readable and %u writable bytes is not a "
				 "list of PFNs",
				 c->read_len, c->write_len);
		return -EINVAL;
	}
	memset(&b->req, 0, sizeof(b->req));
	b->req.hdr.type = type;
	for (uint32_t done = 0; done < n;) {
		uint32_t k = MIN(n - done, BALLOON_PFN_CHUNK);

		virtq_chain_read(c, (size_t)done * sizeof(pfn[0]), pfn, k * sizeof(pfn[0]));
		for (uint32_t i = 0; i < k; i++) {
			uint64_t gpa = (uint64_t)le32toh(pfn[i]) << BALLOON_PAGE_SHIFT;

			if (!gmem_ptr(&d->mem, gpa, BALLOON_PAGE_SIZE)) {
				if (may_log(b))
					log_warn("balloon: PFN 0x%x is not guest RAM",
						 le32toh(pfn[i]));
				flush_ranges(d, b); /* what came before was the guest's to give */
				return -EINVAL;
			}
			add_page(d, b, gpa);
		}
		done += k;
	}
	flush_ranges(d, b);
	return 0;
}

/* ---- statistics ---- */

/* The driver's stats buffer (5.5.6.3): replaces the last report. -EINVAL when malformed. */
static int take_stats(struct balloon *b, const struct virtq_chain *c)
{
	uint8_t raw[BALLOON_STATS_ENTRIES_MAX * BALLOON_STAT_SIZE];
	uint32_t n = MIN(c->read_len / BALLOON_STAT_SIZE, BALLOON_STATS_ENTRIES_MAX);

	if (c->nread != c->nseg || c->read_len % BALLOON_STAT_SIZE) {
		if (may_log(b))
			log_warn("balloon: a stats buffer of %u readable and %u writable bytes",
				 c->read_len, c->write_len);
		return -EINVAL;
	}
	virtq_chain_read(c, 0, raw, (size_t)n * BALLOON_STAT_SIZE);
	b->stats_valid = 0;
	memset(b->stats, 0, sizeof(b->stats));
	for (uint32_t i = 0; i < n; i++) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, raw + i * BALLOON_STAT_SIZE, sizeof(tag));
		memcpy(&val, raw + i * BALLOON_STAT_SIZE + sizeof(tag), sizeof(val));
		tag = le16toh(tag);
		if (tag >= MSG_DEVICE_BALLOON_NSTATS)
			continue; /* a tag newer than this device */
		b->stats[tag] = le64toh(val);
		b->stats_valid |= 1u << tag;
	}
	return 0;
}

/* Gives the held stats buffer back: the driver refills it and queues it again. */
static void return_stats(struct vdev *d, struct balloon *b)
{
	virtq_push(&d->q[BALLOON_Q_STATS], b->stats_head, 0);
	b->stats_held = false;
}

static int serve_stats(struct vdev *d, struct balloon *b, const struct virtq_chain *c)
{
	int ret = take_stats(b, c);

	if (ret)
		return ret;
	/* One buffer at a time (5.5.6.3); a driver that queues another gets the first back. */
	if (b->stats_held)
		return_stats(d, b);
	b->stats_held = true;
	b->stats_head = c->head;
	b->stats_due_ms = now_ms() + (int64_t)b->stats_interval * 1000;
	return 0;
}

/* One chain of queue qi: 0, or -EINVAL for a malformed one. */
static int serve_chain(struct vdev *d, unsigned int qi, const struct virtq_chain *c)
{
	struct balloon *b = d->priv;
	int ret;

	if (qi == BALLOON_Q_STATS)
		return serve_stats(d, b, c);
	ret = balloon_pages(d, b, c,
			    qi == BALLOON_Q_INFLATE ? MSG_VM_MEMORY_FREE_RANGES
						    : MSG_VM_MEMORY_RECLAIM_RANGES);
	if (ret == 0)
		virtq_push(&d->q[qi], c->head, 0);
	return ret;
}

static void balloon_notify(struct vdev *d, unsigned int qi)
{
	struct virtq *q = &d->q[qi];
	int r;

	/* Without STATS_VQ the third queue is not the stats queue: nothing to serve there. */
	if (qi == BALLOON_Q_STATS && !(d->acked & (1ULL << VIRTIO_BALLOON_F_STATS_VQ)))
		return;
	do {
		virtq_disable_notify(q);
		while ((r = virtq_pop(q, d->chain)) > 0) {
			if (serve_chain(d, qi, d->chain) < 0) {
				r = -EINVAL;
				break;
			}
		}
		if (r < 0) {
			vdev_broken(d, qi);
			return;
		}
	} while (virtq_enable_notify(q));
	vdev_interrupt(d, qi);
}

/* ---- the host's side ---- */

static void set_target(struct vdev *d, uint64_t bytes, struct device_response *r)
{
	struct balloon *b = d->priv;
	uint64_t pages = bytes >> BALLOON_PAGE_SHIFT;

	if (bytes % BALLOON_PAGE_SIZE || pages > UINT32_MAX) {
		msg_device_status(r, -EINVAL);
		return;
	}
	b->num_pages = (uint32_t)pages;
	put32(d->config + BALLOON_CFG_NUM_PAGES, b->num_pages);
	b->reported = false;
	check_reached(b); /* already there: the driver will not write `actual` again */
	vdev_config_changed(d);
	msg_device_status(r, 0);
}

static void answer_stats(struct vdev *d, struct device_response *r)
{
	struct balloon *b = d->priv;

	memset(r, 0, sizeof(*r));
	r->hdr.type = MSG_DEVICE_BALLOON_STATS;
	r->balloon_stats.actual = (uint64_t)b->actual << BALLOON_PAGE_SHIFT;
	r->balloon_stats.valid = b->stats_valid;
	memcpy(r->balloon_stats.stats, b->stats, sizeof(b->stats));
}

static void balloon_command(struct vdev *d, const struct msg_device_command *c,
			    struct device_response *r)
{
	if (c->op == MSG_DEVICE_CMD_BALLOON_TARGET)
		set_target(d, c->arg, r);
	else if (c->op == MSG_DEVICE_CMD_BALLOON_STATS)
		answer_stats(d, r);
	else
		msg_device_status(r, -EOPNOTSUPP);
}

/* The notice for main, then the stats buffer when its interval is over. */
static int balloon_tick(struct vdev *d)
{
	struct balloon *b = d->priv;
	struct vm_memory_request m = {.hdr.type = MSG_VM_MEMORY_BALLOON_TARGET_REACHED};
	int64_t left;
	int ret;

	if (b->reached_due) {
		b->reached_due = false;
		m.balloon.bytes = (uint64_t)b->num_pages << BALLOON_PAGE_SHIFT;
		ret = vdev_mem_call(d, &m);
		if (ret < 0)
			log_warn("balloon: cannot tell main that the target is reached: %s",
				 strerror(-ret));
	}
	/* Asleep or broken: the queue is not touched; WAKE or RESET comes through the loop. */
	if (!b->stats_held || !d->active || d->broken || d->sleeping)
		return -1;
	left = b->stats_due_ms - now_ms();
	if (left > 0)
		return (int)MIN(left, (int64_t)INT_MAX);
	return_stats(d, b);
	vdev_interrupt(d, BALLOON_Q_STATS);
	return -1;
}

const struct vdev_ops balloon_ops = {
	.name = "balloon",
	.virtio_type = BALLOON_VIRTIO_TYPE,
	.nqueues = BALLOON_NQUEUES,
	.queue_max = BALLOON_QUEUE_SIZE,
	.config_size = BALLOON_CONFIG_SIZE,
	.init = balloon_init,
	.config_write = balloon_config_write,
	.reset = balloon_reset,
	.notify = balloon_notify,
	.destroy = balloon_destroy,
	.command = balloon_command,
	.tick = balloon_tick,
};
