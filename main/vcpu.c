#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpuid.h"
#include "layout.h"
#include "log.h"
#include "util.h"

#define VCPU_KICK_SIGNAL SIGUSR1

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI 0x4


/* The kvm_run of the thread, for the kick handler. */
static _Thread_local struct kvm_run *current_run;

static void kick_handler(int sig)
{
	(void)sig;
	/* KVM_RUN returns -EINTR now, or at once if the thread was about to enter it. */
	if (current_run)
		current_run->immediate_exit = 1;
}

int vcpu_signals_init(void)
{
	struct sigaction sa = {.sa_handler = kick_handler};

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vcpu *v, struct kvm *k, unsigned int id, struct vcpu_env *env)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->id = id;
	v->env = env;
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		ret = -errno;
		log_err_errno("KVM_CREATE_VCPU %u", id);
		return ret;
	}
	v->run_size = (size_t)k->vcpu_mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		v->run = NULL;
		log_err_errno("mmap of vCPU %u's kvm_run", id);
		close_fd(&v->fd);
		return ret;
	}
	return 0;
}

static int set_cpuid(struct vcpu *v, const struct kvm *k, unsigned int ncpus,
		     const char *const *hide, size_t nhide)
{
	size_t sz = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, k->cpuid, sz);
	cpuid_set_topology(c->entries, c->nent, v->id, ncpus);
	if (cpuid_hide(c->entries, c->nent, hide, nhide) < 0)
		ret = -EINVAL;
	else if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		ret = -errno;
		log_err_errno("KVM_SET_CPUID2 on vCPU %u", v->id);
	}
	free(c);
	return ret;
}

static int set_msrs(struct vcpu *v)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{MSR_IA32_SYSENTER_CS, 0}, {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},		   {MSR_CSTAR, 0},	       {MSR_KERNEL_GS_BASE, 0},
		{MSR_SYSCALL_MASK, 0},	   {MSR_LSTAR, 0},	       {MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, 1}, /* fast string operations */
		{MSR_MTRR_DEF_TYPE, (1u << 11) | 6}, /* MTRRs on, default write-back */
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(boot_msrs)];
	} msrs;
	int n;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = ARRAY_SIZE(boot_msrs);
	for (size_t i = 0; i < ARRAY_SIZE(boot_msrs); i++) {
		msrs.e[i].index = boot_msrs[i].index;
		msrs.e[i].data = boot_msrs[i].data;
	}
	n = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (n < 0) {
		n = -errno;
		log_err_errno("KVM_SET_MSRS on vCPU %u", v->id);
		return n;
	}
	/* KVM stops at the first MSR it refuses; the kernel copes without the rest. */
	if ((size_t)n < ARRAY_SIZE(boot_msrs))
		log_warn("vCPU %u: KVM refused MSR 0x%x; continuing without it", v->id,
			 boot_msrs[n].index);
	return 0;
}

static void set_lvt(struct kvm_lapic_state *l, int reg, uint32_t mode)
{
	uint32_t val;

	memcpy(&val, &l->regs[reg], 4);
	val = (val & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &val, 4);
}

static int set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		goto err;
	/* Virtual wire mode: the PIC's INTR reaches the CPU through LINT0, NMIs through LINT1. */
	set_lvt(&l, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	set_lvt(&l, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		goto err;
	return 0;
err:
	log_err_errno("LAPIC setup of vCPU %u", v->id);
	return -errno;
}

static int set_fpu(struct vcpu *v)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;     /* the x87 state after FNINIT */
	fpu.mxcsr = 0x1f80; /* all SSE exceptions masked */
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0) {
		log_err_errno("KVM_SET_FPU on vCPU %u", v->id);
		return -errno;
	}
	return 0;
}

static void to_kvm_segment(struct kvm_segment *k, const struct boot_segment *b)
{
	memset(k, 0, sizeof(*k));
	k->base = b->base;
	k->limit = b->limit;
	k->selector = b->selector;
	k->type = b->type;
	k->present = b->present;
	k->dpl = b->dpl;
	k->db = b->db;
	k->s = b->s;
	k->l = b->l;
	k->g = b->g;
	k->avl = b->avl;
}

/* The segments and control registers boot_load() chose, matching the GDT it wrote. */
static int set_boot_sregs(struct vcpu *v, const struct boot_entry *e)
{
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		goto err;
	to_kvm_segment(&s.cs, &e->cs);
	to_kvm_segment(&s.ds, &e->ds);
	s.es = s.fs = s.gs = s.ss = s.ds;
	to_kvm_segment(&s.tr, &e->tr);
	s.gdt.base = e->gdt_base;
	s.gdt.limit = e->gdt_limit;
	s.idt.base = e->idt_base;
	s.idt.limit = e->idt_limit;
	s.cr0 = e->cr0;
	s.cr3 = e->cr3;
	s.cr4 = e->cr4;
	s.efer = e->efer;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		goto err;
	return 0;
err:
	log_err_errno("segment registers of vCPU %u", v->id);
	return -errno;
}

