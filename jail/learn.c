/* Learning a policy from what devices do. See learn.h. */
#include "learn.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "util.h"

#define LEARN_MAX_DEVICES 32
#define LEARN_NR_MAX 512
#define LEARN_STOP UINT64_MAX

enum seen { SEEN_NONE, SEEN_ALLOWED, SEEN_MISSING, SEEN_REFUSED_ARGS };

struct learned {
	char name[32];
	char *policy_path;
	struct policy policy;
	struct policy extra; /* sanitizer.policy in a sanitizer build: its runtime's syscalls */
	int listener;
	uint8_t seen[LEARN_NR_MAX]; /* enum seen, the worst seen per syscall */
	uint64_t example[LEARN_NR_MAX][POLICY_MAX_ARGS]; /* args of a refused call */
	unsigned long count[LEARN_NR_MAX];
};

struct jail_learn {
	pthread_t thread;
	pthread_mutex_t lock;
	int epfd;
	int stop_fd;
	struct learned *devs[LEARN_MAX_DEVICES];
	unsigned int ndevs;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct seccomp_notif_sizes sizes;
};

static bool cond_holds(const struct policy_cond *c, const uint64_t *args)
{
	uint64_t a = args[c->arg];

	switch (c->op) {
	case POLICY_OP_EQ:
		return a == c->value;
	case POLICY_OP_NE:
		return a != c->value;
	case POLICY_OP_LT:
		return a < c->value;
	case POLICY_OP_LE:
		return a <= c->value;
	case POLICY_OP_GT:
		return a > c->value;
	case POLICY_OP_GE:
		return a >= c->value;
	case POLICY_OP_BITS_SET:
		return (a & c->value) != 0;
	case POLICY_OP_IN:
		return (a & ~c->value) == 0;
	}
	return false;
}

/* What the device's policy says about this call. */
static enum seen judge(const struct policy *p, int nr, const uint64_t *args)
{
	const struct policy_rule *r = policy_find(p, nr);

	if (!r)
		return SEEN_MISSING;
	if (r->action != POLICY_ALLOW || r->nalts == 0)
		return SEEN_ALLOWED;
	for (size_t i = 0; i < r->nalts; i++) {
		bool all = true;

		for (size_t c = 0; c < r->alts[i].nconds && all; c++)
			all = cond_holds(&r->alts[i].conds[c], args);
		if (all)
			return SEEN_ALLOWED;
	}
	return SEEN_REFUSED_ARGS;
}

static void record(struct learned *d, const struct seccomp_data *data)
{
	int nr = data->nr;
	enum seen s;

	if (nr < 0 || nr >= LEARN_NR_MAX || data->arch != AUDIT_ARCH_X86_64)
		return;
	s = judge(&d->policy, nr, (const uint64_t *)data->args);
	if (s != SEEN_ALLOWED && d->extra.nrules &&
	    judge(&d->extra, nr, (const uint64_t *)data->args) == SEEN_ALLOWED)
		s = SEEN_ALLOWED;
	d->count[nr]++;
	if (s > d->seen[nr]) {
		d->seen[nr] = (uint8_t)s;
		for (int i = 0; i < POLICY_MAX_ARGS; i++)
			d->example[nr][i] = data->args[i];
	}
}

/* One notification: record it and let the syscall run. */
static void serve(struct jail_learn *l, struct learned *d)
{
	memset(l->req, 0, l->sizes.seccomp_notif);
	if (ioctl(d->listener, SECCOMP_IOCTL_NOTIF_RECV, l->req) < 0)
		return; /* the caller died meanwhile (ENOENT), or a signal */
	pthread_mutex_lock(&l->lock);
	record(d, &l->req->data);
	pthread_mutex_unlock(&l->lock);
	memset(l->resp, 0, l->sizes.seccomp_notif_resp);
	l->resp->id = l->req->id;
	l->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(d->listener, SECCOMP_IOCTL_NOTIF_SEND, l->resp) < 0 && errno != ENOENT)
		log_warn_errno("learn: answering %s", d->name);
}

static void *learn_thread(void *arg)
{
	struct jail_learn *l = arg;
	struct epoll_event ev[8];

	for (;;) {
		int n = epoll_wait(l->epfd, ev, ARRAY_SIZE(ev), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err_errno("learn: epoll_wait");
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct learned *d;

			if (ev[i].data.u64 == LEARN_STOP)
				return NULL;
			pthread_mutex_lock(&l->lock);
			d = l->devs[ev[i].data.u64];
			pthread_mutex_unlock(&l->lock);
			if (ev[i].events & EPOLLIN)
				serve(l, d);
			else if (ev[i].events & (EPOLLHUP | EPOLLERR))
				epoll_ctl(l->epfd, EPOLL_CTL_DEL, d->listener, NULL);
		}
	}
}

