/*
 * The shipped policies (every policies/x86_64 file): each rule justified, nothing a jailed
 * process must never do, a vCPU's rules also in vmm.policy (the filters stack), every filter
 * built with sanitizer.policy added, and threads made and filters stacked for real under
 * vmm.policy.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "seccomp.h"

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

/* The files that are not a device's policy. */
static const char *const not_devices[] = {"common_device", "sanitizer", "vmm", "vcpu"};

static void load(const char *name, struct policy *p)
{
	char path[512], err[512] = "";

	snprintf(path, sizeof(path), POLICIES "%s.policy", name);
	cr_assert_eq(policy_load(path, p, err, sizeof(err)), 0, "%s", err);
}

/* Calls fn with the name (no folder, no .policy) of every shipped policy. */
static void each_policy(void (*fn)(const char *name))
{
	glob_t g;

	cr_assert_eq(glob(POLICIES "*.policy", 0, NULL, &g), 0, "no policies in " POLICIES);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char name[128];
		const char *base = strrchr(g.gl_pathv[i], '/') + 1;

		snprintf(name, sizeof(name), "%.*s", (int)(strlen(base) - strlen(".policy")), base);
		fn(name);
	}
	globfree(&g);
}

static bool is_device(const char *name)
{
	for (size_t i = 0; i < sizeof(not_devices) / sizeof(not_devices[0]); i++)
		if (strcmp(name, not_devices[i]) == 0)
			return false;
	return true;
}

static bool cond_holds(const struct policy_cond *c, const uint64_t *a)
{
	uint64_t v = a[c->arg];

	switch (c->op) {
	case POLICY_OP_EQ:
		return v == c->value;
	case POLICY_OP_NE:
		return v != c->value;
	case POLICY_OP_LT:
		return v < c->value;
	case POLICY_OP_LE:
		return v <= c->value;
	case POLICY_OP_GT:
		return v > c->value;
	case POLICY_OP_GE:
		return v >= c->value;
	case POLICY_OP_BITS_SET:
		return (v & c->value) != 0;
	case POLICY_OP_IN:
		return (v & ~c->value) == 0;
	}
	return false;
}

/* What the policy does with syscall nr and arguments a: 1 allowed, 0 refused, -E for errno. */
static int verdict(const struct policy *p, long nr, const uint64_t *a)
{
	const struct policy_rule *r = policy_find(p, (int)nr);

	if (!r)
		return 0;
	if (r->action == POLICY_ERRNO)
		return -r->errno_value;
	if (r->nalts == 0)
		return 1;
	for (size_t i = 0; i < r->nalts; i++) {
		size_t j = 0;

		while (j < r->alts[i].nconds && cond_holds(&r->alts[i].conds[j], a))
			j++;
		if (j == r->alts[i].nconds)
			return 1;
	}
	return 0;
}

static int verdict_args(const struct policy *p, long nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	const uint64_t a[POLICY_MAX_ARGS] = {a0, a1, a2};

	return verdict(p, nr, a);
}

/* ---- the text ---- */

static void justified(const char *name)
{
	struct policy p;

	load(name, &p);
	cr_expect_eq(p.nwarnings, 0, "%s: %s", name, p.nwarnings ? p.warnings[0] : "");
	for (size_t i = 0; i < p.nrules; i++)
		cr_expect(p.rules[i].comment && p.rules[i].comment[0],
			  "%s:%d: %s has no comment saying who needs it", p.rules[i].file,
			  p.rules[i].line, p.rules[i].name);
	policy_free(&p);
}

Test(policy_files, every_rule_is_justified_and_none_is_redundant)
{
	each_policy(justified);
}

/* ---- what no jailed process may do ---- */

/* Nothing after the lockdown or the jail opens a file, makes a process or a socket, mounts. */
/* clang-format off */
static const long never[] = {
	SYS_open, SYS_openat, SYS_openat2, SYS_creat, SYS_open_by_handle_at,
	SYS_execve, SYS_execveat, SYS_fork, SYS_vfork,
	SYS_socket, SYS_socketpair, SYS_connect, SYS_bind, SYS_listen,
	SYS_ptrace, SYS_process_vm_writev,
	SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_unshare, SYS_setns,
	SYS_memfd_create, SYS_init_module, SYS_finit_module, SYS_kexec_load, SYS_bpf,
	SYS_userfaultfd, SYS_perf_event_open, SYS_io_uring_setup, SYS_setuid, SYS_setgid,
	SYS_mknodat, SYS_unlinkat, SYS_unlink, SYS_renameat2, SYS_symlinkat, SYS_linkat,
	SYS_chmod, SYS_fchmod, SYS_chown, SYS_fchown, SYS_truncate,
};

/* Main's control socket and disk resize need these; a device never does. */
static const long never_in_devices[] = {
	SYS_accept4, SYS_getsockopt, SYS_sendto, SYS_ftruncate, SYS_pwrite64,
};
/* clang-format on */

