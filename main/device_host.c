#include "device_host.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "log.h"
#include "seccomp.h"
#include "util.h"

/* The fds a vmm-device starts with: ipc/msg_device.h. */
#define CHILD_FD_CTRL MSG_DEVICE_FD_CTRL
#define CHILD_FD_END MSG_DEVICE_FD_END

static int find_device_bin(struct device_host *h)
{
	const char *env = getenv("VMM_DEVICE_BIN");
	char self[4096];
	ssize_t n;

	if (env) {
		snprintf(h->device_bin, sizeof(h->device_bin), "%s", env);
		return 0;
	}
	/* Next to vmm itself: a build tree or an installed bin/. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		log_err_errno("readlink /proc/self/exe");
		return -errno;
	}
	self[n] = '\0';
	snprintf(h->device_bin, sizeof(h->device_bin), "%s/vmm-device", dirname(self));
	if (access(h->device_bin, X_OK) < 0) {
		log_err_errno("cannot run %s", h->device_bin);
		return -ENOENT;
	}
	return 0;
}

static void warden_exec(void *ctx, const int *fds, char *const *argv);

int device_host_init(struct device_host *h, const struct guest_mem *mem, struct irq_router *router,
		     struct pci_root *pci, struct bus *mmio)
{
	int ret;

	memset(h, 0, sizeof(*h));
	h->mem = mem;
	h->router = router;
	h->pci = pci;
	h->mmio = mmio;
	h->mem_epfd = h->mem_stop_fd = -1;
	h->warden = (struct warden){.pid = -1, .fd = -1};
	pthread_mutex_init(&h->devs_lock, NULL);
	for (unsigned int i = 0; i < DEVICE_FILTER_TYPES; i++)
		h->filters[i].fd = -1;
	h->uid = geteuid();
	h->gid = getegid();
	h->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (h->devnull < 0) {
		log_err_errno("/dev/null");
		return -errno;
	}
	ret = find_device_bin(h);
	if (ret < 0)
		close_fd(&h->devnull);
#ifdef VMM_TEST_HOOKS
	h->test_hook = getenv("VMM_TEST_DEVICE_HOOK");
#endif
	return ret;
}

int device_host_set_jail(struct device_host *h, const struct jail_config *jail)
{
	if (jail_policy_dir(jail->policy_dir, h->policy_dir, sizeof(h->policy_dir)) < 0) {
		log_err("jail: no policy directory (%s); set [jail] policy_dir, or run with "
			"--no-jail", jail->policy_dir ? jail->policy_dir : "none installed");
		return -ENOENT;
	}
	h->userns = geteuid() != 0;
	h->jail = jail;
	/* Before any thread: the warden is a fork of main as it is now. */
	if (warden_start(&h->warden, h->userns, h->devnull, warden_exec, h) < 0) {
		log_err_errno("jail: cannot start the jail warden");
		h->jail = NULL;
		return -errno;
	}
	if (jail->seccomp == JAIL_SECCOMP_LEARN) {
		h->learn = jail_learn_start();
		if (!h->learn)
			return -ENOMEM;
	}
	return 0;
}

/*
 * In the child, between fork and exec: only async-signal-safe calls. Puts src[i] at fd 3 + i
 * (moving every source above the targets first so none is clobbered), stdin and stdout on
 * /dev/null, closes everything else, and execs.
 */
