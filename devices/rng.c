/*
 * virtio-rng (virtio 1.2, 5.4): one queue of device-writable buffers, filled from the
 * /dev/urandom fd main opened for us. No config space, no features.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vdev.h"

#define RNG_VIRTIO_TYPE 4
#define RNG_QUEUE_SIZE 256
/* A request is served up to this many bytes, so one guest cannot keep the device busy. */
#define RNG_MAX_PER_REQUEST 65536u

static int rng_init(struct vdev *d, int argc, char **argv)
{
	struct stat st;

	(void)argv;
	if (argc > 0) {
		log_err("rng takes no options");
		return -EINVAL;
	}
	if (d->backend_fd < 0 || fstat(d->backend_fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		log_err("rng needs an entropy source (a character device) at fd %d", VDEV_FD_BACKEND);
		return -EBADF;
	}
	return 0;
}

/* Fills the chain's writable segments; returns the bytes written. */
static uint32_t rng_fill(struct vdev *d, const struct virtq_chain *c)
{
	uint32_t total = 0;

	for (unsigned int i = c->nread; i < c->nseg && total < RNG_MAX_PER_REQUEST; i++) {
		const struct virtq_seg *s = &c->seg[i];
		uint32_t want = s->len < RNG_MAX_PER_REQUEST - total ? s->len
								     : RNG_MAX_PER_REQUEST - total;
		ssize_t n;

		do
			n = read(d->backend_fd, s->ptr, want);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			log_warn_errno("reading the entropy source");
			break;
		}
		total += (uint32_t)n;
		if ((uint32_t)n < want)
			break;
	}
	return total;
}

static void rng_notify(struct vdev *d, unsigned int qi)
{
	struct virtq *q = &d->q[qi];
	int r;

	do {
		virtq_disable_notify(q);
		while ((r = virtq_pop(q, d->chain)) > 0)
			virtq_push(q, d->chain->head, rng_fill(d, d->chain));
		if (r < 0) {
			vdev_broken(d, qi);
			return;
		}
	} while (virtq_enable_notify(q));
	vdev_interrupt(d, qi);
}

const struct vdev_ops rng_ops = {
	.name = "rng",
	.virtio_type = RNG_VIRTIO_TYPE,
	.nqueues = 1,
	.queue_max = RNG_QUEUE_SIZE,
	.init = rng_init,
	.notify = rng_notify,
};
