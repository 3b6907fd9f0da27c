/* Compiles a parsed policy (policy.h) into a libseccomp filter and loads it. */
/*
 * This file shadows libseccomp's <seccomp.h> on the include path, so it pulls that one in with
 * #include_next, outside the guard: when included as "seccomp.h" from jail/, #include_next
 * starts from the top of the path, finds this file again, and that copy reaches the real one.
 */
#include_next <seccomp.h>

#ifndef VMM_JAIL_SECCOMP_H
#define VMM_JAIL_SECCOMP_H

#include "jail.h"
#include "policy.h"

enum seccomp_mode {
	SECCOMP_MODE_KILL,  /* anything not allowed kills the whole process with SIGSYS */
	SECCOMP_MODE_LOG,   /* anything not allowed is logged by the kernel and runs: for writing
			       policies */
	SECCOMP_MODE_TRAP,  /* anything not allowed raises SIGSYS, whose handler reports it and
			       exits (a jailed process) */
	SECCOMP_MODE_LEARN, /* every syscall goes to the listener (vmm policy learn), but a
			       sendmsg on JAIL_HANDOVER_FD that hands the listener over */
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

/*
 * Compiles the union of ps[0..n) (one syscall named in two is allowed when either allows it)
 * into BPF for jail_filter_load() or a device's MSG_DEVICE_FD_SECCOMP. 0 or -errno (logged).
 */
int seccomp_build(const struct policy *const *ps, size_t n, enum seccomp_mode mode,
		  struct jail_filter *out);

/* Built with AddressSanitizer: its runtime's syscalls (sanitizer.policy) are added. */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECCOMP_SANITIZED 1
/* seccomp_build_named() into a sealed memfd for a device's MSG_DEVICE_FD_SECCOMP; the fd or
 * -errno (logged). */
int seccomp_build_memfd(const char *dir, const char *name, enum seccomp_mode mode, char *path,
			size_t pathlen);

#endif
/* seccomp_build_named() into a sealed memfd for a device's MSG_DEVICE_FD_SECCOMP; the fd or
 * -errno (logged). */
int seccomp_build_memfd(const char *dir, const char *name, enum seccomp_mode mode, char *path,
			size_t pathlen);

#endif
#ifndef SECCOMP_SANITIZED
#define SECCOMP_SANITIZED 0
/* seccomp_build_named() into a sealed memfd for a device's MSG_DEVICE_FD_SECCOMP; the fd or
 * -errno (logged). */
int seccomp_build_memfd(const char *dir, const char *name, enum seccomp_mode mode, char *path,
			size_t pathlen);

#endif

/*
 * Loads <dir>/<name>.policy (plus <dir>/sanitizer.policy in a sanitizer build) and builds its
 * filter. The path is written to path. A policy error is logged as "FILE:LINE:COL: message".
 */
int seccomp_build_named(const char *dir, const char *name, enum seccomp_mode mode,
			struct jail_filter *out, char *path, size_t pathlen);

/* seccomp_build_named() into a sealed memfd for a device's MSG_DEVICE_FD_SECCOMP; the fd or
 * -errno (logged). */
int seccomp_build_memfd(const char *dir, const char *name, enum seccomp_mode mode, char *path,
			size_t pathlen);

#endif
