/*
 * vmm-device: one virtio device in its own process. Started by main (device_host.c) as
 *
 *   vmm-device --type TYPE --name NAME --parent PID [-- DEVICE OPTIONS...]
 *
 * with its fds at the numbers of vdev.h and nothing else open. It answers main's requests on
 * the ctrl tube and serves its queues from one epoll loop; main is not on the data path.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "jail.h"
#include "log.h"
#include "util.h"
#include "msg_vm_memory.h"
#include "vdev.h"

/* epoll data for the ctrl tube; queues use their index. */
#define EV_CTRL UINT32_MAX
/* epoll data for the backend fd (vdev_watch_backend()). */
#define EV_BACKEND (UINT32_MAX - 1)
/* How long a notice to main may wait for its answer. */
#define MEM_TUBE_TIMEOUT_MS 5000

struct entry_args {
	const char *type;
	const char *name;
	pid_t parent;
	bool jail;	   /* --jail UID:GID */
	unsigned int uid;  /* inside the jail */
	unsigned int gid;
	bool learn;	   /* --learn: hand the seccomp listener to main */
	const char *hook;  /* --test-hook NAME (VMM_TEST_HOOKS builds only) */
	int dev_argc;
	char **dev_argv;
};

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int parse_ids(const char *s, struct entry_args *a)
{
	char *end;
	unsigned long uid, gid;

	errno = 0;
	uid = strtoul(s, &end, 10);
	if (errno || end == s || *end != ':')
		return -EINVAL;
	s = end + 1;
	gid = strtoul(s, &end, 10);
	if (errno || end == s || *end || uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1)
		return -EINVAL;
	a->jail = true;
	a->uid = (unsigned int)uid;
	a->gid = (unsigned int)gid;
	return 0;
}

static int parse_args(int argc, char **argv, struct entry_args *a)
{
	static const struct option opts[] = {
		{"type", required_argument, NULL, 't'},
		{"name", required_argument, NULL, 'n'},
		{"parent", required_argument, NULL, 'p'},
		{"jail", required_argument, NULL, 'j'},
		{"learn", no_argument, NULL, 'l'},
#ifdef VMM_TEST_HOOKS
		{"test-hook", required_argument, NULL, 'H'},
#endif
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't')
			a->type = optarg;
		else if (c == 'n')
			a->name = optarg;
		else if (c == 'p')
			a->parent = (pid_t)strtol(optarg, NULL, 10);
		else if (c == 'j' && parse_ids(optarg, a) == 0)
			continue;
		else if (c == 'l')
			a->learn = true;
		else if (c == 'H')
			a->hook = optarg;
		else
			return -EINVAL;
	}
	if (!a->type || !a->name || a->parent <= 0 || (a->learn && !a->jail))
		return -EINVAL;
	a->dev_argc = argc - optind;
	a->dev_argv = argv + optind;
	return 0;
}

/*
 * Dies with main: the kernel's parent-death signal, and a check for a parent already gone (in
 * its own pid namespace a jailed device sees no parent: a gone main shows as a closed tube).
 */
static int tie_to_parent(const struct entry_args *a)
{
	pid_t ppid;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	ppid = getppid();
	if (ppid != a->parent && !(a->jail && ppid == 0))
		return -ESRCH;
	return 0;
}

/*
 * A syscall the filter refused lands here (SECCOMP_RET_TRAP): tell main which one on the ctrl
 * tube, then exit. Only sendmsg and exit_group, both in common_device.policy.
 */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct device_response r = {.hdr.type = MSG_DEVICE_SECCOMP_TRAP};
	struct tube ctrl = {.fd = VDEV_FD_CTRL};
	uint8_t out[64];
	size_t len;

	(void)sig;
	(void)uc;
	r.trap.nr = si->si_syscall;
	r.trap.arch = si->si_arch;
	if (msg_device_encode_response(&r, 0, out, sizeof(out), &len) == 0)
		tube_send(&ctrl, out, len, NULL, 0);
	_exit(128 + SIGSYS);
}

/* Learning: the seccomp listener goes to main before anything else happens. */
static int hand_over_listener(int listener)
{
	struct device_response r = {.hdr.type = MSG_DEVICE_SECCOMP_LISTENER};
	struct tube t = {.fd = JAIL_HANDOVER_FD};
	uint8_t out[64];
	size_t len;
	int ret = msg_device_encode_response(&r, 1, out, sizeof(out), &len);

	if (ret == 0)
		ret = tube_send(&t, out, len, &listener, 1);
	close(listener);
	close(JAIL_HANDOVER_FD);
	return ret;
}

