/*
 * The CPUID the guest sees: KVM's supported set, with per-vCPU APIC ids and topology, and
 * the features named in `[cpu] hide` cleared. Pure functions over KVM's entry array.
 */
#ifndef VMM_MAIN_CPUID_H
#define VMM_MAIN_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>

/* True when `name` is a feature `[cpu] hide` accepts (lower case, as in /proc/cpuinfo). */
bool cpuid_feature_known(const char *name);
/* A comma-separated list of every known name, for error messages. */
const char *cpuid_feature_names(void);

/* Clears each named feature's bit. Returns 0, or -EINVAL on an unknown name. */
int cpuid_hide(struct kvm_cpuid_entry2 *e, size_t n, const char *const *names, size_t nnames);

/* Writes vCPU `id`'s APIC id and a one-socket, ncpus-core, one-thread-per-core topology. */
void cpuid_set_topology(struct kvm_cpuid_entry2 *e, size_t n, unsigned int id, unsigned int ncpus);

/* The entry for (function, index), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, size_t n, unsigned int function,
				    unsigned int index);

#endif