static void expect_none(const struct policy *p, const char *name, const long *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct policy_rule *r = policy_find(p, (int)nrs[i]);

		cr_expect(!r || r->action == POLICY_ERRNO, "%s.policy allows %s", name, r->name);
	}
}

static void never_allowed(const char *name)
{
	struct policy p;

	if (strcmp(name, "sanitizer") == 0)
		return; /* a sanitizer build's extra, see the sanitizer tests below */
	load(name, &p);
	expect_none(&p, name, never, sizeof(never) / sizeof(never[0]));
	if (is_device(name))
		expect_none(&p, name, never_in_devices,
			    sizeof(never_in_devices) / sizeof(never_in_devices[0]));
	policy_free(&p);
}

Test(policy_files, no_file_process_socket_or_mount_syscalls)
{
	each_policy(never_allowed);
}

static void never_executable(const char *name)
{
	struct policy p;
	const int exec[] = {PROT_EXEC, PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC};

	load(name, &p);
	for (size_t i = 0; i < sizeof(exec) / sizeof(exec[0]); i++) {
		cr_expect_eq(verdict_args(&p, SYS_mmap, 0, 4096, exec[i]), 0,
			     "%s.policy maps memory executable", name);
		cr_expect_eq(verdict_args(&p, SYS_mprotect, 0, 4096, exec[i]), 0,
			     "%s.policy makes memory executable", name);
	}
	cr_expect_null(policy_find(&p, SYS_pkey_mprotect), "%s.policy", name);
	cr_expect_null(policy_find(&p, SYS_remap_file_pages), "%s.policy", name);
	policy_free(&p);
}

Test(policy_files, no_executable_memory)
{
	each_policy(never_executable);
}

/* ioctl only by request number: nothing allows every request. */
static void ioctl_by_request(const char *name)
{
	struct policy p;
	const struct policy_rule *r;

	load(name, &p);
	r = policy_find(&p, SYS_ioctl);
	if (r) {
		cr_expect_gt(r->nalts, 0, "%s.policy allows every ioctl", name);
		for (size_t i = 0; i < r->nalts; i++) {
			bool by_request = false;

			for (size_t j = 0; j < r->alts[i].nconds; j++)
				by_request |= r->alts[i].conds[j].arg == 1 &&
					      r->alts[i].conds[j].op == POLICY_OP_EQ;
			cr_expect(by_request, "%s.policy: an ioctl rule not by request number",
				  name);
		}
	}
	policy_free(&p);
}

Test(policy_files, ioctl_only_by_request_number)
{
	each_policy(ioctl_by_request);
}

/* A device makes no threads or processes, and has no KVM or terminal ioctls. */
static void device_is_small(const char *name)
{
	struct policy p;

	if (!is_device(name))
		return;
	load(name, &p);
	cr_expect_null(policy_find(&p, SYS_clone), "%s.policy", name);
	cr_expect_null(policy_find(&p, SYS_clone3), "%s.policy", name);
	cr_expect_null(policy_find(&p, SYS_kill), "%s.policy", name);
	cr_expect_null(policy_find(&p, SYS_tgkill), "%s.policy", name);
	cr_expect_null(policy_find(&p, SYS_prctl), "%s.policy", name);
	cr_expect_null(policy_find(&p, SYS_seccomp), "%s.policy", name);
	cr_expect_eq(verdict_args(&p, SYS_ioctl, 0, KVM_RUN, 0), 0, "%s.policy", name);
	cr_expect_eq(verdict_args(&p, SYS_ioctl, 0, TCSETS, 0), 0, "%s.policy", name);
	/* What entry.c's SIGSYS handler needs to report a refused syscall and exit. */
	cr_expect_eq(verdict_args(&p, SYS_sendmsg, 3, 0, MSG_NOSIGNAL | MSG_DONTWAIT), 1,
		     "%s.policy", name);
	cr_expect_eq(verdict_args(&p, SYS_exit_group, 0, 0, 0), 1, "%s.policy", name);
	policy_free(&p);
}

Test(policy_files, devices_make_no_threads_and_no_kvm_calls)
{
	each_policy(device_is_small);
}

Test(policy_files, vmm_makes_threads_only)
{
	const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
				CLONE_CHILD_CLEARTID;
	struct policy p;

	load("vmm", &p);
	cr_expect_eq(verdict_args(&p, SYS_clone, thread, 0, 0), 1);
	cr_expect_eq(verdict_args(&p, SYS_clone, SIGCHLD, 0, 0), 0, "fork through clone");
	cr_expect_eq(verdict_args(&p, SYS_clone, thread | CLONE_NEWUSER, 0, 0), 0);
	cr_expect_eq(verdict_args(&p, SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0), 0);
	/* clone3's flags are out of seccomp's sight: glibc falls back to clone on ENOSYS. */
	cr_expect_eq(verdict_args(&p, SYS_clone3, 0, 0, 0), -ENOSYS);
	cr_expect_eq(verdict_args(&p, SYS_kill, 42, SIGKILL, 0), 1);
	cr_expect_eq(verdict_args(&p, SYS_kill, 42, SIGTERM, 0), 0);
	policy_free(&p);
}

