/*
 * The jail (jail/jail.c, ns.c, caps.c). Each jailing test clones a child into new namespaces
 * (jail_clone()), jails it there, and the child reports what it sees through a pipe before it
 * makes a syscall its filter does not allow; the parent asserts on the report and the status.
 *
 * jail_enter() only ever runs in a child of jail_clone() or in a child that cannot mount at
 * all: its pivot_root would otherwise move the root of the test's own mount namespace.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "seccomp.h"

/* The child's fds: the report pipe survives the jail, the extra ones must not. */
#define REPORT_FD 3
#define KEEP_BELOW 4
#define EXTRA_FD 20
#define FILTER_FD 40

/* Exit codes of a child that did not get as far as the report. */
enum child_exit {
	CHILD_RETURNED = 90, /* jail_enter() returned where it must _exit, or vice versa */
	CHILD_SETUP_FAILED,
	CHILD_MAP_FAILED,
	CHILD_NOT_TRAPPED, /* the forbidden syscall ran */
};

/* Everything the jailed child makes after the jail: its checks, the report, then getppid. */
static const char CHILD_POLICY[] = "# jail_test.c's child, after jail_enter()\n"
				   "write: 1\n"
				   "exit_group: 1\n"
				   "getpid: 1\n"
				   "getresuid: 1\n"
				   "getresgid: 1\n"
				   "getgroups: 1\n"
				   "openat: 1\n"
				   "getdents64: 1\n"
				   "close: 1\n"
				   "fcntl: 1\n"
				   "statfs: 1\n"
				   "prctl: 1\n"
				   "capget: 1\n"
				   "prlimit64: 1\n";

/* What the jailed child saw. */
struct report {
	pid_t pid;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int ngroups;
	int root_errno;	  /* of opening "/" */
	int root_entries; /* in "/", besides . and .. */
	long fs_type;
	long fs_flags;
	int create_errno; /* of creating /jail-test */
	int report_fd_errno, extra_fd_errno, below_handover_errno, above_handover_errno;
	int handover_fd_errno;
	int filter_fd_errno; /* jail_enter() closes the filter's fd */
	int no_new_privs;
	int seccomp;
	uint32_t cap_eff, cap_prm, cap_inh; /* both words or'ed */
	int capget_errno;
	int bounding; /* capabilities left in the bounding set */
	int ambient;
	struct rlimit nofile, core;
	int listener;
	int listener_errno;
};

struct child {
	bool userns;
	uid_t outer_uid; /* for jail_map_ids() */
	gid_t outer_gid;
	unsigned int uid; /* the jail's */
	unsigned int gid;
	bool learn;
	int filter_fd;
	int report_w; /* set by run_child() */
};

static bool under_asan(void)
{
	return SECCOMP_SANITIZED;
}

static void skip_unless_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("NOT RUN: this jail test needs root (the user namespace path has its "
			     "own tests)");
}

static void skip_under_asan(void)
{
	if (under_asan())
		cr_skip_test(
		    "NOT RUN: ASan's runtime makes syscalls the test filter does not allow");
}

static int fd_errno(int fd)
{
	return fcntl(fd, F_GETFD) < 0 ? errno : 0;
}

/* The child's filter (SECCOMP_MODE_TRAP, as main builds a device's) in a sealed memfd. */
static int child_filter(void)
{
	char path[] = "/tmp/jail_test-XXXXXX.policy", err[512] = "";
	const struct policy *ps[1];
	struct jail_filter f;
	struct policy p;
	int src = mkstemps(path, strlen(".policy")), fd;

	cr_assert_geq(src, 0, "mkstemps: %s", strerror(errno));
	cr_assert_eq(write(src, CHILD_POLICY, strlen(CHILD_POLICY)), (ssize_t)strlen(CHILD_POLICY));
	close(src);
	fd = policy_load(path, &p, err, sizeof(err));
	unlink(path);
	cr_assert_eq(fd, 0, "%s", err);
	ps[0] = &p;
	cr_assert_eq(seccomp_build(ps, 1, SECCOMP_MODE_TRAP, &f), 0);
	policy_free(&p);
	fd = jail_filter_memfd(&f);
	jail_filter_free(&f);
	cr_assert_geq(fd, 0, "jail_filter_memfd: %s", strerror(-fd));
	return fd;
}

