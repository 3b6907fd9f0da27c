/*
 * virtio-blk (virtio 1.2, 5.2): one request queue served on the disk image (a regular file or a
 * block device) main opened for us. Requests are checked by blk_req.c and done here with
 * preadv/pwritev/fdatasync/fallocate. A guest mistake in a request is answered with a status;
 * only a malformed ring (virtq_pop() -EIO) breaks the device. Main's COMMAND RESIZE (after it
 * resized the image) updates the capacity and raises the config interrupt.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "blk_req.h"
#include "log.h"
#include "util.h"
#include "vdev.h"

/* Guest-triggered warnings: at most this many per second. */
#define BLK_LOG_PER_SEC 5
/* The zero buffer the write-zeroes fallback repeats in its iovecs. */
#define BLK_ZERO_CHUNK 4096

#if VIRTQ_CHAIN_MAX > IOV_MAX
#define BLK_IOV_MAX IOV_MAX
#else
#define BLK_IOV_MAX VIRTQ_CHAIN_MAX
#endif

struct blk {
	struct blk_opts opts;
	uint64_t capacity; /* sectors */
	bool writethrough; /* FLUSH offered but not negotiated: complete writes only when stable */
	bool no_punch;	   /* the backend said EOPNOTSUPP: do not ask again */
	bool no_zero_range;
	time_t log_sec;
	unsigned int log_count;
	/* One chain's worth of iovecs (a chain has at most VIRTQ_CHAIN_MAX segments). */
	struct iovec iov[VIRTQ_CHAIN_MAX];
	uint8_t zero[BLK_ZERO_CHUNK];
};

/* A handler does the checked request r; sets *written (data bytes given to the guest). */
typedef uint8_t (*blk_handler)(struct blk *b, int fd, const struct virtq_chain *c,
			       const struct blk_req *r, uint32_t *written);

static bool may_log(struct blk *b)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != b->log_sec) {
		b->log_sec = now.tv_sec;
		b->log_count = 0;
	}
	return b->log_count++ < BLK_LOG_PER_SEC;
}

/* The backend's size in bytes: st_size, or BLKGETSIZE64 for a block device. */
static int backend_size(int fd, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*bytes = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, bytes) < 0 ? -errno : 0;
	return -EBADF;
}

/* The fd must allow what we offer: pwrite at an offset (no O_APPEND), guest buffers (no O_DIRECT,
 * their alignment is the guest's). */
static int check_backend_mode(int fd, bool read_only)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (fl & (O_APPEND | O_DIRECT | O_PATH)) {
		log_err("block: the image fd may not be O_APPEND, O_DIRECT or O_PATH");
		return -EINVAL;
	}
	if (!read_only && (fl & O_ACCMODE) != O_RDWR) {
		log_err("block: the image fd is not open for writing (use --read-only)");
		return -EBADF;
	}
	return 0;
}