/* ---- the stack: vmm.policy, then vcpu.policy on top in each vCPU thread ---- */

/*
 * Every argument vector vcpu.policy allows by equality is one vmm.policy allows too: a vCPU
 * thread runs under both, so a rule only in vcpu.policy would be dead.
 */
Test(policy_files, what_a_vcpu_may_do_vmm_allows_too)
{
	struct policy vmm, vcpu;

	load("vmm", &vmm);
	load("vcpu", &vcpu);
	for (size_t i = 0; i < vcpu.nrules; i++) {
		const struct policy_rule *r = &vcpu.rules[i];
		const struct policy_rule *m = policy_find(&vmm, r->nr);

		cr_expect_not_null(m, "vcpu.policy allows %s, vmm.policy does not", r->name);
		if (!m)
			continue;
		cr_expect_eq(r->action, m->action, "%s", r->name);
		for (size_t k = 0; k < r->nalts; k++) {
			uint64_t a[POLICY_MAX_ARGS] = {0};

			for (size_t j = 0; j < r->alts[k].nconds; j++)
				if (r->alts[k].conds[j].op == POLICY_OP_EQ)
					a[r->alts[k].conds[j].arg] = r->alts[k].conds[j].value;
			cr_expect_eq(verdict(&vmm, r->nr, a), 1,
				     "vcpu.policy:%d allows %s with arguments vmm.policy refuses",
				     r->line, r->name);
		}
	}
	policy_free(&vmm);
	policy_free(&vcpu);
}

/* ---- sanitizer builds: sanitizer.policy is added to every filter ---- */

static void builds_with_sanitizer(const char *name)
{
	struct policy p, san;
	const struct policy *both[2] = {&p, &san};
	struct jail_filter f;

	if (strcmp(name, "sanitizer") == 0 || strcmp(name, "common_device") == 0)
		return;
	load(name, &p);
	load("sanitizer", &san);
	cr_expect_eq(seccomp_build(both, 2, SECCOMP_MODE_TRAP, &f), 0, "%s + sanitizer", name);
	jail_filter_free(&f);
	cr_expect_eq(seccomp_build(both, 1, SECCOMP_MODE_TRAP, &f), 0, "%s", name);
	jail_filter_free(&f);
	policy_free(&p);
	policy_free(&san);
}

Test(policy_files, every_filter_builds_with_the_sanitizer_rules)
{
	each_policy(builds_with_sanitizer);
}

/* ---- for real: a child under vmm.policy makes threads that stack vcpu.policy ---- */

static struct jail_filter vcpu_filter;

static void *vcpu_like(void *arg)
{
	(void)arg;
	/* As vcpu.c vcpu_thread(): its name, its tid, then vcpu.policy on top. */
	pthread_setname_np(pthread_self(), "vcpu0");
	syscall(SYS_gettid);
	if (jail_filter_load(&vcpu_filter, 0) < 0)
		return (void *)1;
	if (write(STDERR_FILENO, "", 0) < 0)
		return (void *)2;
	return NULL; /* the thread's end runs under both filters */
}

static void build(const char *name, struct jail_filter *f)
{
	struct policy p;
	const struct policy *ps[1] = {&p};

	load(name, &p);
	cr_assert_eq(seccomp_build(ps, 1, SECCOMP_MODE_KILL, f), 0, "%s", name);
	policy_free(&p);
}

/* Forks a child that loads vmm.policy, then starts two threads as vm.c does, and joins them. */
static int run_under_vmm_policy(void)
{
	struct jail_filter vmm;
	int status;
	pid_t pid;

	build("vmm", &vmm);
	build("vcpu", &vcpu_filter);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		pthread_t t[2];
		void *ret;

		setrlimit(RLIMIT_CORE, &no_core);
		if (jail_filter_load(&vmm, 0) < 0)
			_exit(100);
		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, vcpu_like, NULL) != 0)
				_exit(101);
		for (int i = 0; i < 2; i++)
			if (pthread_join(t[i], &ret) != 0 || ret != NULL)
				_exit(102);
		_exit(0);
	}
	jail_filter_free(&vmm);
	jail_filter_free(&vcpu_filter);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

Test(policy_files, threads_start_and_stack_vcpu_policy_under_vmm_policy)
{
	int status;

	if (UNDER_ASAN)
		cr_skip_test("ASan's runtime makes syscalls only sanitizer.policy allows");
	status = run_under_vmm_policy();
	cr_assert(WIFEXITED(status),
		  "child killed by signal %d (a syscall vmm.policy or "
		  "vcpu.policy lacks)",
		  WTERMSIG(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
}