/* The jail (jail.h): before anything the guest wrote is read. Returns 0 or _exits. */
static int enter_jail(const struct entry_args *a)
{
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	struct jail_enter_args j = {
		.name = a->name,
		.uid = a->uid,
		.gid = a->gid,
		.filter_fd = MSG_DEVICE_FD_SECCOMP,
		.keep_below = MSG_DEVICE_FD_SECCOMP,
		.learn = a->learn,
	};
	int listener = -1;

	if (!fd_open(MSG_DEVICE_FD_SECCOMP)) {
		log_err("jailed without its seccomp filter at fd %d", MSG_DEVICE_FD_SECCOMP);
		return -EBADF;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	if (a->learn && dup2(VDEV_FD_CTRL, JAIL_HANDOVER_FD) < 0)
		return -errno;
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer's exit check needs /proc and ptrace, which the jail takes away: check
	 * now instead (unjailed devices, e.g. in the harness, keep the full check at exit). */
	__lsan_do_leak_check();
#endif
	jail_enter(&j, &listener);
	return a->learn ? hand_over_listener(listener) : 0;
}

#ifdef VMM_TEST_HOOKS
static const char *test_hook;

/*
 * Test-only misbehaviour at the first kick, chosen by main's VMM_TEST_DEVICE_HOOK (never by a
 * guest or vm.toml; absent from builds without VMM_TEST_HOOKS).
 */
static void run_test_hook(void)
{
	if (test_hook && strcmp(test_hook, "forbidden-syscall") == 0) {
		log_info("test hook: calling openat, which no device policy allows");
		int fd = openat(AT_FDCWD, "/", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
}
#endif

static void vdev_init(struct vdev *d, const struct vdev_ops *ops, const char *name)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->name = name;
	d->ctrl.fd = VDEV_FD_CTRL;
	d->mem_tube.fd = VDEV_FD_MEM;
	d->mem_fd = VDEV_FD_GUEST;
	d->backend_fd = fd_open(VDEV_FD_BACKEND) ? VDEV_FD_BACKEND : -1;
	d->config_irq_fd = -1;
	d->epfd = -1;
	d->nqueues = ops->nqueues;
	for (unsigned int i = 0; i < VDEV_MAX_QUEUES; i++)
		d->kick_fd[i] = d->irq_fd[i] = -1;
	d->features = ops->features | (1ULL << VIRTIO_F_VERSION_1) |
		      (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_EVENT_IDX);
}

void vdev_interrupt(struct vdev *d, unsigned int q)
{
	uint64_t one = 1;

	if (d->irq_fd[q] >= 0 && virtq_should_notify(&d->q[q]) &&
	    write(d->irq_fd[q], &one, sizeof(one)) < 0)
		log_warn_errno("interrupt eventfd of queue %u", q);
}

int vdev_mem_call(struct vdev *d, const struct vm_memory_request *m)
{
	uint8_t req[MSG_MAX_SIZE], resp[MSG_MAX_SIZE];
	struct vm_memory_response r;
	size_t len, rlen;
	int ret;

	ret = msg_vm_memory_encode_request(m, 0, req, sizeof(req), &len);
	if (ret == 0)
		ret = tube_call(&d->mem_tube, req, len, NULL, 0, resp, sizeof(resp), &rlen,
				MEM_TUBE_TIMEOUT_MS);
	if (ret == 0)
		ret = msg_vm_memory_decode_response(resp, rlen, 0, &r);
	if (ret == 0)
		ret = r.hdr.type == MSG_VM_MEMORY_RESPONSE ? r.status.status : -EPROTO;
	return ret;
}

/* Tells main that queue q is broken, so that it sets DEVICE_NEEDS_RESET. */
static void vdev_notify_main_broken(struct vdev *d, unsigned int q)
{
	struct vm_memory_request m = {.hdr.type = MSG_VM_MEMORY_NEEDS_RESET};
	int ret;

	m.needs_reset.queue = q;
	ret = vdev_mem_call(d, &m);
	if (ret < 0)
		log_warn("cannot tell main that queue %u needs a reset: %s", q, strerror(-ret));
}

void vdev_config_changed(struct vdev *d)
{
	uint64_t one = 1;

	if (d->config_irq_fd >= 0 && write(d->config_irq_fd, &one, sizeof(one)) < 0)
		log_warn_errno("config interrupt eventfd");
}

void vdev_broken(struct vdev *d, unsigned int q)
{
	if (d->broken)
		return;
	d->broken = true;
	log_warn("queue %u: the guest's ring is malformed; the device needs a reset", q);
	/* Main learns it on the mem tube and sets DEVICE_NEEDS_RESET; the config interrupt tells
	 * the driver to look. */
	vdev_notify_main_broken(d, q);
	vdev_config_changed(d);
}

struct loop {
	struct vdev *d;
	int epfd;
	bool done;
	bool serve_all; /* after the answer: look at every queue, as if kicked */
	int fds[TUBE_MAX_FDS]; /* fds that came with the request being handled */
	unsigned int nfds;
};

static int watch(struct loop *l, int fd, uint32_t data, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = data};

	if (epoll_ctl(l->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) < 0 && on) {
		log_err_errno("epoll_ctl");
		return -errno;
	}
	return 0;
}

void vdev_watch_backend(struct vdev *d, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_BACKEND};

	if (d->backend_watched == on || d->epfd < 0 || d->backend_fd < 0)
		return;
	if (epoll_ctl(d->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, d->backend_fd, &ev) < 0) {
		log_err_errno("epoll_ctl on the backend");
		return;
	}
	d->backend_watched = on;
}

