/*
 * Serves every device's mem tube (device asks, main answers) from one thread. Main trusts no
 * device: each request is checked against what that device owns before anything is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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
	uint64_t released = 0;

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
		log_debug("%s: releasing guest RAM 0x%llx+0x%llx", d->name,
			  (unsigned long long)r->ranges[i].gpa, (unsigned long long)r->ranges[i].len);
		uint8_t *p = guest_mem_ptr(m, r->ranges[i].gpa, r->ranges[i].len);
		off_t off = (off_t)(p - m->host);

		if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      (off_t)r->ranges[i].len) < 0)
			return -errno;
		released += r->ranges[i].len;
	}
	log_info("%s: released %llu KiB of guest RAM in %u ranges", d->name,
		 (unsigned long long)(released >> 10), r->nranges);
	return 0;
}

/* An ioeventfd only at one of the device's own notify slots. */
static int ioevent(struct hosted_device *d, const struct msg_vm_memory_ioevent *e, int fd)
{
	for (unsigned int q = 0; q < d->info.nqueues; q++) {
		if (e->addr != virtio_pci_notify_addr(&d->vp, q))
			continue;
		return irq_router_ioeventfd_match(d->host->router, fd, e->addr, e->len,
						  e->has_datamatch ? &e->datamatch : NULL, e->assign);
	}
	log_warn("%s: ioevent at 0x%llx is not one of its notify addresses; refused", d->name,
		 (unsigned long long)e->addr);
	return -EPERM;
}

/* PrepareSharedMemoryRegion: the window is fixed in its BAR; check that it is the device's. */
static int shm_prepare(struct hosted_device *d, const struct msg_vm_memory_prepare *p)
{
	if (p->shmid != 0 || !d->vp.shm_size || p->size > d->vp.shm_size) {
		log_warn("%s: no shared memory window %u of %llu bytes; refused", d->name, p->shmid,
			 (unsigned long long)p->size);
		return -EPERM;
	}
	return 0;
}

static int alloc_slot(struct device_host *h, uint32_t *slot)
{
	for (uint32_t i = 0; i < DEVICE_SLOT_COUNT; i++)
		if (!h->slot_used[i]) {
			h->slot_used[i] = true;
			*slot = DEVICE_SLOT_FIRST + i;
			return 0;
		}
	return -ENOSPC;
}

