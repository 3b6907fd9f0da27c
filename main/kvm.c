#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "log.h"
#include "util.h"

#define KVM_PATH "/dev/kvm"

struct required_cap {
	int cap;
	const char *name;
};

static const struct required_cap required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
};

static int open_dev(char *err, size_t errlen)
{
	int fd = open(KVM_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		snprintf(err, errlen, "no " KVM_PATH ": KVM is not available on this host "
				      "(load kvm_intel or kvm_amd, or enable virtualization)");
	else if (errno == EACCES || errno == EPERM)
		snprintf(err, errlen, "no permission to open " KVM_PATH
				      " (run as root or join the group that owns it)");
	else
		snprintf(err, errlen, "cannot open " KVM_PATH ": %s", strerror(errno));
	return -errno;
}

static int get_supported_cpuid(struct kvm *k)
{
	for (int nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + (size_t)nent * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return -ENOMEM;
		c->nent = (uint32_t)nent;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			k->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

static int check_caps(struct kvm *k, char *err, size_t errlen)
{
	int n;

	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "this KVM lacks %s", required_caps[i].name);
			return -ENOTSUP;
		}
	}
	n = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	k->max_vcpus = n > 0 ? (unsigned int)n : 4;
	/* Our MP table and APIC ids are 8-bit: xAPIC ids stop at 254, the IOAPIC takes one. */
	if (k->max_vcpus > 254)
		k->max_vcpus = 254;
	return 0;
}

int kvm_open(struct kvm *k, char *err, size_t errlen)
{
	int ret, v;

	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	k->kvm_fd = open_dev(err, errlen);
	if (k->kvm_fd < 0)
		return k->kvm_fd;
	v = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, expected %d", v, KVM_API_VERSION);
		ret = -ENOTSUP;
		goto err_close;
	}
	ret = check_caps(k, err, errlen);
	if (ret < 0)
		goto err_close;
	k->vcpu_mmap_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		ret = -errno ? -errno : -EINVAL;
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(-ret));
		goto err_close;
	}
	ret = get_supported_cpuid(k);
	if (ret < 0) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
		goto err_close;
	}
	return 0;
err_close:
	close_fd(&k->kvm_fd);
	return ret;
}

static int vm_ioctl(struct kvm *k, unsigned long req, unsigned long arg, const char *what)
{
	if (ioctl(k->vm_fd, req, arg) < 0) {
		int ret = -errno;
		log_err_errno("%s", what);
		return ret;
	}
	return 0;
}

int kvm_create_vm(struct kvm *k)
{
	/* SPEAKER_DUMMY: KVM models port 0x61 too, so PIT channel 2 calibrates the TSC. */
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t identity = KVM_IDENTITY_MAP_ADDR;
	int ret;

	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		ret = -errno;
		log_err_errno("KVM_CREATE_VM");
		return ret;
	}
	/* Both in the 32-bit hole, above the IOAPIC and LAPIC, never RAM (main/layout.h). */
	ret = vm_ioctl(k, KVM_SET_IDENTITY_MAP_ADDR, (unsigned long)&identity,
		       "KVM_SET_IDENTITY_MAP_ADDR");
	if (!ret)
		ret = vm_ioctl(k, KVM_SET_TSS_ADDR, KVM_TSS_ADDR, "KVM_SET_TSS_ADDR");
	if (!ret)
		ret = vm_ioctl(k, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	if (!ret)
		ret = vm_ioctl(k, KVM_CREATE_PIT2, (unsigned long)&pit, "KVM_CREATE_PIT2");
	if (ret)
		close_fd(&k->vm_fd);
	return ret;
}

void kvm_close(struct kvm *k)
{
	close_fd(&k->vm_fd);
	close_fd(&k->kvm_fd);
	free(k->cpuid);
	k->cpuid = NULL;
}

int kvm_irq_line(const struct kvm *k, uint32_t irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = (uint32_t)level};

	if (ioctl(k->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}
