/* The KVM system and VM fds: capabilities, the in-kernel irqchip and PIT, CPUID. */
#ifndef VMM_MAIN_KVM_H
#define VMM_MAIN_KVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

struct kvm {
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	unsigned int max_vcpus;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, the template for every vCPU */
};

/*
 * Opens /dev/kvm and checks what we need. On failure returns -errno and writes one line for
 * the user into err ("no /dev/kvm: ...").
 */
int kvm_open(struct kvm *k, char *err, size_t errlen);
/* Creates the VM: TSS and identity map addresses, irqchip, PIT. */
int kvm_create_vm(struct kvm *k);
void kvm_close(struct kvm *k);

int kvm_irq_line(const struct kvm *k, uint32_t irq, int level);

#endif