static void child_exec(const struct device_host *h, const int *src, char *const *argv)
{
	static char *const envp[] = {NULL};
	int tmp[CHILD_FD_END - CHILD_FD_CTRL];
	sigset_t none;

	/* A user namespace maps root inside to vmm's own ids, before exec keeps its caps. */
	if (h->jail && h->userns && jail_map_ids(h->uid, h->gid) < 0)
		_exit(126);
	/* main blocks its signals for its signalfd; a blocked mask would survive the exec */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	for (int i = 0; i < CHILD_FD_END - CHILD_FD_CTRL; i++)
		tmp[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD, 64) : -1;
	if (dup2(h->devnull, STDIN_FILENO) < 0 || dup2(h->devnull, STDOUT_FILENO) < 0)
		_exit(127);
	for (int i = 0; i < CHILD_FD_END - CHILD_FD_CTRL; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], CHILD_FD_CTRL + i) < 0)
			_exit(127);
	/* Nothing else crosses into the device: not main's KVM fds, not the other devices'. An
	 * absent backend or filter leaves its number free, so the fds after it keep theirs. */
	for (int i = 0; i < CHILD_FD_END - CHILD_FD_CTRL; i++)
		if (src[i] < 0)
			close(CHILD_FD_CTRL + i);
	if (syscall(SYS_close_range, CHILD_FD_END, ~0U, 0) < 0)
		_exit(127);
	execve(h->device_bin, argv, envp);
	_exit(127);
}

/* In a device the warden cloned. */
static void warden_exec(void *ctx, const int *fds, char *const *argv)
{
	child_exec(ctx, fds, argv);
}

/* The test hook for device name, from VMM_TEST_DEVICE_HOOK=NAME:HOOK, or NULL. */
static const char *test_hook_for(const struct device_host *h, const char *name)
{
	size_t len = strlen(name);

	if (!h->test_hook || strncmp(h->test_hook, name, len) != 0 || h->test_hook[len] != ':')
		return NULL;
	return h->test_hook + len + 1;
}

static int build_argv(const struct device_host *h, const struct device_spec *s, char *parent,
		      char *ids, char **argv, size_t max)
{
	const char *hook = test_hook_for(h, s->name);
	size_t n = 0;

	argv[n++] = "vmm-device";
	/* first: the warden only starts an argv that begins so */
	if (h->jail) {
		argv[n++] = "--jail";
		argv[n++] = ids;
	}
	argv[n++] = "--type";
	argv[n++] = (char *)s->type;
	argv[n++] = "--name";
	argv[n++] = (char *)s->name;
	argv[n++] = "--parent";
	argv[n++] = parent;
	if (h->jail && h->learn)
		argv[n++] = "--learn";
	if (hook) {
		argv[n++] = "--test-hook";
		argv[n++] = (char *)hook;
	}
	argv[n++] = "--";
	for (size_t i = 0; i < DEVICE_ARGS_MAX && s->args[i]; i++) {
		if (n + 1 >= max)
			return -E2BIG;
		argv[n++] = (char *)s->args[i];
	}
	argv[n] = NULL;
	return 0;
}

static enum seccomp_mode device_seccomp_mode(const struct jail_config *j)
{
	if (j->seccomp == JAIL_SECCOMP_LEARN)
		return SECCOMP_MODE_LEARN;
	return j->seccomp == JAIL_SECCOMP_LOG ? SECCOMP_MODE_LOG : SECCOMP_MODE_TRAP;
}

/* Learning: the device's first message is its seccomp listener. */
static int take_listener(struct device_host *h, struct hosted_device *d, const char *policy_path)
{
	int fd = -1;
	int ret = msg_device_recv_listener(&d->ctrl, DEVICE_TIMEOUT_MS, &fd);

	if (ret < 0) {
		log_err("%s did not hand its seccomp listener over: %s", d->name, strerror(-ret));
		return ret;
	}
	return jail_learn_add(h->learn, d->name, policy_path, fd);
}

/* The cached filter of type, compiled on first use. */
static struct device_filter *filter_for(struct device_host *h, const char *type)
{
	struct device_filter *f = NULL;

	for (unsigned int i = 0; i < DEVICE_FILTER_TYPES; i++) {
		if (h->filters[i].fd >= 0 && strcmp(h->filters[i].type, type) == 0)
			return &h->filters[i];
		if (!f && h->filters[i].fd < 0)
			f = &h->filters[i];
	}
	if (!f)
		return NULL;
	f->fd = seccomp_build_memfd(h->policy_dir, type, device_seccomp_mode(h->jail), f->path,
				    sizeof(f->path));
	if (f->fd < 0)
		return NULL;
	snprintf(f->type, sizeof(f->type), "%s", type);
	return f;
}

