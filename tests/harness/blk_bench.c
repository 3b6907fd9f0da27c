/*
 * blk_bench: drives a vmm-device block device through the harness, for tests/bench/blk.sh. Not a
 * test: it prints numbers.
 *
 *   blk_bench io IMAGE randread|read|write BS QD SECONDS
 *       BS-byte requests at queue depth QD for SECONDS on IMAGE (random or sequential, wrapping).
 *       Prints "iops=N mibps=N errors=N".
 *   blk_bench spawn IMAGE COUNT
 *       COUNT devices spawned one after another: spawn -> HELLO answered, and the device's
 *       memory from /proc/PID/smaps_rollup after HELLO and after 1000 reads.
 *       Prints "hello_us_median=N hello_us_min=N pss_kb=N private_kb=N rss_kb=N
 *       pss_active_kb=N private_active_kb=N".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_blk.h"
#include "virtq.h"

#define MAX_QD 256

struct slot {
	uint64_t req;
	uint64_t buf;
	int head;
};

struct io {
	struct harness *h;
	int rw; /* VIRTIO_BLK_T_IN or _OUT */
	bool random;
	uint32_t bs;
	uint64_t blocks; /* of bs in the image */
	uint64_t next;	 /* sequential cursor */
	uint64_t rng;	 /* xorshift state */
	struct slot slot[MAX_QD];
	unsigned int qd;
	uint64_t done, errors;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_block(struct io *io)
{
	if (!io->random)
		return io->next++ % io->blocks;
	io->rng ^= io->rng << 13;
	io->rng ^= io->rng >> 7;
	io->rng ^= io->rng << 17;
	return io->rng % io->blocks;
}

static int queue_slot(struct io *io, unsigned int i)
{
	uint64_t sector = next_block(io) * (io->bs / VIRTIO_BLK_SECTOR);

	io->slot[i].head = harness_blk_add(io->h, 0, io->slot[i].req, (uint32_t)io->rw, sector,
					   io->slot[i].buf, io->bs, false);
	return io->slot[i].head < 0 ? io->slot[i].head : 0;
}

/* Takes one completion back; refills its slot unless draining. */
static int complete(struct io *io, const struct harness_used *u, bool refill)
{
	for (unsigned int i = 0; i < io->qd; i++) {
		if (io->slot[i].head != (int)u->id)
			continue;
		if (harness_blk_status(io->h, io->slot[i].req) != VIRTIO_BLK_S_OK)
			io->errors++;
		io->done++;
		io->slot[i].head = -1;
		return refill ? queue_slot(io, i) : 0;
	}
	return -EPROTO;
}

static int run_io(struct io *io, double seconds)
{
	double end = now_s() + seconds;
	unsigned int inflight = io->qd;
	struct harness_used u;
	int ret;

	for (unsigned int i = 0; i < io->qd; i++)
		if ((ret = queue_slot(io, i)) < 0)
			return ret;
	harness_kick(io->h, 0);
	while (inflight) {
		bool refill = now_s() < end;

		ret = harness_wait_used(io->h, 0, &u, HARNESS_TIMEOUT_MS);
		if (ret < 0)
			return ret;
		/* take every completion there is, then one kick for all the refills */
		do {
			if ((ret = complete(io, &u, refill)) < 0)
				return ret;
			if (!refill)
				inflight--;
		} while ((ret = harness_poll_used(io->h, 0, &u)) == 1);
		if (ret < 0)
			return ret;
		if (refill)
			harness_kick(io->h, 0);
	}
	return 0;
}

static int start_block(struct harness *h, const char *image, int flags, uint64_t mem)
{
	struct harness_spec s = {.type = "block", .mem_size = mem};
	int fd = open(image, flags | O_CLOEXEC), ret;

	if (fd < 0) {
		fprintf(stderr, "blk_bench: %s: %s\n", image, strerror(errno));
		return -errno;
	}
	s.backend_fd = fd;
	ret = harness_start(h, &s);
	close(fd);
	if (ret < 0)
		fprintf(stderr, "blk_bench: block device did not start: %s\n", strerror(-ret));
	return ret;
}

