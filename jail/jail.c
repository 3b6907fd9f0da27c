/* The ordered sequence of a device's jail, and the policy directory. See jail.h. */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#ifndef VMM_SOURCE_POLICY_DIR
#define VMM_SOURCE_POLICY_DIR ""
#endif

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int jail_policy_dir(const char *configured, char *out, size_t len)
{
	char self[4096];
	const char *env = getenv("VMM_POLICY_DIR");
	ssize_t n;

	if (configured || env) {
		snprintf(out, len, "%s", configured ? configured : env);
		return is_dir(out) ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char installed[4096 + 64], *real;

		snprintf(installed, sizeof(installed), "%s/../share/vmm/policies/x86_64",
			 dirname(self));
		real = realpath(installed, NULL);
		if (real && is_dir(real)) {
			snprintf(out, len, "%s", real);
			free(real);
			return 0;
		}
		free(real);
	}
	snprintf(out, len, "%s", VMM_SOURCE_POLICY_DIR);
	return out[0] && is_dir(out) ? 0 : -ENOENT;
}

int jail_filter_memfd(const struct jail_filter *f)
{
	size_t size = (size_t)f->len * sizeof(f->insns[0]);
	int fd = memfd_create("vmm-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (pwrite(fd, f->insns, size, 0) != (ssize_t)size ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int err = -errno;

		close(fd);
		return err ? err : -EIO;
	}
	return fd;
}

void jail_filter_free(struct jail_filter *f)
{
	free(f->insns);
	f->insns = NULL;
	f->len = 0;
}

int jail_filter_load(const struct jail_filter *f, unsigned int flags)
{
	struct sock_fprog prog = {.len = f->len, .filter = f->insns};
	long ret;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	return ret < 0 ? -errno : (int)ret;
}

/* Reads the filter main compiled from fd into f; closes fd. */
static int read_filter(int fd, struct jail_filter *f)
{
	struct stat st;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return -EINVAL;
	}
	f->insns = malloc((size_t)st.st_size);
	if (!f->insns) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, f->insns, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		jail_filter_free(f);
		return -EIO;
	}
	f->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

static void close_others(const struct jail_enter_args *a)
{
	unsigned int from = (unsigned int)a->keep_below;

	if (a->learn) {
		syscall(SYS_close_range, from, JAIL_HANDOVER_FD - 1, 0);
		from = JAIL_HANDOVER_FD + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

/*
 * In the user namespace of an unprivileged main, jail_map_ids() had to deny setgroups (the
 * kernel's condition for an unprivileged gid_map), so setgroups() always fails there: the
 * device keeps the supplementary groups of the user running vmm, with nothing in its empty root
 * to use them on. Read before the pivot hides /proc.
 */
static bool setgroups_denied(void)
{
	char buf[8] = "";
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n >= 4 && strncmp(buf, "deny", 4) == 0;
}

__attribute__((noreturn)) static void fail(const struct jail_enter_args *a, const char *step,
					   int err)
{
	log_err("jail: %s failed: %s; this host cannot jail %s (vmm run --no-jail runs devices "
		"unjailed)",
		step, strerror(-err), a->name);
	_exit(1);
}

int jail_enter(const struct jail_enter_args *a, int *listener)
{
	const struct rlimit nofile = {JAIL_NOFILE, JAIL_NOFILE}, core = {0, 0};
	struct jail_filter f;
	const char *step;
	bool keep_groups = setgroups_denied();
	int ret;

	ret = read_filter(a->filter_fd, &f);
	if (ret < 0)
		fail(a, "reading the seccomp filter", ret);
	/* The namespaces came with the process (jail_clone()); now the empty root. */
	ret = ns_pivot_to_empty_root(&step);
	if (ret < 0)
		fail(a, step, ret);
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
		fail(a, "setrlimit", -errno);
	close_others(a);
	ret = caps_drop_bounding();
	if (ret < 0)
		fail(a, "dropping the capability bounding set", ret);
	if (!keep_groups && setgroups(0, NULL) < 0)
		fail(a, "setgroups", -errno);
	if (setresgid(a->gid, a->gid, a->gid) < 0)
		fail(a, "setresgid", -errno);
	if (setresuid(a->uid, a->uid, a->uid) < 0)
		fail(a, "setresuid", -errno);
	ret = caps_clear_all();
	if (ret < 0)
		fail(a, "clearing capabilities", ret);
	/* jail_filter_load() sets PR_SET_NO_NEW_PRIVS first. */
	ret = jail_filter_load(&f, a->learn ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
	jail_filter_free(&f); /* free() only: no syscall the filter must allow */
	if (ret < 0)
		fail(a, "loading the seccomp filter", ret);
	if (listener)
		*listener = a->learn ? ret : -1;
	return 0;
}