static void read_root(struct report *r)
{
	char buf[1024] __attribute__((aligned(8)));
	long n;
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	r->root_errno = fd < 0 ? errno : 0;
	r->root_entries = -1;
	if (fd < 0)
		return;
	r->root_entries = 0;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
				r->root_entries++;
			off += d->d_reclen;
		}
	}
	close(fd);
}

static void read_caps(struct report *r)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};

	r->capget_errno = syscall(SYS_capget, &hdr, data) < 0 ? errno : 0;
	r->cap_eff = data[0].effective | data[1].effective;
	r->cap_prm = data[0].permitted | data[1].permitted;
	r->cap_inh = data[0].inheritable | data[1].inheritable;
	for (int c = 0; c < 64; c++) {
		int in_bounding = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (in_bounding < 0)
			break;
		r->bounding += in_bounding;
		r->ambient += prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0;
	}
}

/* Only syscalls of CHILD_POLICY from here on. */
static void observe(struct report *r)
{
	struct statfs sfs;
	int fd;

	r->pid = getpid();
	getresuid(&r->ruid, &r->euid, &r->suid);
	getresgid(&r->rgid, &r->egid, &r->sgid);
	r->ngroups = getgroups(0, NULL);
	read_root(r);
	if (statfs("/", &sfs) == 0) {
		r->fs_type = (long)sfs.f_type;
		r->fs_flags = (long)sfs.f_flags;
	}
	fd = open("/jail-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	r->create_errno = fd < 0 ? errno : 0;
	r->report_fd_errno = fd_errno(REPORT_FD);
	r->extra_fd_errno = fd_errno(EXTRA_FD);
	r->filter_fd_errno = fd_errno(FILTER_FD);
	r->below_handover_errno = fd_errno(JAIL_HANDOVER_FD - 1);
	r->handover_fd_errno = fd_errno(JAIL_HANDOVER_FD);
	r->above_handover_errno = fd_errno(JAIL_HANDOVER_FD + 1);
	r->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	r->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	read_caps(r);
	getrlimit(RLIMIT_NOFILE, &r->nofile);
	getrlimit(RLIMIT_CORE, &r->core);
	r->listener_errno = r->listener >= 0 ? fd_errno(r->listener) : 0;
}

/* Puts /dev/null on each of fds (extra fds the jail must close, or keep). */
static int open_extra(const int *fds, size_t n)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (dup2(null, fds[i]) < 0)
			return -1;
	close(null);
	return 0;
}

/* The child's fds as a device has them: filter first (it may sit on REPORT_FD), then report. */
static void child_fds(const struct child *c)
{
	static const int extra[] = {EXTRA_FD, JAIL_HANDOVER_FD - 1, JAIL_HANDOVER_FD,
				    JAIL_HANDOVER_FD + 1};

	if (dup2(c->filter_fd, FILTER_FD) < 0 || dup2(c->report_w, REPORT_FD) < 0 ||
	    open_extra(extra, sizeof(extra) / sizeof(extra[0])) < 0)
		_exit(CHILD_SETUP_FAILED);
}

