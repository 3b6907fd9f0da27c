/* Namespaces and the empty root of a device's jail. See jail.h. */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t clone_with(bool userns, unsigned long flags)
{
	long pid;

	flags |= CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
	if (userns)
		flags |= CLONE_NEWUSER;
	/* Like fork(), with namespaces: unshare(CLONE_NEWPID) would only move the children. */
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
	return pid < 0 ? -errno : (pid_t)pid;
}

pid_t jail_clone(bool userns)
{
	return clone_with(userns, SIGCHLD);
}

pid_t jail_clone_sibling(bool userns)
{
	/* the exit signal is the caller's own (SIGCHLD for a forked warden) */
	return clone_with(userns, CLONE_PARENT);
}

/* Writes "0 <id> 1\n" (or text when id < 0) to path; async-signal-safe. */
static int write_map(const char *path, long id, const char *text)
{
	char buf[32], digits[24];
	size_t n = 0, d = 0;
	ssize_t w;
	int fd;

	if (id >= 0) {
		do {
			digits[d++] = (char)('0' + id % 10);
			id /= 10;
		} while (id > 0);
		buf[n++] = '0';
		buf[n++] = ' ';
		while (d > 0)
			buf[n++] = digits[--d];
		memcpy(buf + n, " 1\n", 3);
		n += 3;
	} else {
		n = strlen(text);
		memcpy(buf, text, n);
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, buf, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -EIO;
}

int jail_map_ids(uid_t outer_uid, gid_t outer_gid)
{
	int ret = write_map("/proc/self/setgroups", -1, "deny\n");

	if (ret == 0)
		ret = write_map("/proc/self/uid_map", (long)outer_uid, NULL);
	if (ret == 0)
		ret = write_map("/proc/self/gid_map", (long)outer_gid, NULL);
	return ret;
}

/*
 * In the device's own mount namespace: an empty tmpfs becomes / (mounted over /tmp, which every
 * host has, then pivot_root(".", ".") and the old root detached) and is made read-only.
 */
int ns_pivot_to_empty_root(const char **step)
{
	/* Nothing of what follows may propagate back to the host's mounts. */
	*step = "make mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	*step = "mount an empty tmpfs";
	if (mount("vmm-jail", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=2,mode=0555") < 0)
		return -errno;
	*step = "pivot_root";
	if (chdir("/tmp") < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	*step = "detach the old root";
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -errno;
	*step = "remount the root read-only";
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return -errno;
	return 0;
}
