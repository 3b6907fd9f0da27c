/*
 * The jail of a device process (shared/DESIGN.md, "The jail"), in two halves:
 *
 *  - main, when it spawns a device: jail_clone() gives the child new pid, mount, net, ipc and
 *    uts namespaces (and a user namespace with a one-uid map when vmm is not root);
 *  - the device, right after exec and before it reads anything the guest wrote: jail_enter()
 *    pivots into an empty read-only tmpfs, sets rlimits, closes every fd it was not handed,
 *    drops to the jail uid/gid, clears every capability set, sets PR_SET_NO_NEW_PRIVS and loads
 *    the seccomp filter main compiled for it (a BPF program in a memfd at MSG_DEVICE_FD_SECCOMP).
 *
 * Once jail_enter() starts dropping privileges a failure _exits: a half-jailed device never
 * runs. Each failure names its step and the way out (--no-jail).
 */
#ifndef VMM_JAIL_JAIL_H
#define VMM_JAIL_JAIL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JAIL_ID_DEFAULT 65534 /* nobody / nogroup */
/*
 * RLIMIT_NOFILE of a device: its 8 handed-over fds, an ACTIVATE's 34 eventfds, its epoll, and
 * room to receive (and refuse) a ctrl message carrying TUBE_MAX_FDS (64) fds.
 */
#define JAIL_NOFILE 128
/* Where a learning device hands its seccomp listener over (a dup of its ctrl tube). */
#define JAIL_HANDOVER_FD 60

enum jail_seccomp {
	JAIL_SECCOMP_KILL,  /* a forbidden syscall kills the process, which reports it first */
	JAIL_SECCOMP_LOG,   /* forbidden syscalls run and the kernel logs them */
	JAIL_SECCOMP_LEARN, /* every syscall is shown to main (vmm policy learn), then runs */
};

/* [jail] of vm.toml. */
struct jail_config {
	bool enabled;
	unsigned int uid;
	unsigned int gid;
	enum jail_seccomp seccomp;
	char *policy_dir; /* NULL: jail_policy_dir()'s default */
};

/* A compiled seccomp filter. */
struct jail_filter {
	struct sock_filter *insns;
	unsigned short len;
};

/*
 * The policy directory: configured if not NULL, else $VMM_POLICY_DIR, else the installed
 * share/vmm/policies/x86_64 next to the running binary's bin/, else the source tree's
 * policies/x86_64 (a build-tree binary). 0, or -ENOENT when none exists.
 */
int jail_policy_dir(const char *configured, char *out, size_t len);

/* ---- main's half ---- */

/*
 * fork() with the device's new namespaces (userns: also a user namespace). Returns the pid in
 * the parent, 0 in the child, -errno. In a userns child call jail_map_ids() next.
 */
pid_t jail_clone(bool userns);
/* jail_clone() with CLONE_PARENT: the child is the caller's sibling, so its parent (main)
 * reaps it. For the jail warden (main/warden.h). */
pid_t jail_clone_sibling(bool userns);
/* In the child of jail_clone(userns): maps uid and gid 0 inside to outer_uid/outer_gid.
 * Async-signal-safe. */
int jail_map_ids(uid_t outer_uid, gid_t outer_gid);
/* A memfd (sealed, CLOEXEC) holding f's instructions, for MSG_DEVICE_FD_SECCOMP. */
int jail_filter_memfd(const struct jail_filter *f);
void jail_filter_free(struct jail_filter *f);

/* ---- both ---- */

/*
 * Loads f into the calling thread (PR_SET_NO_NEW_PRIVS first). flags: SECCOMP_FILTER_FLAG_*.
 * Returns 0, a listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, or -errno.
 */
int jail_filter_load(const struct jail_filter *f, unsigned int flags);

/* ---- the device's half ---- */

struct jail_enter_args {
	const char *name;   /* for messages */
	unsigned int uid;   /* ids inside the jail's user namespace (0 when vmm is not root) */
	unsigned int gid;
	int filter_fd;	    /* the memfd of jail_filter_memfd(); closed by jail_enter() */
	int keep_below;	    /* fds below this stay open, every other one is closed */
	bool learn;	    /* hand the seccomp listener over on JAIL_HANDOVER_FD */
};

/*
 * Jails the calling (single-threaded) process. Returns 0 (and, when learning, the listener fd
 * in *listener) or _exits with status 1 after logging the step that failed.
 */
int jail_enter(const struct jail_enter_args *a, int *listener);

/* ns.c */
int ns_pivot_to_empty_root(const char **step);
/* caps.c */
int caps_drop_bounding(void);
int caps_clear_all(void);
/* Keeps only the capabilities in keep[0..n) (effective and permitted), clears the rest of
 * every set, bounding and ambient included. */
int caps_keep_only(const int *keep, size_t n);

#endif