static void serve_backend(struct vdev *d)
{
	if (d->active && !d->broken && !d->sleeping && d->ops->backend_ready)
		d->ops->backend_ready(d);
	else
		vdev_watch_backend(d, false); /* level-triggered: the device rewatches later */
}

static void watch_kicks(struct loop *l, bool on)
{
	for (unsigned int i = 0; i < l->d->nqueues; i++)
		if (l->d->kick_fd[i] >= 0)
			watch(l, l->d->kick_fd[i], i, on);
}

/* Forgets the queues and their fds: the state after a device reset. */
static void deactivate(struct loop *l)
{
	struct vdev *d = l->d;

	if (!d->sleeping)
		watch_kicks(l, false);
	for (unsigned int i = 0; i < VDEV_MAX_QUEUES; i++) {
		virtq_reset(&d->q[i]);
		close_fd(&d->kick_fd[i]);
		close_fd(&d->irq_fd[i]);
	}
	close_fd(&d->config_irq_fd);
	if (d->active && d->ops->reset)
		d->ops->reset(d);
	vdev_watch_backend(d, false);
	d->active = false;
	d->broken = false;
	d->sleeping = false;
	d->acked = 0;
}

/* Takes fd index idx of the request (MSG_FD_NONE: none); the loop no longer owns it. */
static int take_fd(struct loop *l, uint32_t idx)
{
	int fd;

	if (idx == MSG_FD_NONE || idx >= l->nfds)
		return -1;
	fd = l->fds[idx];
	l->fds[idx] = -1;
	return fd;
}

static int map_memory(struct vdev *d, const struct msg_device_activate *a)
{
	struct gmem_region r[MSG_DEVICE_MAX_REGIONS];

	if (d->mapped)
		return 0;
	for (uint32_t i = 0; i < a->nregions; i++) {
		r[i].gpa = a->regions[i].gpa;
		r[i].size = a->regions[i].size;
		r[i].offset = a->regions[i].offset;
	}
	if (gmem_map(&d->mem, d->mem_fd, r, a->nregions) < 0)
		return -EINVAL;
	d->mapped = true;
	return 0;
}

static int setup_queues(struct loop *l, const struct msg_device_activate *a)
{
	struct vdev *d = l->d;

	if (a->nqueues > d->nqueues)
		return -EINVAL;
	for (uint32_t i = 0; i < a->nqueues; i++) {
		const struct msg_device_queue *mq = &a->queues[i];

		d->kick_fd[i] = take_fd(l, mq->kick_fd);
		d->irq_fd[i] = take_fd(l, mq->irq_fd);
		if (!mq->enabled)
			continue;
		if (mq->size > d->ops->queue_max ||
		    virtq_init(&d->q[i], &d->mem, mq->size, mq->desc, mq->avail, mq->used,
			       a->features) < 0)
			return -EINVAL;
	}
	return 0;
}