/* In the child of jail_clone(): the device's half of the jail, a report, a forbidden call. */
static void jailed_child(const struct child *c)
{
	struct jail_enter_args a = {
	    .name = "jail_test",
	    .uid = c->uid,
	    .gid = c->gid,
	    .filter_fd = FILTER_FD,
	    .keep_below = KEEP_BELOW,
	    .learn = c->learn,
	};
	struct report r = {.listener = -1};

	if (c->userns && jail_map_ids(c->outer_uid, c->outer_gid) < 0)
		_exit(CHILD_MAP_FAILED);
	child_fds(c);
	if (jail_enter(&a, &r.listener) != 0)
		_exit(CHILD_RETURNED);
	observe(&r);
	if (write(REPORT_FD, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(CHILD_SETUP_FAILED);
	syscall(SYS_getppid); /* not in CHILD_POLICY: SIGSYS, no handler, the child dies */
	_exit(CHILD_NOT_TRAPPED);
}

static ssize_t read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(fd, (char *)buf + got, len - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Starts fn(c) in a child (of jail_clone(c->userns) when clone, else of fork()), reads up to len
 * bytes of what it writes on c->report_w, reaps it. Returns the bytes read, or the -errno of
 * jail_clone().
 */
static ssize_t run_child(struct child *c, bool clone, void (*fn)(const struct child *), void *out,
			 size_t len, int *status)
{
	ssize_t n;
	pid_t pid;
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	c->report_w = p[1];
	fflush(NULL);
	pid = clone ? jail_clone(c->userns) : fork();
	if (pid == 0) {
		close(p[0]);
		fn(c);
		_exit(CHILD_RETURNED);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return clone ? pid : -errno;
	}
	n = read_all(p[0], out, len);
	close(p[0]);
	cr_assert_eq(waitpid(pid, status, 0), pid);
	return n;
}

static const char *describe(int status)
{
	static char s[64];

	if (WIFSIGNALED(status))
		snprintf(s, sizeof(s), "killed by signal %d", WTERMSIG(status));
	else
		snprintf(s, sizeof(s), "exit status %d", WEXITSTATUS(status));
	return s;
}

/* Runs jailed_child as root, into uid/gid 65534 (as main does when it is root). */
static void run_root_child(struct report *r, int *status)
{
	struct child c = {.uid = JAIL_ID_DEFAULT, .gid = JAIL_ID_DEFAULT};
	ssize_t n;

	skip_unless_root();
	skip_under_asan();
	c.filter_fd = child_filter();
	n = run_child(&c, true, jailed_child, r, sizeof(*r), status);
	close(c.filter_fd);
	cr_assert_geq(n, 0, "jail_clone: %s", strerror((int)-n));
	cr_assert_eq(n, (ssize_t)sizeof(*r), "no report from the jailed child: %s",
		     describe(*status));
}

static void assert_trapped(int status)
{
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
		  "a syscall outside the filter did not raise SIGSYS: %s", describe(status));
}

/* ---- as root: jail_clone(false), then jail_enter() to 65534:65534 ---- */

Test(jail, root_child_has_own_pid_ns_and_jail_ids)
{
	struct report r;
	int status;

	run_root_child(&r, &status);
	cr_expect_eq(r.pid, 1, "getpid() %d in its own pid namespace", (int)r.pid);
	cr_expect(r.ruid == 65534 && r.euid == 65534 && r.suid == 65534, "uids %u %u %u", r.ruid,
		  r.euid, r.suid);
	cr_expect(r.rgid == 65534 && r.egid == 65534 && r.sgid == 65534, "gids %u %u %u", r.rgid,
		  r.egid, r.sgid);
	cr_expect_eq(r.ngroups, 0, "%d supplementary groups left", r.ngroups);
	assert_trapped(status);
}

Test(jail, root_is_an_empty_read_only_tmpfs)
{
	struct report r;
	int status;

	run_root_child(&r, &status);
	cr_expect_eq(r.root_errno, 0, "open /: %s", strerror(r.root_errno));
	cr_expect_eq(r.root_entries, 0, "/ has %d entries besides . and ..", r.root_entries);
	cr_expect_eq(r.fs_type, (long)TMPFS_MAGIC, "/ is fs type %#lx", r.fs_type);
	cr_expect_eq(r.fs_flags & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC),
		     ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC, "/ mount flags %#lx",
		     r.fs_flags);
	cr_expect(r.create_errno == EROFS || r.create_errno == EACCES,
		  "creating /jail-test: %s (want EROFS or EACCES)", strerror(r.create_errno));
	assert_trapped(status);
}

Test(jail, root_child_keeps_only_fds_below_keep_below)
{
	struct report r;
	int status;

	run_root_child(&r, &status);
	cr_expect_eq(r.report_fd_errno, 0, "fd %d (below keep_below) closed", REPORT_FD);
	cr_expect_eq(r.extra_fd_errno, EBADF, "fd %d still open", EXTRA_FD);
	cr_expect_eq(r.filter_fd_errno, EBADF, "the filter's fd %d still open", FILTER_FD);
	cr_expect_eq(r.handover_fd_errno, EBADF, "fd %d kept without learn", JAIL_HANDOVER_FD);
	cr_expect_eq(r.above_handover_errno, EBADF, "fd %d still open", JAIL_HANDOVER_FD + 1);
	cr_expect_eq(r.listener, -1, "a listener %d without learn", r.listener);
	assert_trapped(status);
}

Test(jail, root_child_has_no_caps_and_no_new_privs)
{
	struct report r;
	int status;

	run_root_child(&r, &status);
	cr_expect_eq(r.capget_errno, 0, "capget: %s", strerror(r.capget_errno));
	cr_expect(r.cap_eff == 0 && r.cap_prm == 0 && r.cap_inh == 0,
		  "capabilities left: effective %#x permitted %#x inheritable %#x", r.cap_eff,
		  r.cap_prm, r.cap_inh);
	cr_expect_eq(r.bounding, 0, "%d capabilities left in the bounding set", r.bounding);
	cr_expect_eq(r.ambient, 0, "%d ambient capabilities left", r.ambient);
	cr_expect_eq(r.no_new_privs, 1, "PR_GET_NO_NEW_PRIVS %d", r.no_new_privs);
	assert_trapped(status);
}

Test(jail, root_child_rlimits)
{
	struct report r;
	int status;

	run_root_child(&r, &status);
	cr_expect(r.nofile.rlim_cur == JAIL_NOFILE && r.nofile.rlim_max == JAIL_NOFILE,
		  "RLIMIT_NOFILE %llu/%llu", (unsigned long long)r.nofile.rlim_cur,
		  (unsigned long long)r.nofile.rlim_max);
	cr_expect(r.core.rlim_cur == 0 && r.core.rlim_max == 0, "RLIMIT_CORE %llu/%llu",
		  (unsigned long long)r.core.rlim_cur, (unsigned long long)r.core.rlim_max);
	assert_trapped(status);
}

/* The filter came from the memfd: what it allows ran (the report), the rest traps. */
Test(jail, root_child_filter_allows_its_policy_and_traps_the_rest)
{
	struct report r;
	int status;

	run_root_child(&r, &status);
	cr_expect_eq(r.seccomp, 2, "PR_GET_SECCOMP %d (2: filter mode)", r.seccomp);
	assert_trapped(status);
}

Test(jail, learn_keeps_the_handover_fd_and_returns_a_listener)
{
	struct child c = {.uid = JAIL_ID_DEFAULT, .gid = JAIL_ID_DEFAULT, .learn = true};
	struct report r;
	ssize_t n;
	int status;

	skip_unless_root();
	skip_under_asan();
	c.filter_fd = child_filter();
	n = run_child(&c, true, jailed_child, &r, sizeof(r), &status);
	close(c.filter_fd);
	cr_assert_eq(n, (ssize_t)sizeof(r), "no report from the jailed child: %s",
		     describe(status));
	cr_expect_geq(r.listener, 0, "no listener");
	cr_expect_eq(r.listener_errno, 0, "listener fd %d not open", r.listener);
	cr_expect_eq(r.handover_fd_errno, 0, "fd %d closed while learning", JAIL_HANDOVER_FD);
	cr_expect_eq(r.below_handover_errno, EBADF, "fd %d still open", JAIL_HANDOVER_FD - 1);
	cr_expect_eq(r.above_handover_errno, EBADF, "fd %d still open", JAIL_HANDOVER_FD + 1);
	cr_expect_eq(r.extra_fd_errno, EBADF, "fd %d still open", EXTRA_FD);
	assert_trapped(status);
}

/* ---- the namespaces of jail_clone() ---- */

static const char *const NS_NAMES[] = {"pid", "mnt", "net", "ipc", "uts", "user"};
#define NS_COUNT (sizeof(NS_NAMES) / sizeof(NS_NAMES[0]))

struct ns_report {
	char links[NS_COUNT][64];
	int nifs;
	char ifname[IF_NAMESIZE];
};

static void read_ns(char links[NS_COUNT][64])
{
	char path[64];

	for (size_t i = 0; i < NS_COUNT; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", NS_NAMES[i]);
		n = readlink(path, links[i], 63);
		links[i][n > 0 ? n : 0] = '\0';
	}
}

static void ns_child(const struct child *c)
{
	struct ns_report r = {0};
	struct if_nameindex *ifs;

	if (c->userns && jail_map_ids(c->outer_uid, c->outer_gid) < 0)
		_exit(CHILD_MAP_FAILED);
	read_ns(r.links);
	ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++) {
		if (r.nifs++ == 0)
			snprintf(r.ifname, sizeof(r.ifname), "%s", i->if_name);
	}
	if (write(c->report_w, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(CHILD_SETUP_FAILED);
	_exit(0);
}

static void check_namespaces(bool userns)
{
	struct child c = {.userns = userns, .outer_uid = geteuid(), .outer_gid = getegid()};
	char parent[NS_COUNT][64];
	struct ns_report r;
	ssize_t n;
	int status;

	read_ns(parent);
	n = run_child(&c, true, ns_child, &r, sizeof(r), &status);
	if (userns && (n == -EPERM || n == -EINVAL || n == -ENOSPC || n == -EUSERS))
		cr_skip_test("NOT RUN: no user namespaces for this user here (%s)",
			     strerror((int)-n));
	cr_assert_geq(n, 0, "jail_clone(%d): %s", userns, strerror((int)-n));
	cr_assert_eq(n, (ssize_t)sizeof(r), "no report: %s", describe(status));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", describe(status));
	for (size_t i = 0; i < NS_COUNT; i++) {
		bool want_same = strcmp(NS_NAMES[i], "user") == 0 && !userns;

		cr_expect_neq(parent[i][0], '\0', "readlink /proc/self/ns/%s", NS_NAMES[i]);
		if (want_same)
			cr_expect_str_eq(r.links[i], parent[i], "%s namespace changed",
					 NS_NAMES[i]);
		else
			cr_expect_str_neq(r.links[i], parent[i], "%s namespace shared: %s",
					  NS_NAMES[i], r.links[i]);
	}
	cr_expect_eq(r.nifs, 1, "%d network interfaces in the new net namespace", r.nifs);
	cr_expect_str_eq(r.ifname, "lo");
}

Test(jail, clone_gives_new_pid_mnt_net_ipc_uts_namespaces)
{
	skip_unless_root();
	check_namespaces(false);
}

Test(jail, clone_with_userns_also_gives_a_user_namespace)
{
	check_namespaces(true);
}

/* ---- the user namespace path (vmm not root): jail_enter() to 0:0 inside ---- */

Test(jail, userns_child_is_jailed)
{
	struct child c = {.userns = true, .outer_uid = geteuid(), .outer_gid = getegid()};
	struct report r;
	ssize_t n;
	int status;

	skip_under_asan();
	c.filter_fd = child_filter();
	n = run_child(&c, true, jailed_child, &r, sizeof(r), &status);
	close(c.filter_fd);
	if (n == -EPERM || n == -EINVAL || n == -ENOSPC || n == -EUSERS)
		cr_skip_test("NOT RUN: no user namespaces for this user here (%s)",
			     strerror((int)-n));
	cr_assert_geq(n, 0, "jail_clone(true): %s", strerror((int)-n));
	cr_assert_eq(n, (ssize_t)sizeof(r), "no report from the jailed child: %s",
		     describe(status));
	cr_expect_eq(r.pid, 1);
	cr_expect(r.ruid == 0 && r.euid == 0 && r.suid == 0, "uids %u %u %u", r.ruid, r.euid,
		  r.suid);
	cr_expect(r.rgid == 0 && r.egid == 0 && r.sgid == 0, "gids %u %u %u", r.rgid, r.egid,
		  r.sgid);
	cr_expect_eq(r.root_entries, 0, "/ has %d entries besides . and ..", r.root_entries);
	cr_expect(r.fs_flags & ST_RDONLY, "/ is writable");
	cr_expect(r.cap_eff == 0 && r.cap_prm == 0 && r.cap_inh == 0,
		  "capabilities left: effective %#x permitted %#x inheritable %#x", r.cap_eff,
		  r.cap_prm, r.cap_inh);
	cr_expect_eq(r.bounding, 0, "%d capabilities left in the bounding set", r.bounding);
	cr_expect_eq(r.no_new_privs, 1);
	cr_expect_eq(r.extra_fd_errno, EBADF, "fd %d still open", EXTRA_FD);
	cr_expect_eq(r.nofile.rlim_max, (rlim_t)JAIL_NOFILE);
	assert_trapped(status);
}

/* ---- failures name their step ---- */

/* Without root and capabilities (and no user namespace): the first mount fails. */
static void unprivileged_child(const struct child *c)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	struct jail_enter_args a = {
	    .name = "jail_test",
	    .uid = JAIL_ID_DEFAULT,
	    .gid = JAIL_ID_DEFAULT,
	    .filter_fd = c->filter_fd,
	    .keep_below = KEEP_BELOW,
	};

	if (geteuid() == 0 && (setgroups(0, NULL) < 0 ||
			       setresgid(JAIL_ID_DEFAULT, JAIL_ID_DEFAULT, JAIL_ID_DEFAULT) < 0 ||
			       setresuid(JAIL_ID_DEFAULT, JAIL_ID_DEFAULT, JAIL_ID_DEFAULT) < 0))
		_exit(CHILD_SETUP_FAILED);
	/* Anything effective left (a capable non-root user) and it could mount: stop here. */
	if (syscall(SYS_capget, &hdr, data) < 0 || data[0].effective || data[1].effective)
		_exit(CHILD_SETUP_FAILED);
	if (dup2(c->report_w, STDERR_FILENO) < 0)
		_exit(CHILD_SETUP_FAILED);
	jail_enter(&a, NULL);
	_exit(CHILD_RETURNED);
}

/*
 * Runs unprivileged_child with filter_fd and returns its stderr in buf. As root it runs in new
 * namespaces; as another user a plain fork() cannot touch any mount either.
 */
static void run_failing(int filter_fd, char *buf, size_t len, int *status)
{
	struct child c = {.filter_fd = filter_fd};
	ssize_t n = run_child(&c, geteuid() == 0, unprivileged_child, buf, len - 1, status);

	cr_assert_geq(n, 0, "starting the child: %s", strerror((int)-n));
	buf[n] = '\0';
	cr_assert(WIFEXITED(*status) && WEXITSTATUS(*status) == 1, "want exit status 1, got %s; %s",
		  describe(*status), buf);
}

Test(jail, unprivileged_enter_fails_naming_the_mount_step)
{
	char err[2048];
	int status, fd = child_filter();

	run_failing(fd, err, sizeof(err), &status);
	close(fd);
	cr_expect(strstr(err, "jail: make mounts private failed: ") != NULL, "stderr: %s", err);
	cr_expect(strstr(err, strerror(EPERM)) != NULL, "stderr: %s", err);
	cr_expect(strstr(err, "jail_test") != NULL, "the device's name missing: %s", err);
	cr_expect(strstr(err, "--no-jail") != NULL, "the way out missing: %s", err);
}

Test(jail, a_filter_fd_of_no_filter_fails_before_anything)
{
	char err[2048];
	int status, fd = memfd_create("not-a-filter", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "12345", 5), 5); /* not a whole sock_filter */
	run_failing(fd, err, sizeof(err), &status);
	close(fd);
	cr_expect(strstr(err, "jail: reading the seccomp filter failed: ") != NULL, "stderr: %s",
		  err);
	cr_expect(strstr(err, "--no-jail") != NULL, "the way out missing: %s", err);
}