static int blk_init(struct vdev *d, int argc, char **argv)
{
	struct blk *b;
	uint64_t bytes;
	int ret;

	if (d->backend_fd < 0) {
		log_err("block needs its disk image at fd %d", VDEV_FD_BACKEND);
		return -EBADF;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	d->priv = b; /* freed by blk_destroy(), on failure too */
	ret = blk_parse_options(argc, argv, &b->opts);
	if (!ret)
		ret = check_backend_mode(d->backend_fd, b->opts.read_only);
	if (!ret && (ret = backend_size(d->backend_fd, &bytes)) < 0)
		log_err("block: the image at fd %d is not a regular file or block device (%s)",
			VDEV_FD_BACKEND, strerror(-ret));
	if (!ret && (ret = blk_capacity(bytes, &b->capacity)) < 0)
		log_err("block: image size %llu is not a nonzero multiple of 512",
			(unsigned long long)bytes);
	if (ret)
		return ret;
	d->features = (d->features & ~BLK_FEATURES_RW) | blk_features(b->opts.read_only);
	blk_config_fill(d->config, b->capacity, b->opts.read_only);
	return 0;
}

static void blk_destroy(struct vdev *d)
{
	free(d->priv);
	d->priv = NULL;
}

static int blk_activate(struct vdev *d)
{
	struct blk *b = d->priv;

	/* 5.2.6.2: FLUSH offered, not negotiated (and no CONFIG_WCE): writes are stable once
	 * completed. */
	b->writethrough = !(d->acked & (1ULL << VIRTIO_BLK_F_FLUSH));
	return 0;
}

/* preadv/pwritev of all n iovecs at off, IOV_MAX at a time, resuming after partial transfers.
 * A read past the end of the file gives zeroes. 0 or -errno. */
static int rw_all(int fd, bool write, struct iovec *iov, unsigned int n, off_t off)
{
	while (n > 0) {
		int cnt = (int)MIN(n, (unsigned int)BLK_IOV_MAX);
		ssize_t r = write ? pwritev(fd, iov, cnt, off) : preadv(fd, iov, cnt, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 && write)
			return -EIO;
		if (r == 0) {
			for (unsigned int i = 0; i < n; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		off += r;
		blk_iov_advance(&iov, &n, (size_t)r);
	}
	return 0;
}

static int sync_data(int fd)
{
	int r;

	do
		r = fdatasync(fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* Host I/O failed: the guest gets IOERR, we log (rate-limited: the guest can repeat it). */
static uint8_t io_error(struct blk *b, const char *what, uint64_t sector, int err)
{
	if (may_log(b))
		log_warn("block: %s at sector %llu: %s", what, (unsigned long long)sector,
			 strerror(-err));
	return VIRTIO_BLK_S_IOERR;
}

/* After a write: with writethrough semantics it completes only once on the disk. */
static uint8_t written_back(struct blk *b, int fd, uint64_t sector)
{
	int ret = b->writethrough ? sync_data(fd) : 0;

	return ret < 0 ? io_error(b, "fdatasync", sector, ret) : VIRTIO_BLK_S_OK;
}

/* Moves r's data between the disk and bytes [off, off + data_len) of the segments seg[0..n). */
static int transfer(struct blk *b, int fd, bool write, const struct virtq_seg *seg, unsigned int n,
		    size_t off, const struct blk_req *r)
{
	int cnt = blk_iov_from_segs(b->iov, VIRTQ_CHAIN_MAX, seg, n, off, r->data_len);

	if (cnt < 0)
		return cnt;
	return rw_all(fd, write, b->iov, (unsigned int)cnt, (off_t)(r->sector * BLK_SECTOR_SIZE));
}

static uint8_t blk_in(struct blk *b, int fd, const struct virtq_chain *c, const struct blk_req *r,
		      uint32_t *written)
{
	/* The data is the writable part before the status byte. */
	int ret = transfer(b, fd, false, c->seg + c->nread, c->nseg - c->nread, 0, r);

	if (ret < 0)
		return io_error(b, "read", r->sector, ret);
	*written = r->data_len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_out(struct blk *b, int fd, const struct virtq_chain *c, const struct blk_req *r,
		       uint32_t *written)
{
	/* The data is the readable part after the header. */
	int ret = transfer(b, fd, true, c->seg, c->nread, BLK_HDR_SIZE, r);

	(void)written;
	if (ret < 0)
		return io_error(b, "write", r->sector, ret);
	return written_back(b, fd, r->sector);
}

static uint8_t blk_flush(struct blk *b, int fd, const struct virtq_chain *c,
			 const struct blk_req *r, uint32_t *written)
{
	int ret = b->opts.read_only ? 0 : sync_data(fd);

	(void)c;
	(void)r;
	(void)written;
	return ret < 0 ? io_error(b, "fdatasync", 0, ret) : VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(struct blk *b, int fd, const struct virtq_chain *c,
			  const struct blk_req *r, uint32_t *written)
{
	(void)fd;
	(void)r;
	*written = (uint32_t)virtq_chain_write(c, 0, b->opts.id, BLK_ID_BYTES);
	return VIRTIO_BLK_S_OK;
}

static int falloc(int fd, int mode, off_t off, off_t len)
{
	int r;

	do
		r = fallocate(fd, mode, off, len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* Writes len zero bytes at off, BLK_IOV_MAX * BLK_ZERO_CHUNK bytes per call. */
static int write_zeroes(struct blk *b, int fd, off_t off, uint64_t len)
{
	while (len > 0) {
		unsigned int n = 0;
		uint64_t chunk = 0;
		int ret;

		for (; n < BLK_IOV_MAX && chunk < len; n++) {
			b->iov[n].iov_base = b->zero;
			b->iov[n].iov_len = MIN(len - chunk, (uint64_t)BLK_ZERO_CHUNK);
			chunk += b->iov[n].iov_len;
		}
		ret = rw_all(fd, true, b->iov, n, off);
		if (ret < 0)
			return ret;
		off += (off_t)chunk;
		len -= chunk;
	}
	return 0;
}

static bool unsupported(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS;
}

/* Zeroes [off, off + len): a hole when unmap allows it, else ZERO_RANGE, else plain writes. */
static int zero_range(struct blk *b, int fd, off_t off, off_t len, bool unmap)
{
	int ret = -EOPNOTSUPP;

	if (unmap && !b->no_punch) {
		ret = falloc(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		b->no_punch = unsupported(ret);
	}
	if (unsupported(ret) && !b->no_zero_range) {
		ret = falloc(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
		b->no_zero_range = unsupported(ret);
	}
	if (unsupported(ret))
		ret = write_zeroes(b, fd, off, (uint64_t)len);
	return ret;
}

/* One range of a DISCARD (a hint: a backend without holes ignores it) or WRITE_ZEROES. */
static int dwz_one(struct blk *b, int fd, uint32_t type, const struct blk_dwz *s)
{
	off_t off = (off_t)(s->sector * BLK_SECTOR_SIZE);
	off_t len = (off_t)s->num_sectors * BLK_SECTOR_SIZE;
	int ret;

	if (len == 0)
		return 0;
	if (type == VIRTIO_BLK_T_WRITE_ZEROES)
		return zero_range(b, fd, off, len, s->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	if (b->no_punch)
		return 0;
	ret = falloc(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	b->no_punch = unsupported(ret);
	return b->no_punch ? 0 : ret;
}

static uint8_t blk_dwz(struct blk *b, int fd, const struct virtq_chain *c, const struct blk_req *r,
		       uint32_t *written)
{
	uint8_t raw[BLK_DWZ_SIZE], status;
	struct blk_dwz s;
	int ret;

	(void)written;
	for (uint32_t off = 0; off < r->data_len; off += BLK_DWZ_SIZE) {
		virtq_chain_read(c, BLK_HDR_SIZE + off, raw, sizeof(raw));
		status = blk_dwz_parse(&s, raw, r->type, b->capacity);
		if (status != VIRTIO_BLK_S_OK) {
			if (may_log(b))
				log_warn("block: bad range (sector %llu, %u sectors, flags 0x%x)",
					 (unsigned long long)s.sector, s.num_sectors, s.flags);
			return status;
		}
		ret = dwz_one(b, fd, r->type, &s);
		if (ret < 0)
			return io_error(b, r->type == VIRTIO_BLK_T_DISCARD ? "discard" : "zeroing",
					s.sector, ret);
	}
	return written_back(b, fd, 0);
}

static const struct {
	uint32_t type;
	blk_handler handler;
} handlers[] = {
	{VIRTIO_BLK_T_IN, blk_in},
	{VIRTIO_BLK_T_OUT, blk_out},
	{VIRTIO_BLK_T_FLUSH, blk_flush},
	{VIRTIO_BLK_T_GET_ID, blk_get_id},
	{VIRTIO_BLK_T_DISCARD, blk_dwz},
	{VIRTIO_BLK_T_WRITE_ZEROES, blk_dwz},
};

static uint8_t dispatch(struct blk *b, int fd, const struct virtq_chain *c, const struct blk_req *r,
			uint32_t *written)
{
	for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
		if (handlers[i].type == r->type)
			return handlers[i].handler(b, fd, c, r, written);
	return VIRTIO_BLK_S_UNSUPP; /* blk_req_parse() let an unknown type through: not reached */
}

/* Serves one request; returns the used length: data given to the guest plus the status byte. */
static uint32_t blk_serve(struct vdev *d, const struct virtq_chain *c)
{
	struct blk *b = d->priv;
	uint8_t hdr[BLK_HDR_SIZE] = {0}, status;
	uint32_t written = 0;
	struct blk_req r;

	if (c->write_len == 0) {
		if (may_log(b))
			log_warn("block: request without a status byte; returned unanswered");
		return 0;
	}
	virtq_chain_read(c, 0, hdr, sizeof(hdr));
	status = blk_req_parse(&r, hdr, c->read_len, c->write_len, b->capacity, b->opts.read_only);
	if (status == VIRTIO_BLK_S_OK)
		status = dispatch(b, d->backend_fd, c, &r, &written);
	else if (status == VIRTIO_BLK_S_IOERR && may_log(b))
		log_warn("block: bad request (type %u, sector %llu, %u+%u bytes)", r.type,
			 (unsigned long long)r.sector, c->read_len, c->write_len);
	/* The status is the last device-writable byte, wherever the segments split. */
	virtq_chain_write(c, c->write_len - 1, &status, 1);
	return status == VIRTIO_BLK_S_OK ? written + 1 : 1;
}

static void blk_notify(struct vdev *d, unsigned int qi)
{
	struct virtq *q = &d->q[qi];
	int r;

	do {
		virtq_disable_notify(q);
		while ((r = virtq_pop(q, d->chain)) > 0)
			virtq_push(q, d->chain->head, blk_serve(d, d->chain));
		if (r < 0) {
			vdev_broken(d, qi);
			return;
		}
	} while (virtq_enable_notify(q));
	vdev_interrupt(d, qi);
}

/*
 * MSG_DEVICE_CMD_RESIZE: main resized the image to bytes (grown, or shrunk when the operator
 * allowed it). The image must now hold exactly that (fstat, or BLKGETSIZE64): a size that
 * differs means main and the image disagree, and the guest must not see a capacity the image
 * does not back. A read-only disk is not resized. Requests after the answer see the new
 * capacity; the config interrupt tells the driver to read it.
 */
static int blk_resize(struct vdev *d, uint64_t bytes)
{
	struct blk *b = d->priv;
	uint64_t now, sectors;
	int ret;

	if (b->opts.read_only) {
		log_warn("block: a read-only disk is not resized");
		return -EINVAL;
	}
	ret = backend_size(d->backend_fd, &now);
	if (ret < 0)
		return ret;
	if (now != bytes || blk_capacity(bytes, &sectors) < 0) {
		log_warn("block: resize to %llu bytes refused: the image holds %llu",
			 (unsigned long long)bytes, (unsigned long long)now);
		return -EINVAL;
	}
	if (sectors != b->capacity)
		log_info("block: capacity %llu -> %llu sectors", (unsigned long long)b->capacity,
			 (unsigned long long)sectors);
	b->capacity = sectors;
	blk_config_fill(d->config, b->capacity, b->opts.read_only);
	vdev_config_changed(d);
	return 0;
}

static void blk_command(struct vdev *d, const struct msg_device_command *c,
			struct device_response *r)
{
	msg_device_status(r, c->op == MSG_DEVICE_CMD_RESIZE ? blk_resize(d, c->arg) : -EOPNOTSUPP);
}

const struct vdev_ops blk_ops = {
	.name = "block",
	.virtio_type = VIRTIO_BLK_TYPE,
	.nqueues = 1,
	.queue_max = BLK_QUEUE_SIZE,
	.features = BLK_FEATURES_RW, /* blk_init() swaps in BLK_FEATURES_RO for --read-only */
	.config_size = BLK_CONFIG_SIZE,
	.init = blk_init,
	.destroy = blk_destroy,
	.activate = blk_activate,
	.notify = blk_notify,
	.command = blk_command,
};
