/* The policy compiler (jail/seccomp.c): filters built, and loaded in forked children. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"

#define DATA TEST_DATA_DIR "/policy/"
#define POLICIES TEST_DATA_DIR "/../../policies/x86_64/"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static void load(const char *path, struct policy *p)
{
	char err[512] = "";

	cr_assert_eq(policy_load(path, p, err, sizeof(err)), 0, "%s", err);
}

Test(seccomp, compiles_every_construct)
{
	struct policy p;
	scmp_filter_ctx ctx;
	int fd;

	load(DATA "basic.policy", &p);
	cr_assert_eq(seccomp_compile(&p, SECCOMP_MODE_KILL, &ctx), 0);
	fd = memfd_create("bpf", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(seccomp_export_bpf(ctx, fd), 0);
	cr_assert_gt(lseek(fd, 0, SEEK_END), 0);
	close(fd);
	seccomp_release(ctx);
	cr_assert_eq(seccomp_compile(&p, SECCOMP_MODE_LOG, &ctx), 0);
	seccomp_release(ctx);
	policy_free(&p);
}

/* STYLE: a wrong name in a shipped policy fails the tests, not a running device. */
Test(seccomp, compiles_every_shipped_policy)
{
	glob_t g;
	int ret = glob(POLICIES "*.policy", 0, NULL, &g);

	cr_assert_eq(ret, 0, "no policies in " POLICIES);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct policy p;
		scmp_filter_ctx ctx;

		load(g.gl_pathv[i], &p);
		cr_assert_eq(seccomp_compile(&p, SECCOMP_MODE_KILL, &ctx), 0, "%s", g.gl_pathv[i]);
		seccomp_release(ctx);
		policy_free(&p);
	}
	globfree(&g);
}

/*
 * Forks a child that loads path in mode, then runs what; returns the child's wait status.
 * Under ASan the runtime makes syscalls of its own at any time, so the callers skip.
 */
static int run_jailed(const char *path, enum seccomp_mode mode, void (*what)(void))
{
	struct policy p;
	int status;
	pid_t pid;

	load(path, &p);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};

		setrlimit(RLIMIT_CORE, &no_core);
		if (seccomp_load_policy(&p, mode) < 0)
			_exit(100);
		what();
		_exit(0);
	}
	policy_free(&p);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void call_getpid(void)
{
	syscall(SYS_getpid);
}

static void write_stdout(void)
{
	if (syscall(SYS_write, 1, "", 0) != 0)
		_exit(101);
}

static void write_stderr(void)
{
	syscall(SYS_write, 2, "", 0);
}

static void open_root(void)
{
	long ret = syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_CLOEXEC);

	_exit(ret == -1 && errno == EACCES ? 0 : 102);
}

static void skip_under_asan(void)
{
	if (UNDER_ASAN)
		cr_skip_test("ASan's runtime makes syscalls these minimal filters do not allow");
}

static void assert_killed(int status)
{
	cr_assert(WIFSIGNALED(status), "child not killed, status %#x", status);
	cr_assert_eq(WTERMSIG(status), SIGSYS);
}

static void assert_exited_ok(int status)
{
	cr_assert(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
}

Test(seccomp, kills_what_is_not_allowed)
{
	skip_under_asan();
	assert_killed(run_jailed(DATA "kill.policy", SECCOMP_MODE_KILL, call_getpid));
}

Test(seccomp, log_mode_lets_it_run)
{
	skip_under_asan();
	assert_exited_ok(run_jailed(DATA "kill.policy", SECCOMP_MODE_LOG, call_getpid));
}

Test(seccomp, argument_conditions)
{
	skip_under_asan();
	assert_exited_ok(run_jailed(DATA "cond.policy", SECCOMP_MODE_KILL, write_stdout));
	assert_killed(run_jailed(DATA "cond.policy", SECCOMP_MODE_KILL, write_stderr));
}

Test(seccomp, return_errno)
{
	skip_under_asan();
	assert_exited_ok(run_jailed(DATA "errno.policy", SECCOMP_MODE_KILL, open_root));
}

static void close_0x10_and_0x20(void)
{
	syscall(SYS_close, 0x10);
	syscall(SYS_close, 0x20);
	syscall(SYS_close, 0x31);
}

static void close_0x40(void)
{
	syscall(SYS_close, 0x40);
}

static void dup_0x105(void)
{
	syscall(SYS_dup, 0x105);
}

static void dup_0x8(void)
{
	syscall(SYS_dup, 0x8);
}

Test(seccomp, bits_set_and_in)
{
	skip_under_asan();
	assert_exited_ok(run_jailed(DATA "bits.policy", SECCOMP_MODE_KILL, close_0x10_and_0x20));
	assert_killed(run_jailed(DATA "bits.policy", SECCOMP_MODE_KILL, close_0x40));
	assert_exited_ok(run_jailed(DATA "bits.policy", SECCOMP_MODE_KILL, dup_0x105));
	assert_killed(run_jailed(DATA "bits.policy", SECCOMP_MODE_KILL, dup_0x8));
}