int device_host_prepare_type(struct device_host *h, const char *type)
{
	if (!h->jail)
		return 0;
	return filter_for(h, type) ? 0 : -EINVAL;
}

static int start_process(struct device_host *h, struct hosted_device *d, const struct device_spec *s)
{
	struct tube ctrl_child = {.fd = -1}, mem_child = {.fd = -1};
	char parent[16], ids[32], *argv[16 + DEVICE_ARGS_MAX + 1];
	const struct device_filter *filter = NULL;
	int src[WARDEN_FDS] = {-1, -1, -1, -1, -1}, ret;

	snprintf(parent, sizeof(parent), "%d", (int)getpid());
	/* In a user namespace only root inside exists (mapped to vmm's own ids). */
	if (h->jail)
		snprintf(ids, sizeof(ids), "%u:%u", h->userns ? 0 : h->jail->uid,
			 h->userns ? 0 : h->jail->gid);
	ret = build_argv(h, s, parent, ids, argv, ARRAY_SIZE(argv));
	if (ret == 0 && h->jail) {
		filter = filter_for(h, s->type);
		ret = filter ? 0 : -EINVAL;
	}
	if (ret < 0)
		return ret;
	src[2] = h->mem->fd;
	src[3] = s->backend_fd;
	src[4] = filter ? filter->fd : -1;
	if (h->jail) {
		/* the warden clones it and makes its tubes (main may have dropped what namespaces
		 * need, and makes no sockets once locked down) */
		d->pid = warden_spawn(&h->warden, src, argv, &d->ctrl.fd, &d->mem.fd);
		ret = d->pid < 0 ? d->pid : 0;
	} else {
		ret = tube_pair(&d->ctrl, &ctrl_child);
		if (ret == 0 && (ret = tube_pair(&d->mem, &mem_child)) < 0)
			tube_close(&ctrl_child);
		if (ret < 0)
			return ret;
		src[0] = ctrl_child.fd;
		src[1] = mem_child.fd;
		d->pid = fork();
		if (d->pid == 0)
			child_exec(h, src, argv);
		ret = d->pid < 0 ? -errno : 0;
		tube_close(&ctrl_child);
		tube_close(&mem_child);
	}
	if (ret < 0)
		log_err("%s: cannot start %s: %s%s", h->jail ? "jail: new namespaces" : "fork",
			s->name, strerror(-ret),
			h->jail ? " (vmm run --no-jail runs devices unjailed)" : "");
	d->alive = d->pid > 0;
	d->jailed = h->jail != NULL;
	if (ret == 0 && h->learn)
		ret = take_listener(h, d, filter->path);
	return ret;
}

/* One request on d's ctrl tube and its answer; a device that does not answer is killed. */
static int ctrl_call(struct hosted_device *d, const struct device_request *q, const int *fds,
		     unsigned int nfds, struct device_response *r)
{
	uint8_t out[MSG_MAX_SIZE], in[MSG_MAX_SIZE];
	size_t len, rlen;
	int ret;

	if (!d->alive)
		return -EPIPE;
	ret = msg_device_encode_request(q, nfds, out, sizeof(out), &len);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&d->ctrl_lock);
	ret = tube_call(&d->ctrl, out, len, fds, nfds, in, sizeof(in), &rlen, DEVICE_TIMEOUT_MS);
	if (ret == 0)
		ret = msg_device_decode_response(in, rlen, 0, r);
	if (ret == 0 && r->hdr.type == MSG_DEVICE_SECCOMP_TRAP) {
		/* Its filter stopped it while it served us: the reaper reports it. */
		d->trap_nr = r->trap.nr;
		ret = -EPIPE;
	}
	pthread_mutex_unlock(&d->ctrl_lock);
	if (ret == -ETIMEDOUT || ret == -EBADMSG || ret == -ENOMSG || ret == -ERANGE) {
		pid_t pid = d->pid; /* the reaper may clear it: never kill(-1) */

		/* A tube out of step or a device that speaks nonsense is not trusted again. */
		log_err("%s (pid %d): %s; stopping it", d->name, (int)pid,
			ret == -ETIMEDOUT ? "no answer" : "malformed answer");
		if (pid > 0)
			kill(pid, SIGKILL);
		d->alive = false;
	}
	return ret;
}

