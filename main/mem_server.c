/*
 * Serves every device's mem tube (device asks, main answers) from one thread. Main trusts no
 * device: each request is checked against what that device owns before anything is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device_host.h"
#include "layout.h"
#include "log.h"
#include "msg_vm_memory.h"
#include "util.h"

#define EV_STOP UINT32_MAX

/* Every byte of [gpa, gpa + len) is guest RAM. */
static bool in_ram(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(m, gpa, len) != NULL;
}

/* Free: the pages go back to the host (the balloon inflated over them). */
static int free_ranges(struct hosted_device *d, const struct msg_vm_memory_ranges *r, bool free)
{
	const struct guest_mem *m = d->host->mem;

	for (uint32_t i = 0; i < r->nranges; i++)
		if (!in_ram(m, r->ranges[i].gpa, r->ranges[i].len)) {
			log_warn("%s: range 0x%llx+0x%llx is not guest RAM; refused", d->name,
				 (unsigned long long)r->ranges[i].gpa,
				 (unsigned long long)r->ranges[i].len);
			return -EPERM;
		}
	if (!free)
		return 0; /* reclaimed pages fault back in, zeroed, on the guest's next touch */
	for (uint32_t i = 0; i < r->nranges; i++) {
		uint8_t *p = guest_mem_ptr(m, r->ranges[i].gpa, r->ranges[i].len);
		off_t off = (off_t)(p - m->host);

		if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      (off_t)r->ranges[i].len) < 0)
			return -errno;
	}
	return 0;
}

/* An ioeventfd only at one of the device's own notify slots, without datamatch. */
static int ioevent(struct hosted_device *d, const struct msg_vm_memory_ioevent *e, int fd)
{
	for (unsigned int q = 0; q < d->info.nqueues; q++) {
		if (e->addr != virtio_pci_notify_addr(&d->vp, q))
			continue;
		if (e->has_datamatch)
			return -EOPNOTSUPP;
		return irq_router_ioeventfd(d->host->router, fd, e->addr, e->len, e->assign);
	}
	log_warn("%s: ioevent at 0x%llx is not one of its notify addresses; refused", d->name,
		 (unsigned long long)e->addr);
	return -EPERM;
}

static int handle(struct hosted_device *d, const struct vm_memory_request *q, int fd)
{
	switch (q->hdr.type) {
	case MSG_VM_MEMORY_FREE_RANGES:
		return free_ranges(d, &q->ranges, true);
	case MSG_VM_MEMORY_RECLAIM_RANGES:
		return free_ranges(d, &q->ranges, false);
	case MSG_VM_MEMORY_BALLOON_TARGET_REACHED:
		log_info("%s: balloon at %llu MiB", d->name,
			 (unsigned long long)(q->balloon.bytes >> 20));
		return 0;
	case MSG_VM_MEMORY_IOEVENT_RAW:
		return ioevent(d, &q->ioevent, fd);
	case MSG_VM_MEMORY_NEEDS_RESET:
		return 0; /* acted on after the answer: see serve() */
	default:
		/* No device has a shared memory window yet: nothing to register into. */
		log_warn("%s: %s is not supported", d->name, msg_vm_memory_name(q->hdr.type));
		return -EOPNOTSUPP;
	}
}

/* Returns -EPIPE when the device's end is gone. */
static int serve(struct hosted_device *d)
{
	uint8_t in[MSG_MAX_SIZE], out[MSG_MAX_SIZE];
	struct vm_memory_request q;
	struct vm_memory_response r;
	int fds[TUBE_MAX_FDS];
	unsigned int nfds = 0;
	size_t len;
	int ret;

	ret = tube_recv(&d->mem, in, sizeof(in), &len, fds, TUBE_MAX_FDS, &nfds, 0);
	if (ret == -ETIMEDOUT || ret == -EAGAIN)
		return 0;
	if (ret == -EPIPE)
		return ret; /* the device died: device_host_reap() reports it */
	if (ret == 0)
		ret = msg_vm_memory_decode_request(in, len, nfds, &q);
	if (ret == 0)
		ret = handle(d, &q, nfds ? fds[0] : -1);
	else
		log_warn("%s: bad mem tube request: %s", d->name, strerror(-ret));
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	memset(&r, 0, sizeof(r));
	msg_vm_memory_status(&r, ret);
	if (msg_vm_memory_encode_response(&r, 0, out, sizeof(out), &len) == 0)
		tube_send(&d->mem, out, len, NULL, 0);
	/* After the answer, so the device is free to answer main while main takes the lock. */
	if (ret == 0 && q.hdr.type == MSG_VM_MEMORY_NEEDS_RESET) {
		log_warn("%s: the guest broke queue %u; the device needs a reset", d->name,
			 q.needs_reset.queue);
		virtio_pci_set_needs_reset(&d->vp);
	}
	return 0;
}

static void *mem_thread(void *arg)
{
	struct device_host *h = arg;

	pthread_setname_np(pthread_self(), "vmm-mem");
	for (;;) {
		struct epoll_event ev[8];
		int n = epoll_wait(h->mem_epfd, ev, (int)ARRAY_SIZE(ev), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err_errno("mem server epoll_wait");
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct hosted_device *d;

			if (ev[i].data.u32 == EV_STOP)
				return NULL;
			d = h->devs[ev[i].data.u32];
			if (serve(d) == -EPIPE)
				epoll_ctl(h->mem_epfd, EPOLL_CTL_DEL, d->mem.fd, NULL);
		}
	}
}

int mem_server_start(struct device_host *h)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_STOP};
	int ret;

	h->mem_epfd = epoll_create1(EPOLL_CLOEXEC);
	h->mem_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->mem_epfd < 0 || h->mem_stop_fd < 0 ||
	    epoll_ctl(h->mem_epfd, EPOLL_CTL_ADD, h->mem_stop_fd, &ev) < 0)
		goto err;
	for (unsigned int i = 0; i < h->ndevs; i++) {
		ev.data.u32 = i;
		if (epoll_ctl(h->mem_epfd, EPOLL_CTL_ADD, h->devs[i]->mem.fd, &ev) < 0)
			goto err;
	}
	ret = pthread_create(&h->mem_thread, NULL, mem_thread, h);
	if (ret) {
		errno = ret;
		goto err;
	}
	h->mem_thread_started = true;
	return 0;
err:
	ret = -errno;
	log_err_errno("starting the mem tube server");
	close_fd(&h->mem_epfd);
	close_fd(&h->mem_stop_fd);
	return ret;
}

void mem_server_stop(struct device_host *h)
{
	uint64_t one = 1;

	if (h->mem_thread_started) {
		if (write(h->mem_stop_fd, &one, sizeof(one)) < 0)
			log_warn_errno("stopping the mem tube server");
		pthread_join(h->mem_thread, NULL);
		h->mem_thread_started = false;
	}
	close_fd(&h->mem_epfd);
	close_fd(&h->mem_stop_fd);
}
