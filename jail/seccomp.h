/* Compiles a parsed policy (policy.h) into a libseccomp filter and loads it. */
/*
 * This file shadows libseccomp's <seccomp.h> on the include path, so it pulls that one in with
 * #include_next, outside the guard: when included as "seccomp.h" from jail/, #include_next
 * starts from the top of the path, finds this file again, and that copy reaches the real one.
 */
#include_next <seccomp.h>

#ifndef VMM_JAIL_SECCOMP_H
#define VMM_JAIL_SECCOMP_H

#include "policy.h"

enum seccomp_mode {
	SECCOMP_MODE_KILL, /* anything not allowed kills the whole process with SIGSYS */
	SECCOMP_MODE_LOG,  /* anything not allowed is logged by the kernel and runs: for writing
			      policies */
};

/*
 * Builds the filter of p into *out (the caller seccomp_release()s it). Returns 0 or a negative
 * errno, logging the rule libseccomp refused.
 */
int seccomp_compile(const struct policy *p, enum seccomp_mode mode, scmp_filter_ctx *out);

/*
 * Compiles p and loads it into the calling thread (with PR_SET_NO_NEW_PRIVS). Irreversible:
 * only call it where a jail is wanted, or in a child process of a test.
 */
int seccomp_load_policy(const struct policy *p, enum seccomp_mode mode);

#endif