static int status_of(const struct device_response *r, uint32_t want_type)
{
	if (r->hdr.type == MSG_DEVICE_RESPONSE)
		return r->status.status;
	return r->hdr.type == want_type ? 0 : -EPROTO;
}

static int hello(struct hosted_device *d)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_HELLO};
	struct device_response r;
	int ret = ctrl_call(d, &q, NULL, 0, &r);

	if (ret == 0)
		ret = status_of(&r, MSG_DEVICE_INFO);
	if (ret < 0) {
		log_err("%s (pid %d) did not introduce itself: %s", d->name, (int)d->pid,
			strerror(-ret));
		return ret;
	}
	d->info = r.info;
	return 0;
}

static int vp_config_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
	struct hosted_device *d = ctx;
	struct device_request q = {.hdr.type = MSG_DEVICE_CONFIG_READ};
	struct device_response r;
	int ret;

	q.config_read.offset = off;
	q.config_read.len = len;
	ret = ctrl_call(d, &q, NULL, 0, &r);
	if (ret == 0)
		ret = status_of(&r, MSG_DEVICE_CONFIG_DATA);
	if (ret == 0 && r.config_data.len != len)
		ret = -EPROTO;
	if (ret == 0)
		memcpy(buf, r.config_data.data, len);
	return ret;
}

static int vp_config_write(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
	struct hosted_device *d = ctx;
	struct device_request q = {.hdr.type = MSG_DEVICE_CONFIG_WRITE};
	struct device_response r;
	int ret;

	if (len > sizeof(q.config_write.data))
		return -EINVAL;
	q.config_write.offset = off;
	q.config_write.len = len;
	memcpy(q.config_write.data, buf, len);
	ret = ctrl_call(d, &q, NULL, 0, &r);
	return ret ? ret : status_of(&r, MSG_DEVICE_RESPONSE);
}

/* Guest RAM as the device maps it: the memfd's layout (main/memory.h). */
static uint32_t fill_regions(const struct guest_mem *m, struct msg_device_region *r)
{
	r[0] = (struct msg_device_region){.gpa = 0, .size = m->low_size, .offset = 0};
	if (!m->high_size)
		return 1;
	r[1] = (struct msg_device_region){
		.gpa = MEM_HOLE_END, .size = m->high_size, .offset = m->low_size};
	return 2;
}

static int vp_activate(void *ctx, const struct virtio_pci_activation *a)
{
	struct hosted_device *d = ctx;
	struct device_request q = {.hdr.type = MSG_DEVICE_ACTIVATE};
	struct msg_device_activate *m = &q.activate;
	struct device_response r;
	int fds[MSG_DEVICE_MAX_FDS];
	unsigned int n = 0;
	int ret;

	m->features = a->features;
	m->nregions = fill_regions(d->host->mem, m->regions);
	m->nqueues = a->nqueues;
	m->mem_fd = MSG_FD_NONE; /* handed over at spawn */
	for (unsigned int i = 0; i < a->nqueues; i++) {
		const struct virtio_pci_queue_activation *qa = &a->queues[i];
		struct msg_device_queue *mq = &m->queues[i];

		mq->kick_fd = n;
		fds[n++] = d->kick_fds[i];
		mq->irq_fd = n;
		fds[n++] = d->irq_fds[i];
		if (!qa->enabled)
			continue;
		mq->enabled = 1;
		mq->size = qa->size;
		mq->desc = qa->desc;
		mq->avail = qa->avail;
		mq->used = qa->used;
	}
	m->config_irq_fd = n;
	fds[n++] = d->config_irq_fd;
	m->nfds = n;
	ret = ctrl_call(d, &q, fds, n, &r);
	return ret ? ret : status_of(&r, MSG_DEVICE_RESPONSE);
}

