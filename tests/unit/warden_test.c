/*
 * warden: the jail warden (main/warden.h) through its API, with an exec function of the test's
 * own in place of vmm-device. The device it clones is the caller's child, not the warden's, in
 * new pid, mount, net, ipc and uts namespaces; it finds the fds where they were given, its two
 * tubes where the warden put them, and argv as sent. An argv without --jail is refused and
 * starts nothing. The warden serves many, keeps only its socket, the kept fd and four
 * capabilities, stops when told or when its socket closes, and dies with its parent.
 * Runs as root. Every wait is a bounded poll.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "warden.h"

#define OTHER_FD 2  /* fds[2]: a second pipe, so positions can be told apart */
#define REPORT_FD 3 /* fds[3]: the pipe the device reports on */
#define ARGS_CAP 512
#define EXIT_DONE 42 /* the device ran the whole exchange */
#define WAIT_MS 5000
/* what the warden keeps: namespaces and mounts, becoming nobody, emptying the bounding set */
#define KEPT_CAPS                                                                                  \
	((1ull << CAP_SYS_ADMIN) | (1ull << CAP_SETUID) | (1ull << CAP_SETGID) |                   \
	 (1ull << CAP_SETPCAP))

/* What the device saw, written in one piece (under PIPE_BUF) to fds[REPORT_FD]. */
struct report {
	pid_t pid;	       /* 1 in a pid namespace of its own */
	int ctx_ok;	       /* the ctx warden_start got */
	int fds[WARDEN_FDS];   /* as the exec function got them */
	ino_t ino[WARDEN_FDS]; /* fstat of each, 0 for -1 */
	int sotype[2];	       /* SO_TYPE of the tubes */
	int argc;
	size_t args_len;
	char args[ARGS_CAP]; /* argv, NUL-separated */
};
_Static_assert(sizeof(struct report) < 4096, "one atomic pipe write");

static const char ctx_tag[] = "warden_test";

/* ---- in the device (async-signal-safe only) ---- */

/* One message on fd, answered on the same fd with tag in front; 10 s at most. */
static void echo(int fd, const char *tag)
{
	char in[128], out[160];
	size_t tlen = strlen(tag);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 10000) != 1)
		_exit(11);
	n = recv(fd, in, sizeof(in), 0);
	if (n <= 0)
		_exit(12);
	memcpy(out, tag, tlen);
	memcpy(out + tlen, in, (size_t)n);
	if (send(fd, out, tlen + (size_t)n, MSG_NOSIGNAL) != (ssize_t)(tlen + (size_t)n))
		_exit(13);
}

/* The exec function: reports what it got, answers one message per tube, exits EXIT_DONE. */
static void probe_exec(void *ctx, const int *fds, char *const *argv)
{
	struct report r;

	memset(&r, 0, sizeof(r));
	r.pid = getpid();
	r.ctx_ok = ctx == ctx_tag;
	for (int i = 0; i < WARDEN_FDS; i++) {
		struct stat st;

		r.fds[i] = fds[i];
		if (fds[i] >= 0 && fstat(fds[i], &st) == 0)
			r.ino[i] = st.st_ino;
	}
	for (int t = 0; t < 2; t++) {
		socklen_t len = sizeof(r.sotype[t]);

		if (getsockopt(fds[t], SOL_SOCKET, SO_TYPE, &r.sotype[t], &len) < 0)
			r.sotype[t] = -1;
	}
	for (; argv[r.argc]; r.argc++) {
		size_t len = strlen(argv[r.argc]) + 1;

		if (r.args_len + len > sizeof(r.args))
			_exit(14);
		memcpy(r.args + r.args_len, argv[r.argc], len);
		r.args_len += len;
	}
	if (fds[REPORT_FD] < 0 || write(fds[REPORT_FD], &r, sizeof(r)) != sizeof(r))
		_exit(15);
	echo(fds[WARDEN_FD_CTRL], "ctrl:");
	echo(fds[WARDEN_FD_MEM], "mem:");
	_exit(EXIT_DONE);
}

/* ---- helpers ---- */