static int do_activate(struct loop *l, const struct msg_device_activate *a)
{
	struct vdev *d = l->d;
	int ret;

	if (d->active)
		deactivate(l);
	if (a->features & ~d->features)
		return -EINVAL;
	d->acked = a->features;
	d->config_irq_fd = take_fd(l, a->config_irq_fd);
	ret = map_memory(d, a);
	if (!ret)
		ret = setup_queues(l, a);
	if (!ret && d->ops->activate)
		ret = d->ops->activate(d);
	if (ret) {
		deactivate(l);
		return ret;
	}
	d->active = true;
	watch_kicks(l, true);
	/* Buffers the driver queued before DRIVER_OK are served once main has its answer (main
	 * holds the transport's lock until then, and a broken ring would need it). */
	l->serve_all = true;
	return 0;
}

static void answer_info(struct loop *l, struct device_response *r)
{
	struct vdev *d = l->d;

	r->hdr.type = MSG_DEVICE_INFO;
	r->info.device_type = d->ops->virtio_type;
	r->info.nqueues = d->nqueues;
	r->info.features = d->features;
	r->info.config_size = d->ops->config_size;
	for (unsigned int i = 0; i < d->nqueues; i++)
		r->info.queue_max[i] = d->ops->queue_max;
}

static void answer_config_read(struct loop *l, const struct device_request *q,
			       struct device_response *r)
{
	const struct msg_device_config_read *c = &q->config_read;

	if (c->offset + c->len > l->d->ops->config_size) {
		msg_device_status(r, -EINVAL);
		return;
	}
	r->hdr.type = MSG_DEVICE_CONFIG_DATA;
	r->config_data.len = c->len;
	memcpy(r->config_data.data, l->d->config + c->offset, c->len);
}

static int config_write(struct loop *l, const struct msg_device_config_write *c)
{
	struct vdev *d = l->d;

	if (c->offset + c->len > d->ops->config_size)
		return -EINVAL;
	if (!d->ops->config_write)
		return -EPERM;
	return d->ops->config_write(d, c->offset, c->data, c->len);
}

static int set_sleep(struct loop *l, bool sleep)
{
	struct vdev *d = l->d;

	if (d->active && d->sleeping != sleep)
		watch_kicks(l, !sleep);
	d->sleeping = sleep;
	/* Kicks that came while asleep are still counted in their eventfds: serve them. */
	if (!sleep && d->active)
		l->serve_all = true;
	return 0;
}

static void handle(struct loop *l, const struct device_request *q, struct device_response *r)
{
	switch (q->hdr.type) {
	case MSG_DEVICE_HELLO:
		answer_info(l, r);
		return;
	case MSG_DEVICE_CONFIG_READ:
		answer_config_read(l, q, r);
		return;
	case MSG_DEVICE_CONFIG_WRITE:
		msg_device_status(r, config_write(l, &q->config_write));
		return;
	case MSG_DEVICE_ACTIVATE:
		msg_device_status(r, do_activate(l, &q->activate));
		return;
	case MSG_DEVICE_RESET:
		deactivate(l);
		msg_device_status(r, 0);
		return;
	case MSG_DEVICE_SLEEP:
	case MSG_DEVICE_WAKE:
		msg_device_status(r, set_sleep(l, q->hdr.type == MSG_DEVICE_SLEEP));
		return;
	case MSG_DEVICE_SHUTDOWN:
		l->done = true;
		msg_device_status(r, 0);
		return;
	case MSG_DEVICE_COMMAND:
		msg_device_status(r, -EOPNOTSUPP);
		if (l->d->ops->command)
			l->d->ops->command(l->d, &q->command, r);
		return;
	default:
		msg_device_status(r, -ENOSYS);
		return;
	}
}

static void close_request_fds(struct loop *l)
{
	for (unsigned int i = 0; i < l->nfds; i++)
		close_fd(&l->fds[i]);
	l->nfds = 0;
}