static void vp_reset(void *ctx)
{
	struct hosted_device *d = ctx;
	struct device_request q = {.hdr.type = MSG_DEVICE_RESET};
	struct device_response r;

	if (ctrl_call(d, &q, NULL, 0, &r) < 0)
		log_warn("%s: reset not acknowledged", d->name);
}

static const struct virtio_pci_ops hosted_vp_ops = {
	.config_read = vp_config_read,
	.config_write = vp_config_write,
	.activate = vp_activate,
	.reset = vp_reset,
};

static int make_eventfds(struct hosted_device *d)
{
	for (unsigned int i = 0; i < d->info.nqueues; i++) {
		d->kick_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		d->irq_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fds[i] < 0 || d->irq_fds[i] < 0)
			return -errno;
	}
	d->config_irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return d->config_irq_fd < 0 ? -errno : 0;
}

static int free_slot(const struct pci_root *p)
{
	for (unsigned int s = 1; s < PCI_SLOTS; s++)
		if (!p->slots[s])
			return (int)s;
	return -ENOSPC;
}

/*
 * Builds the device's virtio-pci function: on bus 0 with its BAR on the MMIO bus, or (hot-
 * plugged) with its BAR in its port's window, where hotplug.c's window dispatches to it.
 */
static int attach_pci(struct device_host *h, struct hosted_device *d, const struct device_spec *s)
{
	uint64_t bar = s->bar;
	int slot = 0, ret;

	if (s->port) {
		if (d->info.shm_size_mib)
			return -EINVAL; /* no room for a shared memory window behind a port */
		d->port = s->port;
	} else {
		slot = free_slot(h->pci);
		if (slot < 0)
			return slot;
		ret = pci_mmio_alloc(h->pci, VIRTIO_PCI_BAR_SIZE, &bar);
		if (ret < 0)
			return ret;
	}
	ret = virtio_pci_init(&d->vp, d->info.device_type, d->info.features, d->info.nqueues,
			      d->info.queue_max, d->info.config_size, bar, &hosted_vp_ops, d);
	if (ret < 0)
		return ret;
	d->vp_ready = true;
	if (d->info.shm_size_mib) {
		uint64_t size = (uint64_t)d->info.shm_size_mib << 20;

		ret = pci_mmio_alloc(h->pci, size, &bar);
		if (ret == 0)
			ret = virtio_pci_add_shm(&d->vp, bar, size);
		if (ret < 0)
			return ret;
	}
	ret = virtio_pci_bind_irqs(&d->vp, h->router, d->irq_fds, d->config_irq_fd);
	if (ret == 0)
		ret = virtio_pci_bind_kicks(&d->vp, h->router, d->kick_fds);
	if (ret < 0 || s->port)
		return ret;
	ret = bus_add(h->mmio, bar, VIRTIO_PCI_BAR_SIZE, &virtio_pci_bar_ops, &d->vp, d->name);
	if (ret == 0)
		ret = pci_root_add(h->pci, (unsigned int)slot, &d->vp.pci);
	d->slot = (unsigned int)slot;
	return ret;
}

/* Gives d its starting state; ctrl_lock is initialised once, when d is allocated. */
static void reset_device(struct device_host *h, struct hosted_device *d, const struct device_spec *s)
{
	pthread_mutex_t lock = d->ctrl_lock;

	memset(d, 0, sizeof(*d));
	d->ctrl_lock = lock;
	d->host = h;
	snprintf(d->name, sizeof(d->name), "%s", s->name);
	snprintf(d->type, sizeof(d->type), "%s", s->type);
	snprintf(d->backend, sizeof(d->backend), "%s", s->backend ? s->backend : "");
	d->ctrl.fd = d->mem.fd = d->config_irq_fd = -1;
	d->trap_nr = -1;
	d->pid = -1;
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		d->kick_fds[i] = d->irq_fds[i] = -1;
}