static void sleep_ms(long ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

	nanosleep(&t, NULL);
}

/* pid's wait status, waiting up to limit_ms; -1 if it still runs then. */
static int reap_within(pid_t pid, int limit_ms)
{
	int st;

	for (int waited = 0; waited <= limit_ms; waited += 10) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		cr_assert_geq(r, 0, "waitpid(%d): %s", pid, strerror(errno));
		if (r == pid)
			return st;
		sleep_ms(10);
	}
	return -1;
}

/* This thread's children, as /proc lists them; their count. */
static int children(pid_t *out, int max)
{
	char path[64];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", gettid());
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (n < max && fscanf(f, "%d", &out[n]) == 1)
		n++;
	fclose(f);
	return n;
}

/* Whatever a failed test left running is killed and reaped. */
static void kill_children(void)
{
	pid_t pids[64];
	int n = children(pids, ARRAY_SIZE(pids));

	for (int i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
}

TestSuite(warden, .fini = kill_children, .timeout = 30);

static int devnull(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	return fd;
}

static void start(struct warden *w, bool userns, int keep_fd)
{
	cr_assert_eq(warden_start(w, userns, keep_fd, probe_exec, (void *)ctx_tag), 0);
	cr_assert_gt(w->pid, 0);
	cr_assert_geq(w->fd, 0);
}

static void make_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
}

static ino_t ino_of(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_ino;
}

/* The link /proc/PID/ns/NAME ("pid:[4026531836]"); pid 0: this process. */
static void ns_of(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	n = readlink(path, buf, len - 1);
	cr_assert_gt(n, 0, "%s: %s", path, strerror(errno));
	buf[n] = '\0';
}

static bool same_ns(pid_t pid, const char *name)
{
	char theirs[64], ours[64];

	ns_of(pid, name, theirs, sizeof(theirs));
	ns_of(0, name, ours, sizeof(ours));
	return strcmp(theirs, ours) == 0;
}

/* A field of /proc/PID/status ("CapEff") as a number in base. */
static unsigned long long status_field(pid_t pid, const char *key, int base)
{
	char path[64], *line = NULL;
	size_t cap = 0, klen = strlen(key);
	unsigned long long v = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (!found && getline(&line, &cap, f) > 0)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtoull(line + klen + 1, NULL, base);
			found = true;
		}
	free(line);
	fclose(f);
	cr_assert(found, "%s: no %s", path, key);
	return v;
}

/* A device spawned with a report pipe: what it reported, main's ends of its tubes. */
struct probe {
	pid_t pid;
	int ctrl, mem;
	struct report r;
	ino_t other_ino, report_ino;
};

/*
 * Spawns argv with fds[OTHER_FD] and fds[REPORT_FD] pipes of the test's, fds[4] absent and
 * fds[0] and fds[1] set to a pipe too (the warden must put the tubes there instead). Reads the
 * device's report.
 */
static void spawn_probe(struct warden *w, char *const *argv, struct probe *p)
{
	int other[2], rep[2], fds[WARDEN_FDS];
	ssize_t n;

	make_pipe(other);
	make_pipe(rep);
	fds[WARDEN_FD_CTRL] = other[0];
	fds[WARDEN_FD_MEM] = other[0];
	fds[OTHER_FD] = other[1];
	fds[REPORT_FD] = rep[1];
	fds[4] = -1;
	p->other_ino = ino_of(other[1]);
	p->report_ino = ino_of(rep[1]);
	p->ctrl = p->mem = -1;
	p->pid = warden_spawn(w, fds, argv, &p->ctrl, &p->mem);
	cr_assert_gt(p->pid, 0, "warden_spawn: %s", strerror(-p->pid));
	close(other[0]);
	close(other[1]);
	close(rep[1]);
	/* the warden closed its copies: the device holds the only writer, EOF if it died */
	n = read(rep[0], &p->r, sizeof(p->r));
	close(rep[0]);
	cr_assert_eq(n, (ssize_t)sizeof(p->r), "no report from the device (read %zd)", n);
}

