/* The machine: builds the VM from its configuration, runs it, tears it down. */
#ifndef VMM_MAIN_VM_H
#define VMM_MAIN_VM_H

#include "config.h"

/* Exit statuses of `vmm run` (README, "Exit codes"). */
#define VMM_EXIT_OK 0	  /* the guest rebooted or powered off, or the operator stopped it */
#define VMM_EXIT_FAILURE 1 /* a VMM failure: the message says what */
#define VMM_EXIT_USAGE 2  /* a usage, configuration or input error */

/* Boots and runs the VM until it stops; returns one of the VMM_EXIT_* codes. */
int vm_run(const struct vm_config *cfg);

#endif
