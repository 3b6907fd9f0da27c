#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "layout.h"
#include "log.h"
#include "util.h"

static void split(struct guest_mem *m, uint64_t size)
{
	m->size = size;
	m->low_size = MIN(size, MEM_HOLE_START);
	m->high_size = size - m->low_size;
}

int guest_mem_init(struct guest_mem *m, uint64_t size)
{
	int ret;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	split(m, size);
	m->fd = memfd_create("vmm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m->fd < 0) {
		ret = -errno;
		log_err_errno("memfd_create");
		return ret;
	}
	if (ftruncate(m->fd, (off_t)size) < 0) {
		ret = -errno;
		log_err_errno("cannot size guest memory to %llu MiB", (unsigned long long)(size >> 20));
		goto err_close;
	}
	/* Sealed so that no holder of the fd (a device, later) can shrink it under main's feet. */
	if (fcntl(m->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		log_err_errno("sealing guest memory");
		goto err_close;
	}
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->host == MAP_FAILED) {
		ret = -errno;
		m->host = NULL;
		log_err_errno("cannot map %llu MiB of guest memory",
			      (unsigned long long)(size >> 20));
		goto err_close;
	}
	/* THP where the host allows it: fewer exits and TLB misses; advisory only. */
	(void)madvise(m->host, size, MADV_HUGEPAGE);
	return 0;
err_close:
	close_fd(&m->fd);
	return ret;
}

static int set_slot(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		int ret = -errno;
		log_err_errno("KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx", slot,
			      (unsigned long long)gpa, (unsigned long long)size);
		return ret;
	}
	return 0;
}

int guest_mem_register(struct guest_mem *m, int vm_fd)
{
	int ret = set_slot(vm_fd, 0, 0, m->low_size, m->host);

	if (ret == 0 && m->high_size)
		ret = set_slot(vm_fd, 1, MEM_HOLE_END, m->high_size, m->host + m->low_size);
	return ret;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (m->host && m->fd >= 0)
		munmap(m->host, m->size);
	m->host = NULL;
	close_fd(&m->fd);
}

void guest_mem_wrap(struct guest_mem *m, uint8_t *buf, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->host = buf;
	split(m, size);
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	if (end <= m->low_size)
		return m->host + gpa;
	if (gpa >= MEM_HOLE_END && end - MEM_HOLE_END <= m->high_size)
		return m->host + m->low_size + (gpa - MEM_HOLE_END);
	return NULL;
}
