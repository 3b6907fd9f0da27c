// SPDX-License-Identifier: MIT
/*
 * kvmcheck: smoke test of /dev/kvm, meant to run inside the nested L1 VM
 * (tests/nested/run.sh -- /tmp/kvmcheck). Not part of the vmm build.
 *
 *   cc -O2 -Wall -o /tmp/kvmcheck tests/nested/kvmcheck.c
 *
 * Guest code (real mode, loaded at guest physical 0x0, cs.base 0, rip 0):
 *   mov $0x3f8,%dx ; mov $'A',%al ; out %al,(%dx) ; hlt
 *
 * VM 1: no irqchip           -> KVM_EXIT_IO ('A'), then KVM_EXIT_HLT.
 * VM 2: KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2, an ioeventfd on port 0x3f8
 *       and an irqfd on GSI 4: the OUT signals the eventfd (no exit) and
 *       HLT is handled by the in-kernel LAPIC (the vCPU blocks, so no
 *       KVM_EXIT_HLT by design); a timer signal ends KVM_RUN with EINTR
 *       and KVM_GET_MP_STATE shows HALTED.
 * VM 3: KVM_CAP_SPLIT_IRQCHIP -> KVM_EXIT_IO ('A'), then in-kernel halt.
 * Exit status 0 when all of that happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define MEM_SIZE 0x10000

static const uint8_t guest_code[] = {
	0xba, 0xf8, 0x03, /* mov $0x3f8,%dx */
	0xb0, 'A',        /* mov $'A',%al */
	0xee,             /* out %al,(%dx) */
	0xf4,             /* hlt */
};

enum irqchip_mode { IRQCHIP_NONE, IRQCHIP_FULL, IRQCHIP_SPLIT };

struct vm {
	int fd;
	int vcpu;
	struct kvm_run *run;
	void *mem;
};

static int failures;

static void fail(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	failures++;
}