static int set_boot_regs(struct vcpu *v, const struct boot_entry *e)
{
	struct kvm_regs r;

	memset(&r, 0, sizeof(r));
	r.rflags = e->rflags;
	r.rip = e->rip;
	r.rsp = e->rsp;
	r.rbp = e->rsp;
	r.rsi = e->rsi;
	r.rbx = e->rbx;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		log_err_errno("KVM_SET_REGS on vCPU %u", v->id);
		return -errno;
	}
	return 0;
}

int vcpu_configure(struct vcpu *v, const struct kvm *k, unsigned int ncpus,
		   const char *const *hide, size_t nhide, const struct boot_entry *entry)
{
	int ret = set_cpuid(v, k, ncpus, hide, nhide);

	if (!ret)
		ret = set_msrs(v);
	if (!ret)
		ret = set_lapic(v);
	if (!ret)
		ret = set_fpu(v);
	/* The other vCPUs wait in KVM for the kernel's INIT-SIPI-SIPI. */
	if (!ret && entry)
		ret = set_boot_sregs(v, entry);
	if (!ret && entry)
		ret = set_boot_regs(v, entry);
	return ret;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;

	/* String I/O arrives as `count` consecutive items in the same page. */
	for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size) {
		bool claimed;
		if (r->io.direction == KVM_EXIT_IO_OUT)
			claimed = bus_write(v->env->pio, r->io.port, data, r->io.size);
		else
			claimed = bus_read(v->env->pio, r->io.port, data, r->io.size);
		if (!claimed)
			log_debug("vCPU %u: unclaimed port 0x%x (%s, %u bytes)", v->id, r->io.port,
				  r->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", r->io.size);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint32_t len = r->mmio.len;
	bool claimed;

	if (len > sizeof(r->mmio.data))
		len = sizeof(r->mmio.data);
	if (r->mmio.is_write)
		claimed = bus_write(v->env->mmio, r->mmio.phys_addr, r->mmio.data, len);
	else
		claimed = bus_read(v->env->mmio, r->mmio.phys_addr, r->mmio.data, len);
	if (!claimed)
		log_debug("vCPU %u: unclaimed MMIO 0x%llx (%s, %u bytes)", v->id,
			  (unsigned long long)r->mmio.phys_addr, r->mmio.is_write ? "write" : "read",
			  len);
}

static enum vm_stop_reason handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		log_info("vCPU %u: the guest powered off", v->id);
		return VM_STOP_POWEROFF;
	case KVM_SYSTEM_EVENT_RESET:
		log_info("vCPU %u: the guest reset", v->id);
		return VM_STOP_RESET;
	default:
		log_err("vCPU %u: system event %u (crash)", v->id, v->run->system_event.type);
		vcpu_dump(v);
		return VM_STOP_ERROR;
	}
}

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
	[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
	[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
	[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN (triple fault)",
	[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
	[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
};

static void report_fatal_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint32_t reason = r->exit_reason;
	const char *name = reason < ARRAY_SIZE(exit_names) && exit_names[reason]
				   ? exit_names[reason]
				   : "unhandled exit";

	if (reason == KVM_EXIT_INTERNAL_ERROR)
		log_err("vCPU %u: %s, suberror %u%s", v->id, name, r->internal.suberror,
			r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				? " (KVM could not emulate an instruction)"
				: "");
	else if (reason == KVM_EXIT_FAIL_ENTRY)
		log_err("vCPU %u: %s, hardware reason 0x%llx", v->id, name,
			(unsigned long long)r->fail_entry.hardware_entry_failure_reason);
	else
		log_err("vCPU %u: %s (exit reason %u)", v->id, name, reason);
	vcpu_dump(v);
}

/* Handles one exit; returns VM_STOP_NONE to keep running. */
static enum vm_stop_reason handle_exit(struct vcpu *v)
{
	switch (v->run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return VM_STOP_NONE;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return VM_STOP_NONE;
	case KVM_EXIT_INTR:
		return VM_STOP_NONE;
	case KVM_EXIT_SYSTEM_EVENT:
		return handle_system_event(v);
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC, or with interrupts off for good. */
		log_info("vCPU %u: halted with interrupts disabled", v->id);
		return VM_STOP_POWEROFF;
	default:
		report_fatal_exit(v);
		return VM_STOP_ERROR;
	}
}

/* Outside KVM_RUN, while the VM is paused (vcpu_pause()), unless it is stopping. */
static void park_if_paused(struct vcpu *v)
{
	struct vcpu_pause *p = &v->env->pause;

	pthread_mutex_lock(&p->lock);
	if (p->paused) {
		p->parked++;
		pthread_cond_broadcast(&p->cond);
		while (p->paused && !atomic_load(v->env->stopping))
			pthread_cond_wait(&p->cond, &p->lock);
		p->parked--;
	}
	pthread_mutex_unlock(&p->lock);
}

void vcpu_pause_init(struct vcpu_pause *p)
{
	pthread_condattr_t attr;

	/* CLOCK_MONOTONIC: the one clock vmm.policy lets clock_gettime read */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	p->paused = false;
	p->parked = 0;
}

int vcpu_pause(struct vcpu *vcpus, unsigned int n, int timeout_ms)
{
	struct vcpu_pause *p;
	struct timespec end;
	unsigned int started = 0;
	int ret = 0;

	if (n == 0)
		return 0;
	p = &vcpus[0].env->pause;
	pthread_mutex_lock(&p->lock);
	p->paused = true;
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < n; i++) {
		started += vcpus[i].started;
		vcpu_kick(&vcpus[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (p->parked < started && ret == 0 && !atomic_load(vcpus[0].env->stopping))
		ret = -pthread_cond_timedwait(&p->cond, &p->lock, &end);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void vcpu_resume(struct vcpu *vcpus, unsigned int n)
{
	struct vcpu_pause *p;

	if (n == 0)
		return;
	p = &vcpus[0].env->pause;
	pthread_mutex_lock(&p->lock);
	p->paused = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	enum vm_stop_reason why = VM_STOP_NONE;
	char name[16];
	sigset_t set;

	atomic_store(&v->tid, (int)syscall(SYS_gettid));
	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	current_run = v->run;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Stacked on vmm.policy, inherited from the main thread: both must allow a syscall. */
	if (v->env->filter && jail_filter_load(v->env->filter, 0) < 0) {
		log_err_errno("vCPU %u: loading vcpu.policy", v->id);
		why = VM_STOP_ERROR;
	}

	while (why == VM_STOP_NONE && !atomic_load(v->env->stopping)) {
		park_if_paused(v);
		if (atomic_load(v->env->stopping))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			log_err_errno("vCPU %u: KVM_RUN", v->id);
			vcpu_dump(v);
			why = VM_STOP_ERROR;
			break;
		}
		why = handle_exit(v);
	}
	if (why != VM_STOP_NONE)
		v->env->stopper.stop(v->env->stopper.ctx, why);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	sigset_t set, old;
	int ret;

	/* The thread starts with the kick signal blocked and unblocks it once current_run is set. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		log_msg(LOG_ERR, ret, "cannot start the thread of vCPU %u", v->id);
		return -ret;
	}
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (v->started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	v->run = NULL;
	close_fd(&v->fd);
}

static void dump_seg(const char *name, const struct kvm_segment *s)
{
	log_err("  %-3s sel=%04x base=%016llx limit=%08x type=%x p=%u dpl=%u db=%u s=%u l=%u g=%u",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->present,
		s->dpl, s->db, s->s, s->l, s->g);
}

static void dump_code(const struct vcpu *v, const struct kvm_regs *r, const struct kvm_sregs *s)
{
	struct kvm_translation t = {.linear_address = s->cs.base + r->rip};
	char hex[16 * 3 + 1];
	const uint8_t *p;

	if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid) {
		log_err("  code: rip does not translate to a physical address");
		return;
	}
	p = guest_mem_ptr(v->env->mem, t.physical_address, 16);
	if (!p) {
		log_err("  code: rip is at 0x%llx, outside RAM",
			(unsigned long long)t.physical_address);
		return;
	}
	for (int i = 0; i < 16; i++)
		snprintf(hex + 3 * i, sizeof(hex) - 3 * (size_t)i, "%02x ", p[i]);
	log_err("  code at 0x%llx: %s", (unsigned long long)t.physical_address, hex);
}

void vcpu_dump(const struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_err_errno("vCPU %u: cannot read registers", v->id);
		return;
	}
	log_err("vCPU %u registers:", v->id);
	log_err("  rip=%016llx rsp=%016llx rflags=%016llx", (unsigned long long)r.rip,
		(unsigned long long)r.rsp, (unsigned long long)r.rflags);
	log_err("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx", (unsigned long long)r.rax,
		(unsigned long long)r.rbx, (unsigned long long)r.rcx, (unsigned long long)r.rdx);
	log_err("  rsi=%016llx rdi=%016llx rbp=%016llx", (unsigned long long)r.rsi,
		(unsigned long long)r.rdi, (unsigned long long)r.rbp);
	log_err("  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx",
		(unsigned long long)s.cr0, (unsigned long long)s.cr2, (unsigned long long)s.cr3,
		(unsigned long long)s.cr4, (unsigned long long)s.efer);
	dump_seg("cs", &s.cs);
	dump_seg("ss", &s.ss);
	dump_seg("ds", &s.ds);
	log_err("  gdt=%016llx/%x idt=%016llx/%x", (unsigned long long)s.gdt.base, s.gdt.limit,
		(unsigned long long)s.idt.base, s.idt.limit);
	dump_code(v, &r, &s);
}
