/* How a legacy device raises its interrupt line and asks the machine to stop. */
#ifndef VMM_MAIN_IRQ_H
#define VMM_MAIN_IRQ_H

#include <stdint.h>

struct irq_line {
	/* Pulses (edge) the ISA interrupt line `irq`. */
	void (*pulse)(void *ctx, uint32_t irq);
	void *ctx;
};

enum vm_stop_reason {
	VM_STOP_NONE,
	VM_STOP_RESET,	  /* the guest asked for a reset (i8042, 0xcf9, port 0x92) */
	VM_STOP_POWEROFF, /* the guest powered off */
	VM_STOP_ERROR,	  /* a VMM failure or an unrecoverable guest state */
	VM_STOP_SIGNAL,	  /* the operator: SIGTERM, SIGINT, the console escape */
};

struct vm_stopper {
	void (*stop)(void *ctx, enum vm_stop_reason why);
	void *ctx;
};

#endif
