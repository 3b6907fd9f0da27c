/*
 * The main process's own jail, once the VM is built and its devices are spawned: every
 * capability but CAP_KILL dropped (kept only while devices run under another uid: main must
 * be able to SIGKILL a device that hangs), then vmm.policy loaded into the main thread, which
 * every thread started later inherits; vCPU threads add vcpu.policy (vcpu.c).
 */
#ifndef VMM_MAIN_LOCKDOWN_H
#define VMM_MAIN_LOCKDOWN_H

#include <stdbool.h>

#include "jail.h"

/*
 * Builds vmm.policy's and vcpu.policy's filters from policy_dir (errors as FILE:LINE:COL), so
 * that a bad policy stops the VM before it starts. 0 or -errno.
 */
int lockdown_prepare(const struct jail_config *jail, const char *policy_dir,
		     struct jail_filter *vmm, struct jail_filter *vcpu);
/* Drops the capabilities and loads vmm into the calling (only) thread. 0 or -errno (logged). */
int lockdown_apply(const struct jail_filter *vmm, bool keep_kill);

#endif