/* One message each way on tube fd, which the device answers with tag in front. */
static void exchange(int fd, const char *msg, const char *tag)
{
	char want[64], got[64];
	ssize_t n;

	snprintf(want, sizeof(want), "%s%s", tag, msg);
	cr_assert_eq(send(fd, msg, strlen(msg), MSG_NOSIGNAL), (ssize_t)strlen(msg));
	n = recv(fd, got, sizeof(got) - 1, 0);
	cr_assert_gt(n, 0, "no answer on the %s tube", tag);
	got[n] = '\0';
	cr_assert_str_eq(got, want);
}

/* Lets the device finish (one message per tube) and reaps it: it must exit EXIT_DONE. */
static void finish_probe(struct probe *p)
{
	int st;

	exchange(p->ctrl, "hello", "ctrl:");
	exchange(p->mem, "memory", "mem:");
	st = reap_within(p->pid, WAIT_MS);
	cr_assert(st != -1, "device %d did not exit", p->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == EXIT_DONE, "device status 0x%x", st);
	close(p->ctrl);
	close(p->mem);
}

/* --jail first, where main puts it: an option vmm-device's getopt cannot take for a value */
static char *const jailed_argv[] = {"vmm-device", "--jail", "0:0", "--type", "rng",
				    "--",	  "a b",    "",	   "last",   NULL};

/* ---- the device ---- */

Test(warden, device_is_our_child_in_new_namespaces)
{
	static const char *const fresh[] = {"pid", "mnt", "net", "ipc", "uts"};
	struct warden w;
	struct probe p;
	int keep = devnull();

	start(&w, false, keep);
	spawn_probe(&w, jailed_argv, &p);
	cr_assert_eq(p.r.pid, 1, "getpid() in the device: %d", p.r.pid);
	cr_assert(p.r.ctx_ok, "the exec function got another ctx");
	/* CLONE_PARENT: main's child, so main reaps it and hears SIGCHLD */
	cr_assert_eq(status_field(p.pid, "PPid", 10), (unsigned long long)getpid());
	for (size_t i = 0; i < ARRAY_SIZE(fresh); i++)
		cr_assert(!same_ns(p.pid, fresh[i]), "the device shares our %s namespace",
			  fresh[i]);
	cr_assert(same_ns(p.pid, "user"), "userns=false, yet a user namespace");
	/* the warden itself stays where main is */
	for (size_t i = 0; i < ARRAY_SIZE(fresh); i++)
		cr_assert(same_ns(w.pid, fresh[i]), "the warden left our %s namespace", fresh[i]);
	finish_probe(&p);
	warden_stop(&w);
	close(keep);
}

Test(warden, fds_arrive_where_given)
{
	struct warden w;
	struct probe p;

	start(&w, false, -1);
	spawn_probe(&w, jailed_argv, &p);
	cr_assert_eq(p.r.ino[OTHER_FD], p.other_ino, "fds[%d] is not the pipe given there",
		     OTHER_FD);
	cr_assert_eq(p.r.ino[REPORT_FD], p.report_ino, "fds[%d] is not the pipe given there",
		     REPORT_FD);
	cr_assert_eq(p.r.fds[4], -1, "an absent fd arrived as %d", p.r.fds[4]);
	/* the warden's tubes, not the pipe the test put at those positions */
	cr_assert_eq(p.r.sotype[WARDEN_FD_CTRL], SOCK_SEQPACKET);
	cr_assert_eq(p.r.sotype[WARDEN_FD_MEM], SOCK_SEQPACKET);
	cr_assert_neq(p.r.ino[WARDEN_FD_CTRL], p.r.ino[WARDEN_FD_MEM]);
	for (int t = 0; t < 2; t++) {
		int fd = t ? p.mem : p.ctrl, type = 0;
		socklen_t len = sizeof(type);

		cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
		cr_assert_eq(type, SOCK_SEQPACKET);
		cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "main's end of tube %d not CLOEXEC", t);
	}
	/* each of main's ends reaches the device's end at its own position */
	finish_probe(&p);
	warden_stop(&w);
}