static void die(const char *what)
{
	fail(what);
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR && req != KVM_RUN);
	return r;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void vm_create(int kvm, struct vm *vm, enum irqchip_mode mode)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int mmap_size;

	vm->fd = xioctl(kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");
	if (mode == IRQCHIP_FULL) {
		struct kvm_pit_config pit = { .flags = 0 };

		if (xioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
			die("KVM_CREATE_IRQCHIP");
		printf("  KVM_CREATE_IRQCHIP ok\n");
		if (xioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
			fail("KVM_CREATE_PIT2");
		else
			printf("  KVM_CREATE_PIT2 ok\n");
	} else if (mode == IRQCHIP_SPLIT) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP };

		cap.args[0] = 24; /* IOAPIC pins routed to userspace */
		if (xioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
			die("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
		printf("  KVM_ENABLE_CAP(SPLIT_IRQCHIP, 24) ok\n");
	}

	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		die("mmap guest memory");
	memcpy(vm->mem, guest_code, sizeof(guest_code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	if (xioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	vm->vcpu = xioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		die("KVM_CREATE_VCPU");
	mmap_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	vm->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu, 0);
	if (vm->run == MAP_FAILED)
		die("mmap kvm_run");

	if (xioctl(vm->vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (xioctl(vm->vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0;
	regs.rflags = 0x2;
	if (xioctl(vm->vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
}

/*
 * Run until KVM_EXIT_HLT, or until KVM_RUN is interrupted by the timer
 * signal (in-kernel halt). Returns a bit mask: 1 = IO 'A' seen, 2 = HLT exit,
 * 4 = interrupted while halted in the kernel.
 */
static int vm_run(struct vm *vm)
{
	struct itimerval it = { .it_value = { .tv_usec = 300000 } };
	int seen = 0;

	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < 16; i++) {
		struct kvm_run *run = vm->run;

		if (ioctl(vm->vcpu, KVM_RUN, 0) < 0) {
			struct kvm_mp_state mp;

			if (errno != EINTR) {
				fail("KVM_RUN");
				break;
			}
			if (xioctl(vm->vcpu, KVM_GET_MP_STATE, &mp) < 0) {
				fail("KVM_GET_MP_STATE");
				break;
			}
			printf("  KVM_RUN interrupted (EINTR), mp_state=%u%s\n",
			       mp.mp_state,
			       mp.mp_state == KVM_MP_STATE_HALTED ?
				       " (HALTED in kernel)" : "");
			if (mp.mp_state == KVM_MP_STATE_HALTED)
				seen |= 4;
			break;
		}
		if (run->exit_reason == KVM_EXIT_IO) {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;

			printf("  KVM_EXIT_IO: %s port 0x%x size %u count %u byte 0x%02x '%c'\n",
			       run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			       run->io.port, run->io.size, run->io.count, data[0],
			       data[0] >= 0x20 && data[0] < 0x7f ? data[0] : '?');
			if (run->io.direction == KVM_EXIT_IO_OUT &&
			    run->io.port == 0x3f8 && data[0] == 'A')
				seen |= 1;
		} else if (run->exit_reason == KVM_EXIT_HLT) {
			printf("  KVM_EXIT_HLT\n");
			seen |= 2;
			break;
		} else {
			printf("  unexpected exit_reason %u\n", run->exit_reason);
			break;
		}
	}
	it.it_value.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	return seen;
}

static void vm_destroy(struct vm *vm)
{
	munmap(vm->mem, MEM_SIZE);
	close(vm->vcpu);
	close(vm->fd);
}

int main(void)
{
	static const struct {
		const char *name;
		long cap;
	} caps[] = {
		{ "KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP },
		{ "KVM_CAP_IRQFD", KVM_CAP_IRQFD },
		{ "KVM_CAP_IOEVENTFD", KVM_CAP_IOEVENTFD },
		{ "KVM_CAP_PIT2", KVM_CAP_PIT2 },
		{ "KVM_CAP_SPLIT_IRQCHIP", KVM_CAP_SPLIT_IRQCHIP },
		{ "KVM_CAP_NR_VCPUS", KVM_CAP_NR_VCPUS },
		{ "KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS },
		{ "KVM_CAP_MAX_VCPU_ID", KVM_CAP_MAX_VCPU_ID },
		{ "KVM_CAP_NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS },
		{ "KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT },
		{ "KVM_CAP_X2APIC_API", KVM_CAP_X2APIC_API },
	};
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	struct vm vm;
	int kvm, r, seen;

	sigaction(SIGALRM, &sa, NULL);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm");
	r = xioctl(kvm, KVM_GET_API_VERSION, 0);
	printf("KVM_GET_API_VERSION = %d\n", r);
	if (r != KVM_API_VERSION)
		failures++;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		printf("%-24s = %d\n", caps[i].name,
		       ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].cap));

	printf("VM 1: no irqchip\n");
	vm_create(kvm, &vm, IRQCHIP_NONE);
	seen = vm_run(&vm);
	if (seen != 3)
		failures++;
	vm_destroy(&vm);

	printf("VM 2: in-kernel irqchip + PIT2 + ioeventfd(0x3f8) + irqfd(gsi 4)\n");
	vm_create(kvm, &vm, IRQCHIP_FULL);
	{
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		int ifd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct kvm_ioeventfd ioe = {
			.addr = 0x3f8, .len = 1, .fd = efd,
			.flags = KVM_IOEVENTFD_FLAG_PIO,
		};
		struct kvm_irqfd irqfd = { .fd = (uint32_t)ifd, .gsi = 4 };
		uint64_t count = 0;

		if (xioctl(vm.fd, KVM_IOEVENTFD, &ioe) < 0)
			fail("KVM_IOEVENTFD");
		if (xioctl(vm.fd, KVM_IRQFD, &irqfd) < 0)
			fail("KVM_IRQFD");
		else
			printf("  KVM_IRQFD(gsi 4) ok\n");
		seen = vm_run(&vm);
		if (read(efd, &count, sizeof(count)) != sizeof(count))
			count = 0;
		printf("  ioeventfd count after OUT = %llu\n",
		       (unsigned long long)count);
		if (count != 1 || seen != 4)
			failures++;
		close(efd);
		close(ifd);
	}
	vm_destroy(&vm);

	printf("VM 3: split irqchip\n");
	vm_create(kvm, &vm, IRQCHIP_SPLIT);
	seen = vm_run(&vm);
	if (seen != 5)
		failures++;
	vm_destroy(&vm);

	close(kvm);
	printf("%s\n", failures ? "kvmcheck: FAILED" : "kvmcheck: OK");
	return failures ? 1 : 0;
}