/* An entry for s: a removed one again, or a new one. NULL when DEVICE_HOST_MAX are in use. */
static struct hosted_device *new_device(struct device_host *h, const struct device_spec *s,
					unsigned int *index)
{
	struct hosted_device *d = NULL;

	pthread_mutex_lock(&h->devs_lock);
	for (unsigned int i = 0; i < h->ndevs && !d; i++)
		if (h->devs[i]->removed) {
			d = h->devs[i];
			*index = i;
			reset_device(h, d, s);
		}
	if (!d && h->ndevs < DEVICE_HOST_MAX && (d = calloc(1, sizeof(*d)))) {
		pthread_mutex_init(&d->ctrl_lock, NULL);
		reset_device(h, d, s);
		*index = h->ndevs;
		h->devs[h->ndevs++] = d;
	}
	pthread_mutex_unlock(&h->devs_lock);
	return d;
}

int device_host_spawn(struct device_host *h, const struct device_spec *s)
{
	struct hosted_device *d;
	int backend = s->backend_fd;
	unsigned int index = 0;
	int ret = -ENOSPC;

	if (!(d = new_device(h, s, &index)))
		goto out_close;
	ret = start_process(h, d, s);
	if (ret == 0)
		ret = hello(d);
	if (ret == 0)
		ret = make_eventfds(d);
	if (ret == 0)
		ret = attach_pci(h, d, s);
	/* Spawned after the mem server started: it serves this one too. */
	if (ret == 0 && h->mem_thread_started)
		ret = mem_server_add(h, index);
	if (ret < 0) {
		log_err("cannot start %s: %s", s->name, strerror(-ret));
		if (s->port)
			device_host_remove(h, d);
		goto out_close;
	}
	log_debug("%s: pid %d, virtio type %u, %u queues, %s", d->name, (int)d->pid,
		  d->info.device_type, d->info.nqueues, s->port ? "hot-plugged" : "on bus 0");
out_close:
	/* The device has its own copy now (or failed); ours is not needed. */
	close_fd(&backend);
	return ret;
}

/* devs_lock held: an entry cannot be given to another device meanwhile (new_device()). */
static struct hosted_device *by_pid(struct device_host *h, pid_t pid)
{
	for (unsigned int i = 0; i < h->ndevs; i++)
		if (h->devs[i]->pid == pid)
			return h->devs[i];
	return NULL;
}

/* A SECCOMP_TRAP the device sent before it exited, if any is waiting on its ctrl tube. */
static int trapped_syscall(struct hosted_device *d)
{
	uint8_t in[MSG_MAX_SIZE];
	struct device_response r;
	unsigned int nfds = 0;
	size_t len;
	int fd = -1;

	pthread_mutex_lock(&d->ctrl_lock);
	while (d->trap_nr < 0 && tube_recv(&d->ctrl, in, sizeof(in), &len, &fd, 1, &nfds, 0) == 0) {
		close_fd(&fd);
		if (msg_device_decode_response(in, len, nfds, &r) == 0 &&
		    r.hdr.type == MSG_DEVICE_SECCOMP_TRAP)
			d->trap_nr = r.trap.nr;
	}
	pthread_mutex_unlock(&d->ctrl_lock);
	return d->trap_nr;
}

struct hosted_device *device_host_find(struct device_host *h, const char *name)
{
	for (unsigned int i = 0; i < h->ndevs; i++)
		if (!h->devs[i]->removed && strcmp(h->devs[i]->name, name) == 0)
			return h->devs[i];
	return NULL;
}

struct hosted_device *device_host_find_backend(struct device_host *h, const char *backend)
{
	for (unsigned int i = 0; i < h->ndevs; i++)
		if (!h->devs[i]->removed && strcmp(h->devs[i]->backend, backend) == 0)
			return h->devs[i];
	return NULL;
}

struct hosted_device *device_host_find_type(struct device_host *h, const char *type)
{
	for (unsigned int i = 0; i < h->ndevs; i++)
		if (!h->devs[i]->removed && strcmp(h->devs[i]->type, type) == 0)
			return h->devs[i];
	return NULL;
}