Test(warden, argv_arrives_intact)
{
	static const char want[] = "vmm-device\0--jail\0000:0\0--type\0rng\0--\0a b\0\0last";
	struct warden w;
	struct probe p;

	start(&w, false, -1);
	spawn_probe(&w, jailed_argv, &p);
	cr_assert_eq(p.r.argc, 9);
	cr_assert_eq(p.r.args_len, sizeof(want));
	cr_assert_eq(memcmp(p.r.args, want, sizeof(want)), 0);
	finish_probe(&p);
	warden_stop(&w);
}

Test(warden, user_namespace_when_asked)
{
	struct warden w;
	struct probe p;

	start(&w, true, -1);
	spawn_probe(&w, jailed_argv, &p);
	cr_assert_eq(p.r.pid, 1);
	cr_assert(!same_ns(p.pid, "user"), "userns=true, yet our user namespace");
	cr_assert(!same_ns(p.pid, "net"));
	finish_probe(&p);
	warden_stop(&w);
}

/* ---- refusals ---- */

/*
 * argv refused with want, and nothing started: the report pipe has no writer left (a device
 * would hold one) and the warden is still our only child.
 */
static void refused(struct warden *w, char *const *argv, int want)
{
	int rep[2], fds[WARDEN_FDS] = {-1, -1, -1, -1, -1}, ctrl = -1, mem = -1;
	struct pollfd pfd;
	pid_t kids[8];
	char c;

	make_pipe(rep);
	fds[REPORT_FD] = rep[1];
	cr_assert_eq(warden_spawn(w, fds, argv, &ctrl, &mem), want);
	close(rep[1]);
	pfd = (struct pollfd){.fd = rep[0], .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 0), 1, "someone still holds the report pipe");
	cr_assert_eq(read(rep[0], &c, 1), 0, "a device reported");
	close(rep[0]);
	cr_assert_eq(children(kids, ARRAY_SIZE(kids)), 1);
	cr_assert_eq(kids[0], w->pid);
}

Test(warden, refuses_argv_without_jail)
{
	char *const plain[] = {"vmm-device", "--type", "rng", "--", "x", NULL};
	char *const lookalikes[] = {"vmm-device", "--jail=0:0", "--jailx",
				    "x--jail",	  "--JAIL",	NULL};
	/* "--jail" where getopt would not read it as the option */
	char *const as_value[] = {"vmm-device", "--name", "--jail", "--type", "rng", NULL};
	char *const after_dashes[] = {"vmm-device", "--type", "rng", "--", "--jail", NULL};
	char *const as_argv0[] = {"--jail", "--type", "rng", NULL};
	char *const empty[] = {NULL};
	struct warden w;
	struct probe p;

	start(&w, false, -1);
	refused(&w, plain, -EPERM);
	refused(&w, lookalikes, -EPERM);
	refused(&w, as_value, -EPERM);
	refused(&w, after_dashes, -EPERM);
	refused(&w, as_argv0, -EPERM);
	refused(&w, empty, -EINVAL);
	/* still serving */
	spawn_probe(&w, jailed_argv, &p);
	finish_probe(&p);
	warden_stop(&w);
}

Test(warden, refuses_argv_too_long)
{
	static char big[WARDEN_ARGS_MAX];
	char *const argv[] = {"vmm-device", "--jail", big, NULL};
	char *many[80];
	struct warden w;

	memset(big, 'x', sizeof(big) - 1);
	start(&w, false, -1);
	refused(&w, argv, -E2BIG);
	for (size_t i = 0; i < ARRAY_SIZE(many) - 1; i++)
		many[i] = "--jail";
	many[ARRAY_SIZE(many) - 1] = NULL;
	refused(&w, many, -E2BIG);
	warden_stop(&w);
}

/* ---- the warden ---- */