static int set_slot(struct hosted_device *d, const struct shm_mapping *m, bool writable,
		    uint64_t size)
{
	struct kvm_userspace_memory_region r = {
		.slot = m->slot,
		.flags = writable ? 0 : KVM_MEM_READONLY,
		.guest_phys_addr = d->vp.shm_addr + m->dest,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)m->host,
	};

	if (ioctl(d->host->router->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

/* Inside the window and clear of what is mapped there already. */
static int shm_free_range(struct hosted_device *d, uint32_t shmid, uint64_t dest, uint64_t size)
{
	if (shmid != 0 || !d->vp.shm_size || dest >= d->vp.shm_size ||
	    size > d->vp.shm_size - dest) {
		log_warn("%s: 0x%llx+0x%llx is not inside its shared memory window; refused",
			 d->name, (unsigned long long)dest, (unsigned long long)size);
		return -EPERM;
	}
	for (unsigned int i = 0; i < DEVICE_SHM_MAPS; i++) {
		const struct shm_mapping *m = &d->maps[i];
		if (m->used && dest < m->dest + m->size && m->dest < dest + size)
			return -EEXIST;
	}
	return 0;
}

/* RegisterMemory / MmapAndRegisterMemory: fd's [off, off + size) at dest in the window. */
static int shm_register(struct hosted_device *d, uint32_t shmid, uint64_t dest, uint64_t size,
			uint64_t off, uint32_t prot, int fd, uint32_t *slot)
{
	struct shm_mapping *m = NULL;
	bool writable = prot & MSG_VM_MEMORY_PROT_WRITE;
	int ret = shm_free_range(d, shmid, dest, size);

	for (unsigned int i = 0; !ret && !m && i < DEVICE_SHM_MAPS; i++)
		if (!d->maps[i].used)
			m = &d->maps[i];
	if (ret || !m)
		return ret ? ret : -ENOSPC;
	m->host = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd,
		       (off_t)off);
	if (m->host == MAP_FAILED)
		return -errno;
	m->dest = dest;
	m->size = size;
	ret = alloc_slot(d->host, &m->slot);
	if (ret == 0 && (ret = set_slot(d, m, writable, size)) < 0)
		d->host->slot_used[m->slot - DEVICE_SLOT_FIRST] = false;
	if (ret < 0) {
		munmap(m->host, size);
		return ret;
	}
	m->used = true;
	*slot = m->slot;
	return 0;
}

static int shm_unregister(struct hosted_device *d, uint32_t slot)
{
	for (unsigned int i = 0; i < DEVICE_SHM_MAPS; i++) {
		struct shm_mapping *m = &d->maps[i];

		if (!m->used || m->slot != slot)
			continue;
		set_slot(d, m, true, 0); /* size 0 deletes the slot */
		munmap(m->host, m->size);
		d->host->slot_used[slot - DEVICE_SLOT_FIRST] = false;
		m->used = false;
		return 0;
	}
	log_warn("%s: slot %u is not one of its mappings; refused", d->name, slot);
	return -EPERM;
}

static int handle_shm(struct hosted_device *d, const struct vm_memory_request *q, int fd,
		      uint32_t *slot)
{
	switch (q->hdr.type) {
	case MSG_VM_MEMORY_PREPARE_SHARED_REGION:
		return shm_prepare(d, &q->prepare);
	case MSG_VM_MEMORY_REGISTER:
		return shm_register(d, q->reg.shmid, q->reg.dest, q->reg.size, q->reg.fd_offset,
				    q->reg.prot, fd, slot);
	case MSG_VM_MEMORY_MMAP_AND_REGISTER:
		return shm_register(d, q->mmap.shmid, q->mmap.dest, q->mmap.size, 0, q->mmap.prot,
				    fd, slot);
	case MSG_VM_MEMORY_UNREGISTER:
		return shm_unregister(d, q->unregister.slot);
	default:
		return -EOPNOTSUPP;
	}
}

static int handle(struct hosted_device *d, const struct vm_memory_request *q, int fd,
		  uint32_t *slot)
{
	switch (q->hdr.type) {
	case MSG_VM_MEMORY_FREE_RANGES:
		return free_ranges(d, &q->ranges, true);
	case MSG_VM_MEMORY_RECLAIM_RANGES:
		return free_ranges(d, &q->ranges, false);
	case MSG_VM_MEMORY_BALLOON_TARGET_REACHED:
		log_info("%s: balloon at %llu MiB", d->name,
			 (unsigned long long)(q->balloon.bytes >> 20));
		device_host_event(d->host, MSG_VM_EVENT_BALLOON_RESIZE, d->name, 0, 0,
				  q->balloon.bytes, "balloon target reached");
		return 0;
	case MSG_VM_MEMORY_IOEVENT_RAW:
		return ioevent(d, &q->ioevent, fd);
	case MSG_VM_MEMORY_NEEDS_RESET:
		return 0; /* acted on after the answer: see serve() */
	default:
		return handle_shm(d, q, fd, slot);
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
	uint32_t slot = UINT32_MAX;
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
		ret = handle(d, &q, nfds ? fds[0] : -1, &slot);
	else
		log_warn("%s: bad mem tube request: %s", d->name, strerror(-ret));
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	memset(&r, 0, sizeof(r));
	msg_vm_memory_status(&r, ret);
	if (ret == 0 && slot != UINT32_MAX) {
		r.hdr.type = MSG_VM_MEMORY_REGISTERED;
		r.registered.slot = slot;
	}
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

int mem_server_add(struct device_host *h, unsigned int index)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = index};

	return epoll_ctl(h->mem_epfd, EPOLL_CTL_ADD, h->devs[index]->mem.fd, &ev) < 0 ? -errno : 0;
}

void mem_server_del(struct device_host *h, struct hosted_device *d)
{
	/* already gone when the device hung up first */
	epoll_ctl(h->mem_epfd, EPOLL_CTL_DEL, d->mem.fd, NULL);
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