void device_host_status(struct hosted_device *d, struct msg_vm_device_status *s)
{
	memset(s, 0, sizeof(*s));
	msg_set_str(s->name, sizeof(s->name), d->name);
	msg_set_str(s->type, sizeof(s->type), d->type);
	s->pid = d->pid > 0 ? (uint32_t)d->pid : 0;
	s->flags = (d->jailed ? MSG_VM_DEV_JAILED : 0) | (d->alive ? MSG_VM_DEV_ALIVE : 0);
	msg_set_str(s->backend, sizeof(s->backend), d->backend);
	/* behind a port: device 0 of its secondary bus, as the guest numbered it */
	s->pci_addr = d->port ? MSG_VM_PCI_ADDR(pci_cfg_read(&d->port->pci, PCI_SECONDARY_BUS, 1), 0)
			      : MSG_VM_PCI_ADDR(0, d->slot);
	s->virtio_type = d->info.device_type;
	if (d->vp_ready) {
		uint8_t st = virtio_pci_status(&d->vp, &s->features);

		s->flags |= (st & VIRTIO_STATUS_DRIVER_OK ? MSG_VM_DEV_DRIVER_OK : 0) |
			    (st & VIRTIO_STATUS_NEEDS_RESET ? MSG_VM_DEV_NEEDS_RESET : 0);
	}
}

int device_host_command(struct hosted_device *d, const struct msg_device_command *c,
			struct device_response *r)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_COMMAND, .command = *c};
	int ret = ctrl_call(d, &q, NULL, 0, r);

	if (ret == 0 && r->hdr.type == MSG_DEVICE_RESPONSE)
		ret = r->status.status;
	return ret;
}

int device_host_sleep_all(struct device_host *h, bool sleep)
{
	int first = 0;

	for (unsigned int i = 0; i < h->ndevs; i++) {
		struct hosted_device *d = h->devs[i];
		struct device_request q = {.hdr.type = sleep ? MSG_DEVICE_SLEEP : MSG_DEVICE_WAKE};
		struct device_response r;
		int ret;

		if (!d->alive)
			continue;
		ret = ctrl_call(d, &q, NULL, 0, &r);
		if (ret == 0)
			ret = status_of(&r, MSG_DEVICE_RESPONSE);
		if (ret < 0 && first == 0)
			first = ret;
	}
	return first;
}

void device_host_event(struct device_host *h, uint32_t event, const char *device, uint32_t pid,
		       int32_t status, uint64_t value, const char *text)
{
	struct msg_vm_event e = {.event = event, .pid = pid, .status = status, .value = value};

	if (!h->event)
		return;
	msg_set_str(e.device, sizeof(e.device), device ? device : "");
	/* cut to fit: events are for people and programs alike, never an error */
	snprintf(e.text, sizeof(e.text), "%s", text ? text : "");
	h->event(h->event_ctx, &e);
}

/* How d ended, for the log and the device-exit event: "was killed by signal 9 (Killed)". */
static void describe_death(const struct hosted_device *d, int status, int nr, char *buf,
			   size_t len)
{
	if (nr >= 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);

		snprintf(buf, len, "was killed by its seccomp filter: forbidden syscall %s (%d); "
			 "see 'vmm policy audit %s'", name ? name : "?", nr, d->type);
		free(name);
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
		snprintf(buf, len, "was killed by its seccomp filter (SIGSYS)");
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	}
}

static void report_death(struct hosted_device *d, int status)
{
	char text[MSG_VM_ERR_MESSAGE];

	describe_death(d, status, d->jailed ? trapped_syscall(d) : -1, text, sizeof(text));
	log_err("device %s (pid %d) %s", d->name, (int)d->pid, text);
	device_host_event(d->host, MSG_VM_EVENT_DEVICE_EXIT, d->name, (uint32_t)d->pid,
			  WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status), 0, text);
}