static int cmd_io(const char *image, const char *mode, uint32_t bs, unsigned int qd, double seconds)
{
	static struct io io;
	struct harness h;
	struct stat st;
	double t0, t;
	int ret;

	if (stat(image, &st) < 0 || qd < 1 || qd > MAX_QD || bs < 512 || bs % 512)
		return -EINVAL;
	io = (struct io){.h = &h, .bs = bs, .qd = qd, .rng = 0x9e3779b97f4a7c15ULL};
	io.blocks = (uint64_t)st.st_size / bs;
	io.random = strcmp(mode, "randread") == 0;
	io.rw = strcmp(mode, "write") == 0 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	ret = start_block(&h, image, O_RDWR,
			  HARNESS_DATA_BASE + (uint64_t)qd * (bs + 4096) + (16ULL << 20));
	if (ret < 0)
		return ret;
	ret = harness_activate(&h, h.info.features);
	for (unsigned int i = 0; i < qd && ret == 0; i++) {
		io.slot[i].req = harness_blk_alloc_req(&h);
		io.slot[i].buf = harness_alloc(&h, bs);
		memset(harness_ptr(&h, io.slot[i].buf, bs), 0xa5, bs);
		io.slot[i].head = -1;
	}
	t0 = now_s();
	if (ret == 0)
		ret = run_io(&io, seconds);
	t = now_s() - t0;
	harness_stop(&h);
	if (ret < 0)
		return ret;
	printf("iops=%.0f mibps=%.1f errors=%llu\n", (double)io.done / t,
	       (double)io.done * bs / t / 1048576.0, (unsigned long long)io.errors);
	return io.errors ? -EIO : 0;
}

/* Pss, Private_Clean + Private_Dirty and Rss of pid, in kB. */
static int smaps(pid_t pid, long *pss, long *priv, long *rss)
{
	char path[64], line[256];
	FILE *f;
	long v;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	*pss = *priv = *rss = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Pss: %ld", &v) == 1)
			*pss = v;
		else if (sscanf(line, "Rss: %ld", &v) == 1)
			*rss = v;
		else if (sscanf(line, "Private_Clean: %ld", &v) == 1 ||
			 sscanf(line, "Private_Dirty: %ld", &v) == 1)
			*priv += v;
	}
	fclose(f);
	return 0;
}

/* 1000 4 KiB reads, so that the memory figure includes a working device. */
static int warm(struct harness *h)
{
	static struct io io;
	int ret = harness_activate(h, h->info.features);

	io = (struct io){.h = h,
			 .bs = 4096,
			 .qd = 8,
			 .random = true,
			 .rw = VIRTIO_BLK_T_IN,
			 .rng = 42,
			 .blocks = 1024};
	for (unsigned int i = 0; i < io.qd && ret == 0; i++) {
		io.slot[i].req = harness_blk_alloc_req(h);
		io.slot[i].buf = harness_alloc(h, 4096);
	}
	for (int round = 0; round < 125 && ret == 0; round++) {
		io.done = 0;
		ret = run_io(&io, 0);
	}
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmd_spawn(const char *image, int count)
{
	double us[64];
	long pss = 0, priv = 0, rss = 0, apss = 0, apriv = 0, arss = 0;
	int ret = 0;

	if (count < 1 || count > 64)
		return -EINVAL;
	for (int i = 0; i < count && ret == 0; i++) {
		struct harness h;
		double t0 = now_s();

		ret = start_block(&h, image, O_RDWR, 0);
		us[i] = (now_s() - t0) * 1e6;
		if (ret == 0 && i == count - 1) {
			ret = smaps(h.pid, &pss, &priv, &rss);
			if (ret == 0)
				ret = warm(&h);
			if (ret == 0)
				ret = smaps(h.pid, &apss, &apriv, &arss);
		}
		harness_stop(&h);
	}
	if (ret < 0)
		return ret;
	qsort(us, (size_t)count, sizeof(us[0]), cmp_double);
	printf("hello_us_median=%.0f hello_us_min=%.0f pss_kb=%ld private_kb=%ld rss_kb=%ld "
	       "pss_active_kb=%ld private_active_kb=%ld\n",
	       us[count / 2], us[0], pss, priv, rss, apss, apriv);
	(void)arss;
	return 0;
}

int main(int argc, char **argv)
{
	int ret = -EINVAL;

	if (argc == 7 && strcmp(argv[1], "io") == 0)
		ret = cmd_io(argv[2], argv[3], (uint32_t)strtoul(argv[4], NULL, 0),
			     (unsigned int)strtoul(argv[5], NULL, 0), strtod(argv[6], NULL));
	else if (argc == 4 && strcmp(argv[1], "spawn") == 0)
		ret = cmd_spawn(argv[2], atoi(argv[3]));
	else
		fprintf(stderr, "usage: blk_bench io IMAGE randread|read|write BS QD SECONDS\n"
				"       blk_bench spawn IMAGE COUNT\n");
	if (ret < 0 && ret != -EINVAL)
		fprintf(stderr, "blk_bench: %s\n", strerror(-ret));
	return ret < 0 ? 1 : 0;
}