/* One request from main, one answer. Returns -EPIPE when main is gone. */
static int serve_ctrl(struct loop *l)
{
	uint8_t in[MSG_MAX_SIZE], out[MSG_MAX_SIZE];
	struct device_request q;
	struct device_response r;
	size_t len;
	int ret;

	ret = tube_recv(&l->d->ctrl, in, sizeof(in), &len, l->fds, TUBE_MAX_FDS, &l->nfds, 0);
	if (ret == -ETIMEDOUT || ret == -EAGAIN)
		return 0;
	if (ret < 0 && ret != -EMSGSIZE)
		return ret;
	memset(&r, 0, sizeof(r));
	if (ret == -EMSGSIZE)
		msg_device_status(&r, -EMSGSIZE);
	else if ((ret = msg_device_decode_request(in, len, l->nfds, &q)) < 0)
		msg_device_status(&r, ret);
	else
		handle(l, &q, &r);
	close_request_fds(l);
	ret = msg_device_encode_response(&r, 0, out, sizeof(out), &len);
	if (ret < 0) {
		log_err("cannot encode the answer to main: %s", strerror(-ret));
		return ret;
	}
	return tube_send(&l->d->ctrl, out, len, NULL, 0);
}

static void serve_kick(struct loop *l, unsigned int q)
{
	struct vdev *d = l->d;
	uint64_t count;

	if (q >= d->nqueues || read(d->kick_fd[q], &count, sizeof(count)) < 0)
		return;
#ifdef VMM_TEST_HOOKS
	run_test_hook();
#endif
	if (d->active && !d->broken && !d->sleeping)
		d->ops->notify(d, q);
}

static void serve_all(struct loop *l)
{
	struct vdev *d = l->d;

	l->serve_all = false;
	for (unsigned int i = 0; i < d->nqueues && d->active && !d->broken; i++)
		if (d->q[i].ready)
			d->ops->notify(d, i);
}

static int run(struct vdev *d)
{
	struct loop l = {.d = d};
	int ret = 0;

	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l.epfd < 0)
		return -errno;
	d->epfd = l.epfd;
	if (watch(&l, d->ctrl.fd, EV_CTRL, true) < 0)
		goto out;
	while (!l.done) {
		struct epoll_event ev[VDEV_MAX_QUEUES + 2];
		/* After the last turn's answers: the device's own timed work, and how long to wait. */
		int timeout = d->ops->tick ? d->ops->tick(d) : -1;
		int n = epoll_wait(l.epfd, ev, (int)ARRAY_SIZE(ev), timeout);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		for (int i = 0; i < n && !l.done && ret == 0; i++) {
			if (ev[i].data.u32 == EV_CTRL)
				ret = serve_ctrl(&l);
			else if (ev[i].data.u32 == EV_BACKEND)
				serve_backend(d);
			else
				serve_kick(&l, ev[i].data.u32);
		}
		if (ret == 0 && l.serve_all)
			serve_all(&l);
		if (ret < 0)
			break;
	}
out:
	deactivate(&l);
	vdev_watch_backend(d, false);
	d->epfd = -1;
	close(l.epfd);
	return ret;
}

int main(int argc, char **argv)
{
	struct entry_args a;
	const struct vdev_ops *ops;
	struct vdev d;
	int ret;

	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr, "usage: vmm-device --type TYPE --name NAME --parent PID "
				"[-- OPTIONS]\n(started by vmm, not by hand)\n");
		return 2;
	}
	log_set_name(a.name);
	if (tie_to_parent(&a) < 0) {
		log_err("vmm (pid %d) is gone", (int)a.parent);
		return 1;
	}
	ops = device_table_find(a.type);
	if (!ops) {
		log_err("no device type '%s'", a.type);
		return 2;
	}
	if (!fd_open(VDEV_FD_CTRL) || !fd_open(VDEV_FD_MEM) || !fd_open(VDEV_FD_GUEST)) {
		log_err("started without the ctrl tube, mem tube and guest memory at fds 3, 4, 5");
		return 2;
	}
	if (!a.jail && fd_open(MSG_DEVICE_FD_SECCOMP))
		close(MSG_DEVICE_FD_SECCOMP);
#ifdef VMM_TEST_HOOKS
	test_hook = a.hook;
#endif
	if (a.jail && enter_jail(&a) < 0) {
		log_err("could not enter its jail");
		return 1;
	}
	vdev_init(&d, ops, a.name);
	d.chain = malloc(sizeof(*d.chain));
	if (!d.chain)
		return 1;
	ret = ops->init(&d, a.dev_argc, a.dev_argv);
	if (ret == 0)
		ret = run(&d);
	if (ret == -EPIPE)
		ret = 0; /* main went away: nothing left to serve */
	if (ops->destroy)
		ops->destroy(&d);
	if (d.mapped)
		gmem_unmap(&d.mem);
	free(d.chain);
	return ret < 0 ? 1 : 0;
}