Test(warden, serves_many)
{
	struct probe p[3];
	struct warden w;
	pid_t kids[8];
	char ns0[64], ns1[64];

	start(&w, false, -1);
	/* all alive at once, each with its own tubes and namespaces */
	for (size_t i = 0; i < ARRAY_SIZE(p); i++)
		spawn_probe(&w, jailed_argv, &p[i]);
	cr_assert_eq(children(kids, ARRAY_SIZE(kids)), 1 + (int)ARRAY_SIZE(p));
	ns_of(p[0].pid, "pid", ns0, sizeof(ns0));
	ns_of(p[1].pid, "pid", ns1, sizeof(ns1));
	cr_assert_str_neq(ns0, ns1);
	for (size_t i = ARRAY_SIZE(p); i-- > 0;)
		finish_probe(&p[i]);
	spawn_probe(&w, jailed_argv, &p[0]);
	finish_probe(&p[0]);
	warden_stop(&w);
}

/* The names in /proc/PID/fd, their count. */
static int fds_of(pid_t pid, int *out, int max)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	cr_assert_not_null(d, "%s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && n < max)
			out[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

static void fd_target(pid_t pid, int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, buf, len - 1);
	cr_assert_gt(n, 0, "%s: %s", path, strerror(errno));
	buf[n] = '\0';
}

Test(warden, keeps_four_capabilities)
{
	struct warden w;
	struct probe p;

	start(&w, false, -1);
	/* a device started: the warden is past its setup */
	spawn_probe(&w, jailed_argv, &p);
	finish_probe(&p);
	cr_assert_eq(status_field(w.pid, "CapEff", 16), KEPT_CAPS);
	cr_assert_eq(status_field(w.pid, "CapPrm", 16), KEPT_CAPS);
	cr_assert_eq(status_field(w.pid, "CapBnd", 16), KEPT_CAPS);
	cr_assert_eq(status_field(w.pid, "CapInh", 16), 0);
	cr_assert_eq(status_field(w.pid, "CapAmb", 16), 0);
	warden_stop(&w);
}

Test(warden, keeps_only_its_socket_the_kept_fd_and_stderr)
{
	int keep = devnull(), leak[2], high, fds[8], n = 0, sock = -1;
	char target[64], ours[64], comm[32] = "";
	bool has_stderr = false;
	struct warden w;
	struct probe p;
	FILE *f;

	/* fds main might have open when it starts the warden, with and without CLOEXEC */
	cr_assert_eq(pipe(leak), 0);
	high = fcntl(leak[0], F_DUPFD, 200);
	cr_assert_geq(high, 200);
	start(&w, false, keep);
	spawn_probe(&w, jailed_argv, &p);
	finish_probe(&p);
	/* it closes the tubes' ends it handed over right after answering: a bounded poll */
	for (int waited = 0; waited < WAIT_MS; waited += 10) {
		n = fds_of(w.pid, fds, ARRAY_SIZE(fds));
		if (n <= 3)
			break;
		sleep_ms(10);
	}
	/* its socket, the kept fd, and stderr (the devices it starts log on vmm's stderr) */
	cr_assert_eq(n, 3, "the warden holds %d fds", n);
	for (int i = 0; i < n; i++) {
		if (fds[i] == STDERR_FILENO)
			has_stderr = true;
		else if (fds[i] != keep)
			sock = fds[i];
	}
	cr_assert(has_stderr, "the warden keeps stderr for its devices");
	fd_target(w.pid, STDERR_FILENO, target, sizeof(target));
	fd_target(getpid(), STDERR_FILENO, ours, sizeof(ours));
	cr_assert_str_eq(target, ours, "its stderr is its parent's");
	fd_target(w.pid, keep, target, sizeof(target));
	cr_assert_str_eq(target, "/dev/null");
	cr_assert_geq(sock, 0);
	fd_target(w.pid, sock, target, sizeof(target));
	cr_assert_eq(strncmp(target, "socket:[", 8), 0, "fd %d is %s", sock, target);
	snprintf(target, sizeof(target), "/proc/%d/comm", w.pid);
	f = fopen(target, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	cr_assert_str_eq(comm, "vmm-warden\n");
	warden_stop(&w);
	close(leak[0]);
	close(leak[1]);
	close(high);
	close(keep);
}

Test(warden, stop_reaps_then_spawn_fails)
{
	int rep[2], fds[WARDEN_FDS] = {-1, -1, -1, -1, -1}, ctrl = -1, mem = -1;
	struct warden w;
	struct probe p;
	pid_t pid, kids[4];
	char c;

	start(&w, false, -1);
	spawn_probe(&w, jailed_argv, &p);
	finish_probe(&p);
	pid = w.pid;
	warden_stop(&w);
	cr_assert_eq(w.pid, -1);
	cr_assert_eq(w.fd, -1);
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1, "warden %d not reaped", pid);
	cr_assert_eq(errno, ECHILD);
	cr_assert_eq(children(kids, ARRAY_SIZE(kids)), 0);
	/* an error at once, and nothing started */
	make_pipe(rep);
	fds[REPORT_FD] = rep[1];
	cr_assert_lt(warden_spawn(&w, fds, jailed_argv, &ctrl, &mem), 0);
	close(rep[1]);
	cr_assert_eq(read(rep[0], &c, 1), 0);
	close(rep[0]);
	/* a second stop is harmless */
	warden_stop(&w);
}

Test(warden, spawn_fails_when_the_warden_died)
{
	int fds[WARDEN_FDS] = {-1, -1, -1, -1, -1}, ctrl = -1, mem = -1;
	struct warden w;
	int st;

	start(&w, false, -1);
	cr_assert_eq(kill(w.pid, SIGKILL), 0);
	cr_assert_eq(waitpid(w.pid, &st, 0), w.pid);
	cr_assert(WIFSIGNALED(st));
	cr_assert_lt(warden_spawn(&w, fds, jailed_argv, &ctrl, &mem), 0);
	warden_stop(&w);
	cr_assert_eq(w.pid, -1);
}

Test(warden, exits_when_main_closes_the_socket)
{
	struct warden w;
	int st;

	start(&w, false, -1);
	close_fd(&w.fd);
	st = reap_within(w.pid, WAIT_MS);
	cr_assert(st != -1, "the warden outlived its socket");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "warden status 0x%x", st);
	w.pid = -1;
	warden_stop(&w);
}

