/*
 * The seccomp policy language (minijail's syntax), parsed into rules that seccomp.c compiles.
 *
 *   # why the device needs it            <- comment lines right above a rule are its justification
 *   read: 1                              <- allowed unconditionally
 *   write: arg0 == 1 || arg0 == 2        <- allowed when the expression holds
 *   mmap: arg2 in ~PROT_EXEC && arg3 & MAP_SHARED
 *   openat: return EPERM                 <- fails with that errno, never reaches the kernel
 *   @include common_device.policy        <- relative to the including file's folder
 *
 * Expressions: `argN OP value` (N in 0..5), OP one of == != < <= > >= & (some of the bits set)
 * and `in` (no bit outside the mask), joined by && and then || (no parentheses). Values are
 * decimal, hex or octal numbers or named constants (O_*, PROT_*, MAP_*, ...), `~` complements,
 * `|` ors them together. An && group may compare each argument only once (libseccomp's limit).
 *
 * A syscall named more than once (in one file or across an include chain) ends up as one rule
 * whose conditions are the || of all of them; an unconditional grant absorbs every condition.
 * Such repetitions that change nothing (duplicates, a condition next to an unconditional grant)
 * are reported in policy.warnings. Two different actions for one syscall are an error.
 */
#ifndef VMM_JAIL_POLICY_H
#define VMM_JAIL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_ARGS 6
#define POLICY_MAX_INCLUDE_DEPTH 16

enum policy_op {
	POLICY_OP_EQ,
	POLICY_OP_NE,
	POLICY_OP_LT,
	POLICY_OP_LE,
	POLICY_OP_GT,
	POLICY_OP_GE,
	POLICY_OP_BITS_SET, /* arg & value: at least one of value's bits is set */
	POLICY_OP_IN,	    /* arg in value: no bit outside value is set */
};

struct policy_cond {
	unsigned int arg; /* 0..5 */
	enum policy_op op;
	uint64_t value;
};

/* All of conds must hold. */
struct policy_and {
	struct policy_cond *conds;
	size_t nconds;
};

enum policy_action { POLICY_ALLOW, POLICY_ERRNO };

struct policy_rule {
	int nr; /* x86_64 syscall number */
	char *name;
	/* Allowed when any of alts holds; nalts == 0 means unconditionally. */
	struct policy_and *alts;
	size_t nalts;
	enum policy_action action;
	int errno_value; /* for POLICY_ERRNO */
	char *comment;	 /* the comment lines above it (joined by '\n'), or NULL */
	char *file;	 /* where the syscall was first named */
	int line;
};

struct policy {
	struct policy_rule *rules;
	size_t nrules;
	char **warnings; /* "FILE:LINE:COL: message" */
	size_t nwarnings;
};

/*
 * Parses path and its includes into *p (zeroed first). On failure returns a negative errno,
 * writes one line "FILE:LINE:COL: message" to err and leaves *p empty.
 */
int policy_load(const char *path, struct policy *p, char *err, size_t errlen);
void policy_free(struct policy *p);

/* The rule for syscall number nr, or NULL. */
const struct policy_rule *policy_find(const struct policy *p, int nr);

/* Looks a named constant up (O_RDONLY, EPERM, ...); returns 0 or -ENOENT. */
int policy_constant(const char *name, uint64_t *value);

#endif