void device_host_reap(struct device_host *h)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct hosted_device *d;

		if (pid == h->warden.pid) {
			log_err("the jail warden (pid %d) exited; no device can be started from now on",
				(int)pid);
			h->warden.pid = -1;
		}
		/*
		 * Found and marked under devs_lock: the control thread may be removing this
		 * device, and may then give its entry to the next hot-plugged one, whose death
		 * this is not.
		 */
		pthread_mutex_lock(&h->devs_lock);
		d = by_pid(h, pid);
		/* one being unplugged (control thread) was asked to stop; its function goes away */
		if (d && (atomic_load(&d->removing) || d->removed)) {
			d->pid = -1;
			d = NULL;
		}
		if (d) {
			if (d->alive)
				report_death(d, status);
			d->alive = false;
			d->pid = -1;
			/* The driver sees a device that needs a reset and will not get one. */
			if (d->vp_ready)
				virtio_pci_set_needs_reset(&d->vp);
		}
		pthread_mutex_unlock(&h->devs_lock);
	}
}

/* Waits up to ms for pid to exit; true when it was reaped (here or by the reaper). */
static bool wait_exit(pid_t pid, int ms)
{
	struct timespec step = {.tv_nsec = 10 * 1000 * 1000};
	int status;

	for (int waited = 0; waited <= ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		nanosleep(&step, NULL);
	}
	return false;
}

/* Asks d to stop, then kills it if it does not, and reaps it. */
static void stop_device(struct hosted_device *d)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_SHUTDOWN};
	struct device_response r;
	/* The reaper (main thread) may reap it and clear d->pid meanwhile: never wait for or
	 * kill pid -1, which means every process. */
	pid_t pid = d->pid;

	if (pid <= 0)
		return;
	if (d->alive)
		ctrl_call(d, &q, NULL, 0, &r);
	d->alive = false;
	if (!wait_exit(pid, 1000)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	d->pid = -1;
}

void device_host_shutdown(struct device_host *h)
{
	for (unsigned int i = 0; i < h->ndevs; i++)
		stop_device(h->devs[i]);
}

/* What d holds in main: its function's bindings, eventfds, mappings and tubes. */
static void release_device(struct hosted_device *d)
{
	if (d->vp_ready)
		virtio_pci_destroy(&d->vp);
	d->vp_ready = false;
	for (unsigned int q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++) {
		close_fd(&d->kick_fds[q]);
		close_fd(&d->irq_fds[q]);
	}
	close_fd(&d->config_irq_fd);
	/* KVM's slots go with the VM fd; main's mappings of device memory go here. */
	for (unsigned int m = 0; m < DEVICE_SHM_MAPS; m++)
		if (d->maps[m].used)
			munmap(d->maps[m].host, d->maps[m].size);
	tube_close(&d->ctrl);
	tube_close(&d->mem);
}

void device_host_remove(struct device_host *h, struct hosted_device *d)
{
	atomic_store(&d->removing, true);
	if (h->mem_thread_started && d->mem.fd >= 0)
		mem_server_del(h, d);
	stop_device(d);
	release_device(d);
	pthread_mutex_lock(&h->devs_lock);
	d->removed = true;
	atomic_store(&d->removing, false);
	d->name[0] = d->backend[0] = '\0';
	pthread_mutex_unlock(&h->devs_lock);
}

void device_host_destroy(struct device_host *h)
{
	mem_server_stop(h);
	device_host_shutdown(h);
	for (unsigned int i = 0; i < h->ndevs; i++) {
		release_device(h->devs[i]);
		pthread_mutex_destroy(&h->devs[i]->ctrl_lock);
		free(h->devs[i]);
	}
	h->ndevs = 0;
	warden_stop(&h->warden);
	for (unsigned int i = 0; i < DEVICE_FILTER_TYPES; i++)
		close_fd(&h->filters[i].fd);
	close_fd(&h->devnull);
	if (h->learn) {
		/* Every device has exited: all it did is counted. */
		jail_learn_stop(h->learn);
		printf("vmm policy learn: what each device did, against its policy\n");
		h->learn_missing = jail_learn_report(h->learn, stdout);
		fflush(stdout);
		jail_learn_free(h->learn);
		h->learn = NULL;
	}
}
