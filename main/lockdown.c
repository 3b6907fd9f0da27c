/* The main process's jail. See lockdown.h. */
#include "lockdown.h"

#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "seccomp.h"
#include "util.h"

/* Syscall names for the SIGSYS handler, resolved while that is still allowed. */
#define NAMES_MAX 512
static char *names[NAMES_MAX];

static enum seccomp_mode main_mode(const struct jail_config *j)
{
	/* Learning watches the devices; main and its vCPUs only log what they lack. */
	return j->seccomp == JAIL_SECCOMP_KILL ? SECCOMP_MODE_TRAP : SECCOMP_MODE_LOG;
}

int lockdown_prepare(const struct jail_config *jail, const char *policy_dir,
		     struct jail_filter *vmm, struct jail_filter *vcpu)
{
	char path[4096];
	int ret;

	ret = seccomp_build_named(policy_dir, "vmm", main_mode(jail), vmm, path, sizeof(path));
	if (ret < 0)
		return ret;
	ret = seccomp_build_named(policy_dir, "vcpu", main_mode(jail), vcpu, path, sizeof(path));
	if (ret < 0) {
		jail_filter_free(vmm);
		return ret;
	}
	for (int nr = 0; nr < NAMES_MAX; nr++)
		if (!names[nr])
			names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
	return 0;
}

static void put(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0)
		return;
}

/* A syscall vmm.policy or vcpu.policy refused: say which, in which thread, and stop. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char num[16];
	int nr = si->si_syscall, n = 0;
	unsigned int v = nr < 0 ? 0 : (unsigned int)nr;

	(void)sig;
	(void)uc;
	do {
		num[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < 15);
	put("vmm: seccomp: this process made a syscall its policy forbids: ");
	put(nr >= 0 && nr < NAMES_MAX && names[nr] ? names[nr] : "?");
	put(" (");
	while (n > 0)
		if (write(STDERR_FILENO, &num[--n], 1) < 0)
			break;
	put("); see 'vmm policy audit vmm vcpu'\n");
	_exit(1);
}

int lockdown_apply(const struct jail_filter *vmm, bool keep_kill)
{
	static const int kill_cap[] = {CAP_KILL};
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	int ret;

	ret = caps_keep_only(kill_cap, keep_kill ? 1 : 0);
	if (ret < 0 && geteuid() == 0) {
		log_err("jail: dropping main's capabilities failed: %s (vmm run --no-jail)",
			strerror(-ret));
		return ret;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		log_err_errno("sigaction SIGSYS");
		return -errno;
	}
	ret = jail_filter_load(vmm, 0);
	if (ret < 0)
		log_err("jail: loading vmm.policy failed: %s (vmm run --no-jail)", strerror(-ret));
	return ret;
}