/* ---- jail_policy_dir() ---- */

#define EXISTING_DIR TEST_DATA_DIR
#define MISSING_DIR "/nonexistent/jail_test/policies"

Test(jail, policy_dir_configured_wins)
{
	char out[4096];

	cr_assert_eq(setenv("VMM_POLICY_DIR", "/", 1), 0);
	cr_assert_eq(jail_policy_dir(EXISTING_DIR, out, sizeof(out)), 0);
	cr_expect_str_eq(out, EXISTING_DIR);
}

Test(jail, policy_dir_from_environment_next)
{
	char out[4096];

	cr_assert_eq(setenv("VMM_POLICY_DIR", EXISTING_DIR, 1), 0);
	cr_assert_eq(jail_policy_dir(NULL, out, sizeof(out)), 0);
	cr_expect_str_eq(out, EXISTING_DIR);
}

Test(jail, policy_dir_missing_configured_is_enoent)
{
	char out[4096];

	cr_assert_eq(setenv("VMM_POLICY_DIR", EXISTING_DIR, 1), 0);
	cr_expect_eq(jail_policy_dir(MISSING_DIR, out, sizeof(out)), -ENOENT);
	/* A file is no directory either. */
	cr_expect_eq(jail_policy_dir(TEST_DATA_DIR "/../unit/jail_test.c", out, sizeof(out)),
		     -ENOENT);
}

