/* One vCPU: its fd, its kvm_run page, its thread and its exit handling. */
#ifndef VMM_MAIN_VCPU_H
#define VMM_MAIN_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "boot.h"
#include "bus.h"
#include "irq.h"
#include "jail.h"
#include "kvm.h"
#include "memory.h"

/* What every vCPU thread shares. */
/* Parking every vCPU (vmm-ctl suspend): vcpu_pause()/vcpu_resume(). */
struct vcpu_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool paused;	     /* asked to park */
	unsigned int parked; /* threads parked now */
};

struct vcpu_env {
	const struct bus *pio;
	const struct bus *mmio;
	const struct guest_mem *mem;
	struct vm_stopper stopper;
	atomic_bool *stopping;
	const struct jail_filter *filter; /* vcpu.policy, loaded before the first KVM_RUN; or NULL */
	struct vcpu_pause pause;
};

struct vcpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	atomic_int tid;
	struct vcpu_env *env;
};

int vcpu_create(struct vcpu *v, struct kvm *k, unsigned int id, struct vcpu_env *env);
/*
 * CPUID (with topology and hidden features), MSRs, LAPIC LINT0/LINT1, FPU; and, for the boot
 * vCPU (entry != NULL), the registers that start the kernel.
 */
int vcpu_configure(struct vcpu *v, const struct kvm *k, unsigned int ncpus,
		   const char *const *hide, size_t nhide, const struct boot_entry *entry);
/* Installs the kick signal handler; call once before any vcpu_start. */
int vcpu_signals_init(void);
int vcpu_start(struct vcpu *v);
/* Makes a running KVM_RUN return, so the thread sees *stopping. */
void vcpu_kick(struct vcpu *v);
void vcpu_pause_init(struct vcpu_pause *p);
/*
 * Parks every started vCPU of vcpus[0..n) outside KVM_RUN; returns once all are parked (0) or
 * after timeout_ms (-ETIMEDOUT; they park as they can). vcpu_resume() lets them go on.
 */
int vcpu_pause(struct vcpu *vcpus, unsigned int n, int timeout_ms);
void vcpu_resume(struct vcpu *vcpus, unsigned int n);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

/* Writes registers, segments and the bytes at RIP to the log, for a fatal exit. */
void vcpu_dump(const struct vcpu *v);

#endif