/* In the middle process: a warden that is serving, then its pid and socket to the test. */
static void middle(int to_test)
{
	char *const plain[] = {"vmm-device", NULL};
	int fds[WARDEN_FDS] = {-1, -1, -1, -1, -1}, ctrl, mem;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c = {0};
	struct warden w;
	struct iovec iov = {.iov_base = &w.pid, .iov_len = sizeof(w.pid)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = c.buf,
			   .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	if (warden_start(&w, false, -1, probe_exec, NULL) < 0)
		_exit(1);
	/* an answer: the warden has set its parent-death signal by now */
	if (warden_spawn(&w, fds, plain, &ctrl, &mem) != -EPERM)
		_exit(2);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &w.fd, sizeof(int));
	_exit(sendmsg(to_test, &m, 0) == sizeof(w.pid) ? 0 : 3);
}

Test(warden, dies_with_its_parent)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	pid_t mid, wpid = -1;
	struct iovec iov = {.iov_base = &wpid, .iov_len = sizeof(wpid)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = c.buf,
			   .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *h;
	int sv[2], sock = -1, st;

	/* the orphaned warden comes to us, so we can see how it ended */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	mid = fork();
	cr_assert_geq(mid, 0);
	if (mid == 0) {
		close(sv[0]);
		middle(sv[1]);
	}
	close(sv[1]);
	cr_assert_eq(recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC), (ssize_t)sizeof(wpid),
		     "the middle process failed");
	h = CMSG_FIRSTHDR(&m);
	cr_assert(h && h->cmsg_type == SCM_RIGHTS);
	memcpy(&sock, CMSG_DATA(h), sizeof(int));
	close(sv[0]);
	st = reap_within(mid, WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "middle status 0x%x", st);
	/* we hold its socket open: only the parent-death signal can end it */
	st = reap_within(wpid, WAIT_MS);
	cr_assert(st != -1, "warden %d outlived its parent", wpid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "warden status 0x%x", st);
	close(sock);
}