struct jail_learn *jail_learn_start(void)
{
	struct jail_learn *l = calloc(1, sizeof(*l));
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LEARN_STOP};

	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->stop_fd < 0 ||
	    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &l->sizes) < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0) {
		log_err_errno("learn: setting up");
		goto err;
	}
	l->req = calloc(1, l->sizes.seccomp_notif);
	l->resp = calloc(1, l->sizes.seccomp_notif_resp);
	if (!l->req || !l->resp || pthread_create(&l->thread, NULL, learn_thread, l) != 0) {
		log_err("learn: cannot start its thread");
		goto err;
	}
	return l;
err:
	close_fd(&l->stop_fd);
	jail_learn_free(l);
	return NULL;
}

int jail_learn_add(struct jail_learn *l, const char *name, const char *policy_path, int listener)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char err[512];
	struct learned *d = NULL;
	int ret = -ENOSPC;

	if (l->ndevs == LEARN_MAX_DEVICES || !(d = calloc(1, sizeof(*d))))
		goto err;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->listener = listener;
	d->policy_path = strdup(policy_path);
	ret = d->policy_path ? policy_load(policy_path, &d->policy, err, sizeof(err)) : -ENOMEM;
	if (ret < 0)
		goto err;
	if (SECCOMP_SANITIZED) {
		char extra[4096];
		const char *slash = strrchr(policy_path, '/');

		snprintf(extra, sizeof(extra), "%.*s/sanitizer.policy",
			 slash ? (int)(slash - policy_path) : 1, slash ? policy_path : ".");
		if (policy_load(extra, &d->extra, err, sizeof(err)) < 0)
			log_warn("learn: %s", err);
	}
	pthread_mutex_lock(&l->lock);
	ev.data.u64 = l->ndevs;
	l->devs[l->ndevs++] = d;
	pthread_mutex_unlock(&l->lock);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, listener, &ev) < 0) {
		log_err_errno("learn: watching %s", name);
		return -errno;
	}
	return 0;
err:
	if (d)
		free(d->policy_path);
	free(d);
	close(listener);
	return ret;
}

void jail_learn_stop(struct jail_learn *l)
{
	uint64_t one = 1;

	if (l->stop_fd < 0)
		return;
	if (write(l->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(l->thread, NULL);
	close_fd(&l->stop_fd);
	for (unsigned int i = 0; i < l->ndevs; i++)
		close_fd(&l->devs[i]->listener);
}

static const char *syscall_name(int nr, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);

	snprintf(buf, len, "%s", name ? name : "?");
	free(name);
	if (!name)
		snprintf(buf, len, "syscall %d", nr);
	return buf;
}

static int report_device(const struct learned *d, FILE *out)
{
	char name[64];
	int missing = 0, unused = 0;

	fprintf(out, "%s (%s):\n", d->name, d->policy_path);
	for (int nr = 0; nr < LEARN_NR_MAX; nr++) {
		if (d->seen[nr] == SEEN_MISSING)
			fprintf(out, "  missing: %s (made %lu times; not in the policy)\n",
				syscall_name(nr, name, sizeof(name)), d->count[nr]);
		else if (d->seen[nr] == SEEN_REFUSED_ARGS)
			fprintf(out,
				"  missing: %s (made %lu times; refused arguments, e.g. arg0=%#llx "
				"arg1=%#llx arg2=%#llx)\n",
				syscall_name(nr, name, sizeof(name)), d->count[nr],
				(unsigned long long)d->example[nr][0],
				(unsigned long long)d->example[nr][1],
				(unsigned long long)d->example[nr][2]);
		missing += d->seen[nr] >= SEEN_MISSING;
	}
	for (size_t i = 0; i < d->policy.nrules; i++) {
		const struct policy_rule *r = &d->policy.rules[i];

		if (r->nr >= 0 && r->nr < LEARN_NR_MAX && d->seen[r->nr] == SEEN_NONE) {
			fprintf(out, "  never made: %s (%s:%d)\n", r->name, r->file, r->line);
			unused++;
		}
	}
	fprintf(out, "  %d missing, %d allowed but never made\n", missing, unused);
	return missing;
}

int jail_learn_report(struct jail_learn *l, FILE *out)
{
	int missing = 0;

	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < l->ndevs; i++)
		missing += report_device(l->devs[i], out);
	pthread_mutex_unlock(&l->lock);
	return missing;
}

void jail_learn_free(struct jail_learn *l)
{
	if (!l)
		return;
	jail_learn_stop(l);
	for (unsigned int i = 0; i < l->ndevs; i++) {
		policy_free(&l->devs[i]->policy);
		policy_free(&l->devs[i]->extra);
		free(l->devs[i]->policy_path);
		free(l->devs[i]);
	}
	close_fd(&l->epfd);
	free(l->req);
	free(l->resp);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