Test(jail, policy_dir_missing_environment_is_enoent)
{
	char out[4096];

	cr_assert_eq(setenv("VMM_POLICY_DIR", MISSING_DIR, 1), 0);
	cr_expect_eq(jail_policy_dir(NULL, out, sizeof(out)), -ENOENT);
}

/* A build-tree binary without either: the source tree's policies, when they exist. */
Test(jail, policy_dir_default_is_the_source_tree)
{
	const char *src = TEST_DATA_DIR "/../../policies/x86_64";
	struct stat want, got;
	char out[4096];
	int ret;

	cr_assert_eq(unsetenv("VMM_POLICY_DIR"), 0);
	ret = jail_policy_dir(NULL, out, sizeof(out));
	if (stat(src, &want) < 0 || !S_ISDIR(want.st_mode)) {
		cr_expect_eq(ret, -ENOENT, "no %s, yet %s", src, out);
		return;
	}
	cr_assert_eq(ret, 0);
	cr_assert_eq(stat(out, &got), 0, "%s", out);
	cr_expect(got.st_dev == want.st_dev && got.st_ino == want.st_ino, "%s is not %s", out, src);
}

/* ---- jail_filter_memfd() ---- */

Test(jail, filter_memfd_is_sealed_and_holds_the_filter)
{
	struct sock_filter insns[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0x7fff0000),
	    BPF_STMT(BPF_RET | BPF_K, 0x80000000),
	};
	struct jail_filter f = {.insns = insns, .len = sizeof(insns) / sizeof(insns[0])};
	struct sock_filter back[8];
	struct stat st;
	int fd = jail_filter_memfd(&f);

	cr_assert_geq(fd, 0, "jail_filter_memfd: %s", strerror(-fd));
	cr_expect_eq(fcntl(fd, F_GET_SEALS),
		     F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC, "not CLOEXEC");
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_size, (off_t)(f.len * 8));
	cr_assert_eq(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(insns));
	cr_expect_arr_eq(back, insns, sizeof(insns));
	cr_expect_eq(pwrite(fd, "x", 1, 0), -1);
	cr_expect_eq(errno, EPERM);
	cr_expect_eq(ftruncate(fd, 0), -1);
	close(fd);
}

Test(jail, filter_memfd_of_a_built_policy)
{
	int fd;
	struct stat st;

	fd = child_filter();
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_gt(st.st_size, 0);
	cr_expect_eq(st.st_size % (off_t)sizeof(struct sock_filter), 0);
	cr_expect_eq(fcntl(fd, F_GET_SEALS),
		     F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	close(fd);
}
