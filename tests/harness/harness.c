/* The device harness: main and the guest driver, played against a real vmm-device (harness.h). */
#include "harness.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "jail.h"
#include "learn.h"
#include "msg.h"
#include "msg_vm_memory.h"
#include "seccomp.h"
#include "util.h"
#include "virtq.h"

#ifndef VMM_DEVICE_BIN_DEFAULT
#define VMM_DEVICE_BIN_DEFAULT "vmm-device"
#endif

/* The fds a vmm-device starts with: ipc/msg_device.h. */
enum { CHILD_FD_CTRL = MSG_DEVICE_FD_CTRL, CHILD_NFDS = MSG_DEVICE_FD_END - MSG_DEVICE_FD_CTRL };
#define ARGS_MAX 32

/* Split ring offsets (virtio 1.2, 2.7), as devices/virtq.c has them. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING(i) (4 + 2 * (uint64_t)(i))
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING(i) (4 + 8 * (uint64_t)(i))

const char *harness_device_bin(void)
{
	const char *env = getenv("VMM_DEVICE_BIN");

	return env && *env ? env : VMM_DEVICE_BIN_DEFAULT;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- guest memory ---- */

void *harness_ptr(struct harness *h, uint64_t gpa, uint64_t len)
{
	if (!h->ram || gpa > h->mem_size || len > h->mem_size - gpa)
		return NULL;
	return h->ram + gpa;
}

uint64_t harness_alloc(struct harness *h, uint64_t len)
{
	uint64_t gpa = h->data_next;

	len = ALIGN_UP(len ? len : 1, 4096ULL);
	if (gpa + len > h->mem_size || gpa + len < gpa)
		return 0;
	h->data_next = gpa + len;
	memset(h->ram + gpa, 0, len);
	return gpa;
}

/* Like main's guest_mem_init(): sealed so the device cannot resize it under us. */
static int make_memory(struct harness *h, uint64_t size)
{
	h->memfd = memfd_create("harness-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (h->memfd < 0)
		return -errno;
	if (ftruncate(h->memfd, (off_t)size) < 0 ||
	    fcntl(h->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	h->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, h->memfd, 0);
	if (h->ram == MAP_FAILED) {
		h->ram = NULL;
		return -errno;
	}
	h->mem_size = size;
	h->data_next = HARNESS_DATA_BASE;
	return 0;
}

/* ---- the mem tube server ---- */

/* Appends the request's ranges to list (n kept so far), as far as it has room. */
static void record_ranges(struct msg_vm_memory_range *list, unsigned int *n,
			  const struct msg_vm_memory_ranges *r)
{
	for (uint32_t i = 0; i < r->nranges; i++, (*n)++)
		if (*n < HARNESS_RANGES_MAX)
			list[*n] = r->ranges[i];
}

/* Balloon notices; lock held. */
static void record_balloon(struct harness *h, const struct vm_memory_request *q)
{
	if (q->hdr.type == MSG_VM_MEMORY_FREE_RANGES) {
		h->free_requests++;
		record_ranges(h->freed, &h->nfreed, &q->ranges);
	} else if (q->hdr.type == MSG_VM_MEMORY_RECLAIM_RANGES) {
		h->reclaim_requests++;
		record_ranges(h->reclaimed, &h->nreclaimed, &q->ranges);
	} else if (q->hdr.type == MSG_VM_MEMORY_BALLOON_TARGET_REACHED) {
		h->target_reached++;
		h->target_bytes = q->balloon.bytes;
	}
}

static void mem_record(struct harness *h, const struct vm_memory_request *q, int ret)
{
	pthread_mutex_lock(&h->lock);
	h->mem_requests++;
	if (ret < 0) {
		h->mem_bad++;
	} else {
		h->last_mem_type = q->hdr.type;
		if (q->hdr.type == MSG_VM_MEMORY_NEEDS_RESET) {
			h->needs_reset++;
			h->needs_reset_queue = q->needs_reset.queue;
		}
		record_balloon(h, q);
	}
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* One request, one answer: status 0 for anything that decodes. -EPIPE once the device is gone. */
static int mem_serve_one(struct harness *h)
{
	uint8_t in[MSG_MAX_SIZE], out[MSG_MAX_SIZE];
	struct vm_memory_request q;
	struct vm_memory_response r;
	int fds[TUBE_MAX_FDS];
	unsigned int nfds = 0;
	size_t len;
	int ret;

	ret = tube_recv(&h->mem, in, sizeof(in), &len, fds, TUBE_MAX_FDS, &nfds, 0);
	if (ret == -ETIMEDOUT || ret == -EAGAIN)
		return 0;
	if (ret == -EPIPE)
		return ret;
	if (ret == 0)
		ret = msg_vm_memory_decode_request(in, len, nfds, &q);
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	mem_record(h, &q, ret);
	memset(&r, 0, sizeof(r));
	msg_vm_memory_status(&r, ret);
	if (msg_vm_memory_encode_response(&r, 0, out, sizeof(out), &len) == 0)
		tube_send(&h->mem, out, len, NULL, 0);
	return 0;
}

static void *mem_thread(void *arg)
{
	struct harness *h = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = h->mem.fd, .events = POLLIN},
				      {.fd = h->mem_stop_fd, .events = POLLIN}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (p[0].revents && mem_serve_one(h) == -EPIPE)
			return NULL;
	}
}

int harness_wait_needs_reset(struct harness *h, unsigned int count, int timeout_ms)
{
	return harness_wait_count(h, &h->needs_reset, count, timeout_ms);
}

int harness_wait_count(struct harness *h, const unsigned int *counter, unsigned int count,
		       int timeout_ms)
{
	struct timespec until;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->lock);
	while (*counter < count && ret == 0)
		ret = pthread_cond_timedwait(&h->cond, &h->lock, &until);
	ret = *counter >= count ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t harness_wait_eventfd(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t v;
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return -errno;
	return (int64_t)v;
}

/* ---- spawning ---- */

/*
 * In the child, between fork and exec: only async-signal-safe calls. The same steps as main's
 * child_exec(): src[i] to fd 3 + i via fds above 64, stdin/stdout on /dev/null, stderr kept (the
 * device's log lands in the test's output), everything else closed, an empty environment.
 */
static void child_exec(int devnull, const int *src, char *const *argv, bool userns, uid_t uid,
		       gid_t gid)
{
	static char *const envp[] = {NULL};
	int tmp[CHILD_NFDS];
	sigset_t none;

	if (userns && jail_map_ids(uid, gid) < 0)
		_exit(126);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 0; i < CHILD_NFDS; i++)
		tmp[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD, 64) : -1;
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0)
		_exit(127);
	for (int i = 0; i < CHILD_NFDS; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], CHILD_FD_CTRL + i) < 0)
			_exit(127);
	for (int i = 0; i < CHILD_NFDS; i++)
		if (src[i] < 0)
			close(CHILD_FD_CTRL + i);
	if (syscall(SYS_close_range, CHILD_FD_CTRL + CHILD_NFDS, ~0U, 0) < 0)
		_exit(127);
	execve(harness_device_bin(), argv, envp);
	_exit(127);
}

/*
 * VMM_HARNESS_JAIL=1 jails every device as main does (its policy from jail_policy_dir());
 * VMM_HARNESS_LEARN=FILE also learns, and appends the report to FILE when the device stops.
 */
static const char *learn_file(void)
{
	const char *f = getenv("VMM_HARNESS_LEARN");

	return f && *f ? f : NULL;
}

static bool jailing(void)
{
	const char *j = getenv("VMM_HARNESS_JAIL");

	return learn_file() || (j && strcmp(j, "1") == 0);
}

static int build_argv(const struct harness_spec *s, char *name, size_t name_len, char *parent,
		      char *ids, char **argv)
{
	size_t n = 0;

	if (s->name)
		snprintf(name, name_len, "%s", s->name);
	else
		snprintf(name, name_len, "%s0", s->type);
	snprintf(parent, 16, "%d", (int)getpid());
	argv[n++] = "vmm-device";
	argv[n++] = "--type";
	argv[n++] = (char *)s->type;
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--parent";
	argv[n++] = parent;
	if (jailing()) {
		argv[n++] = "--jail";
		argv[n++] = ids;
		if (learn_file())
			argv[n++] = "--learn";
	}
	argv[n++] = "--";
	for (size_t i = 0; s->args && s->args[i]; i++) {
		if (n + 1 >= ARGS_MAX)
			return -E2BIG;
		argv[n++] = (char *)s->args[i];
	}
	argv[n] = NULL;
	return 0;
}

/* The device's compiled policy in a memfd, as main hands it over. */
static int filter_fd(const struct harness_spec *s, char *policy, size_t len)
{
	char dir[4096];
	int ret = jail_policy_dir(NULL, dir, sizeof(dir));

	if (ret < 0)
		return ret;
	return seccomp_build_memfd(dir, s->type,
				   learn_file() ? SECCOMP_MODE_LEARN : SECCOMP_MODE_TRAP, policy, len);
}

/* Learning: the device's first message is its seccomp listener. */
static int take_listener(struct harness *h, const char *name, const char *policy)
{
	int fd = -1;
	int ret = msg_device_recv_listener(&h->ctrl, HARNESS_TIMEOUT_MS, &fd);

	if (ret == 0 && !(h->learn = jail_learn_start()))
		ret = -ENOMEM;
	if (ret < 0) {
		close_fd(&fd);
		return ret;
	}
	return jail_learn_add(h->learn, name, policy, fd);
}

static int fork_device(struct harness *h, const struct harness_spec *s)
{
	char name[64], parent[16], ids[32], policy[4096], *argv[ARGS_MAX];
	struct tube ctrl_child = {.fd = -1}, mem_child = {.fd = -1};
	int src[CHILD_NFDS], devnull, ret;
	bool userns = geteuid() != 0;
	uid_t uid = geteuid();
	gid_t gid = getegid();

	for (int i = 0; i < CHILD_NFDS; i++)
		src[i] = -1;
	snprintf(ids, sizeof(ids), "%s", userns ? "0:0" : "65534:65534");
	ret = build_argv(s, name, sizeof(name), parent, ids, argv);
	if (ret == 0 && jailing()) {
		src[MSG_DEVICE_FD_SECCOMP - CHILD_FD_CTRL] = filter_fd(s, policy, sizeof(policy));
		ret = MIN(src[MSG_DEVICE_FD_SECCOMP - CHILD_FD_CTRL], 0);
	}
	if (ret < 0)
		return ret;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		close_fd(&src[MSG_DEVICE_FD_SECCOMP - CHILD_FD_CTRL]);
		return -errno;
	}
	ret = tube_pair(&h->ctrl, &ctrl_child);
	if (ret == 0)
		ret = tube_pair(&h->mem, &mem_child);
	if (ret == 0) {
		src[0] = ctrl_child.fd;
		src[1] = mem_child.fd;
		src[2] = h->memfd;
		src[3] = s->backend_fd;
		h->pid = jailing() ? jail_clone(userns) : fork();
		if (h->pid == 0)
			child_exec(devnull, src, argv, jailing() && userns, uid, gid);
		ret = h->pid < 0 ? (jailing() ? h->pid : -errno) : 0;
	}
	tube_close(&ctrl_child);
	tube_close(&mem_child);
	close(devnull);
	close_fd(&src[MSG_DEVICE_FD_SECCOMP - CHILD_FD_CTRL]);
	if (ret == 0 && learn_file())
		ret = take_listener(h, name, policy);
	return ret;
}

static void harness_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	h->inited = true;
	h->pid = -1;
	h->exit_status = -1;
	h->ctrl.fd = h->mem.fd = h->memfd = h->config_irq_fd = h->mem_stop_fd = -1;
	for (unsigned int i = 0; i < MSG_DEVICE_MAX_QUEUES; i++)
		h->q[i].kick_fd = h->q[i].irq_fd = -1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
}

int harness_spawn(struct harness *h, const struct harness_spec *s)
{
	int ret;

	harness_init(h);
	ret = make_memory(h, s->mem_size ? s->mem_size : HARNESS_MEM_SIZE);
	if (ret == 0)
		ret = fork_device(h, s);
	if (ret == 0) {
		h->mem_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (h->mem_stop_fd < 0)
			ret = -errno;
	}
	if (ret == 0) {
		ret = -pthread_create(&h->mem_thread, NULL, mem_thread, h);
		h->mem_running = ret == 0;
	}
	if (ret < 0)
		harness_stop(h);
	return ret;
}

/* Reaps the device if it exited within ms. */
static bool reap(struct harness *h, int ms)
{
	int64_t end = now_ms() + ms;
	struct timespec step = {.tv_nsec = 2 * 1000 * 1000};
	int status;

	if (h->pid <= 0)
		return true;
	for (;;) {
		pid_t r = waitpid(h->pid, &status, WNOHANG);

		if (r == h->pid) {
			h->exit_status = status;
			h->pid = -1;
			return true;
		}
		if (r < 0 || now_ms() >= end)
			return r < 0;
		nanosleep(&step, NULL);
	}
}

bool harness_alive(struct harness *h)
{
	return !reap(h, 0);
}

int harness_hello(struct harness *h)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_HELLO};
	struct device_response r;
	int ret;

	ret = harness_call(h, &q, NULL, 0, &r);
	if (ret == 0)
		ret = harness_status(&r, MSG_DEVICE_INFO);
	if (ret == -EPIPE && reap(h, HARNESS_TIMEOUT_MS))
		return -ENODEV; /* it exited instead of answering */
	if (ret == 0)
		h->info = r.info;
	return ret;
}

int harness_start(struct harness *h, const struct harness_spec *s)
{
	int ret = harness_spawn(h, s);

	if (ret == 0)
		ret = harness_hello(h);
	if (ret < 0) {
		int status = h->exit_status;

		harness_stop(h);
		h->exit_status = status;
	}
	return ret;
}

static void forget_queues(struct harness *h)
{
	for (unsigned int i = 0; i < MSG_DEVICE_MAX_QUEUES; i++) {
		close_fd(&h->q[i].kick_fd);
		close_fd(&h->q[i].irq_fd);
	}
	close_fd(&h->config_irq_fd);
}

/* Learning: let the device shut down on its own, so its exit is seen, then report. */
static void finish_learning(struct harness *h)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_SHUTDOWN};
	struct device_response r;
	FILE *f;

	if (h->pid > 0 && harness_call(h, &q, NULL, 0, &r) == 0)
		reap(h, HARNESS_TIMEOUT_MS);
	jail_learn_stop(h->learn);
	f = fopen(learn_file(), "ae");
	if (f) {
		jail_learn_report(h->learn, f);
		fclose(f);
	}
	jail_learn_free(h->learn);
	h->learn = NULL;
}

void harness_stop(struct harness *h)
{
	if (!h->inited)
		return;
	if (h->learn)
		finish_learning(h);
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &h->exit_status, 0);
		h->pid = -1;
	}
	if (h->mem_running) {
		uint64_t one = 1;

		if (write(h->mem_stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(h->mem_thread, NULL);
		h->mem_running = false;
	}
	close_fd(&h->mem_stop_fd);
	tube_close(&h->ctrl);
	tube_close(&h->mem);
	forget_queues(h);
	if (h->ram)
		munmap(h->ram, h->mem_size);
	h->ram = NULL;
	close_fd(&h->memfd);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	h->inited = false;
}

/* ---- ctrl tube ---- */

int harness_call_raw(struct harness *h, const void *buf, size_t len, const int *fds,
		     unsigned int nfds, struct device_response *r)
{
	uint8_t in[MSG_MAX_SIZE];
	size_t rlen;
	int ret;

	if (h->ctrl.fd < 0)
		return -EPIPE;
	ret = tube_call(&h->ctrl, buf, len, fds, nfds, in, sizeof(in), &rlen, HARNESS_TIMEOUT_MS);
	if (ret == 0)
		ret = msg_device_decode_response(in, rlen, 0, r);
	return ret;
}

int harness_call(struct harness *h, const struct device_request *q, const int *fds,
		 unsigned int nfds, struct device_response *r)
{
	uint8_t out[MSG_MAX_SIZE];
	size_t len;
	int ret;

	ret = msg_device_encode_request(q, nfds, out, sizeof(out), &len);
	if (ret == 0)
		ret = harness_call_raw(h, out, len, fds, nfds, r);
	return ret;
}

int harness_status(const struct device_response *r, uint32_t want)
{
	if (r->hdr.type == MSG_DEVICE_RESPONSE)
		return r->status.status;
	return want && r->hdr.type == want ? 0 : -EPROTO;
}

int harness_config_read(struct harness *h, uint32_t off, void *buf, uint32_t len)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_CONFIG_READ};
	struct device_response r;
	int ret;

	q.config_read.offset = off;
	q.config_read.len = len;
	ret = harness_call(h, &q, NULL, 0, &r);
	if (ret == 0)
		ret = harness_status(&r, MSG_DEVICE_CONFIG_DATA);
	if (ret == 0 && r.config_data.len != len)
		ret = -EPROTO;
	if (ret == 0)
		memcpy(buf, r.config_data.data, len);
	return ret;
}

int harness_reset(struct harness *h)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_RESET};
	struct device_response r;
	int ret;

	ret = harness_call(h, &q, NULL, 0, &r);
	if (ret == 0)
		ret = harness_status(&r, 0);
	forget_queues(h);
	return ret;
}

/* ---- activation ---- */

static void queue_layout(struct harness *h, unsigned int i, uint16_t size)
{
	struct harness_queue *q = &h->q[i];
	uint64_t base = HARNESS_RING_BASE + i * HARNESS_RING_STRIDE;

	close_fd(&q->kick_fd);
	close_fd(&q->irq_fd);
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->irq_fd = -1;
	q->enabled = true;
	q->size = size;
	q->desc = base;
	q->avail = base + 0x4000;
	q->used = base + 0x8000;
	memset(h->ram + base, 0, HARNESS_RING_STRIDE);
	memset(h->ram + HARNESS_IND_BASE + i * HARNESS_IND_STRIDE, 0, HARNESS_IND_STRIDE);
	q->nfree = size;
	for (uint16_t d = 0; d < size; d++)
		q->chain_next[d] = (uint16_t)(d + 1);
}

int harness_layout(struct harness *h, unsigned int nqueues, uint16_t size)
{
	if (nqueues < 1 || nqueues > h->info.nqueues || nqueues > MSG_DEVICE_MAX_QUEUES)
		return -EINVAL;
	for (unsigned int i = 0; i < nqueues; i++) {
		uint16_t sz = size ? size : MIN(h->info.queue_max[i], HARNESS_QUEUE_DEFAULT);

		if (sz == 0 || sz > HARNESS_QUEUE_MAX || (sz & (sz - 1)))
			return -EINVAL;
		queue_layout(h, i, sz);
	}
	h->nqueues = nqueues;
	return 0;
}

static int make_eventfds(struct harness *h)
{
	for (unsigned int i = 0; i < h->nqueues; i++) {
		close_fd(&h->q[i].kick_fd);
		close_fd(&h->q[i].irq_fd);
		h->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		h->q[i].irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (h->q[i].kick_fd < 0 || h->q[i].irq_fd < 0)
			return -errno;
	}
	close_fd(&h->config_irq_fd);
	h->config_irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return h->config_irq_fd < 0 ? -errno : 0;
}

/* The message main's vp_activate() sends: one region, each queue's two eventfds, config irq. */
static unsigned int fill_activate(struct harness *h, uint64_t features,
				  struct msg_device_activate *m, int *fds)
{
	unsigned int n = 0;

	m->features = features;
	m->nregions = 1;
	m->regions[0] = (struct msg_device_region){.gpa = 0, .size = h->mem_size, .offset = 0};
	m->nqueues = h->nqueues;
	m->mem_fd = MSG_FD_NONE; /* handed over at spawn */
	for (unsigned int i = 0; i < h->nqueues; i++) {
		const struct harness_queue *q = &h->q[i];
		struct msg_device_queue *mq = &m->queues[i];

		mq->kick_fd = n;
		fds[n++] = q->kick_fd;
		mq->irq_fd = n;
		fds[n++] = q->irq_fd;
		if (!q->enabled)
			continue;
		mq->enabled = 1;
		mq->size = q->size;
		mq->desc = q->desc;
		mq->avail = q->avail;
		mq->used = q->used;
	}
	m->config_irq_fd = n;
	fds[n++] = h->config_irq_fd;
	m->nfds = n;
	return n;
}

int harness_send_activate(struct harness *h, uint64_t features)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_ACTIVATE};
	struct device_response r;
	int fds[MSG_DEVICE_MAX_FDS];
	unsigned int n;
	int ret;

	if (h->nqueues == 0)
		return -EINVAL;
	ret = make_eventfds(h);
	if (ret < 0)
		return ret;
	n = fill_activate(h, features, &q.activate, fds);
	ret = harness_call(h, &q, fds, n, &r);
	if (ret == 0)
		ret = harness_status(&r, 0);
	if (ret == 0)
		h->features = features;
	return ret;
}

int harness_activate(struct harness *h, uint64_t features)
{
	int ret = harness_layout(h, h->info.nqueues, 0);

	return ret ? ret : harness_send_activate(h, features);
}

/* ---- ring access ---- */

static uint8_t *gp(struct harness *h, uint64_t gpa)
{
	return h->ram + gpa; /* only for ring addresses harness_layout() checked or the test set */
}

static void put16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, htole16(v), order);
}

static uint16_t get16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, order));
}

void harness_put_desc(struct harness *h, unsigned int qi, uint32_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	uint8_t *p = gp(h, h->q[qi].desc + 16ULL * idx);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), nx = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &nx, 2);
}

static void put_ind_desc(uint8_t *table, unsigned int i, const struct harness_buf *b, bool last)
{
	uint64_t a = htole64(b->gpa);
	uint32_t l = htole32(b->len);
	uint16_t f = htole16(
	    (uint16_t)((b->write ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT)));
	uint16_t nx = htole16((uint16_t)(last ? 0 : i + 1));

	memcpy(table + 16 * i, &a, 8);
	memcpy(table + 16 * i + 8, &l, 4);
	memcpy(table + 16 * i + 12, &f, 2);
	memcpy(table + 16 * i + 14, &nx, 2);
}

void harness_set_avail_idx(struct harness *h, unsigned int qi, uint16_t idx)
{
	/* Release: the descriptors and ring entries written before are seen before idx. */
	put16(gp(h, h->q[qi].avail + AVAIL_IDX), idx, __ATOMIC_RELEASE);
}

void harness_put_avail(struct harness *h, unsigned int qi, uint16_t head)
{
	struct harness_queue *q = &h->q[qi];

	put16(gp(h, q->avail + AVAIL_RING(q->avail_idx & (q->size - 1))), head, __ATOMIC_RELAXED);
	q->avail_idx++;
	harness_set_avail_idx(h, qi, q->avail_idx);
}

void harness_notify(struct harness *h, unsigned int qi)
{
	uint64_t one = 1;

	if (write(h->q[qi].kick_fd, &one, sizeof(one)) == sizeof(one))
		h->q[qi].kicks++;
}

uint16_t harness_used_idx(struct harness *h, unsigned int qi)
{
	return get16(gp(h, h->q[qi].used + USED_IDX), __ATOMIC_ACQUIRE);
}

void harness_set_avail_flags(struct harness *h, unsigned int qi, uint16_t flags)
{
	put16(gp(h, h->q[qi].avail + AVAIL_FLAGS), flags, __ATOMIC_SEQ_CST);
}

void harness_set_used_event(struct harness *h, unsigned int qi, uint16_t idx)
{
	put16(gp(h, h->q[qi].avail + AVAIL_RING(h->q[qi].size)), idx, __ATOMIC_SEQ_CST);
}

/* ---- the driver ---- */

static uint16_t take_desc(struct harness_queue *q)
{
	uint16_t d = q->free_head;

	q->free_head = q->chain_next[d];
	q->nfree--;
	return d;
}

/* One descriptor pointing at this head's indirect table slot, filled with bufs. */
static int add_indirect(struct harness *h, unsigned int qi, const struct harness_buf *bufs,
			unsigned int n)
{
	struct harness_queue *q = &h->q[qi];
	uint64_t slot = HARNESS_IND_STRIDE / q->size;
	uint16_t head;
	uint64_t table;

	if (n == 0 || 16ULL * n > slot)
		return -E2BIG;
	if (q->nfree < 1)
		return -ENOSPC;
	head = take_desc(q);
	table = HARNESS_IND_BASE + qi * HARNESS_IND_STRIDE + head * slot;
	for (unsigned int i = 0; i < n; i++)
		put_ind_desc(gp(h, table), i, &bufs[i], i + 1 == n);
	harness_put_desc(h, qi, head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	q->chain_len[head] = 1;
	return head;
}

static int add_direct(struct harness *h, unsigned int qi, const struct harness_buf *bufs,
		      unsigned int n)
{
	struct harness_queue *q = &h->q[qi];
	uint16_t idx[HARNESS_QUEUE_MAX];

	if (n == 0 || n > q->size)
		return -E2BIG;
	if (q->nfree < n)
		return -ENOSPC;
	for (unsigned int i = 0; i < n; i++)
		idx[i] = take_desc(q);
	for (unsigned int i = 0; i < n; i++) {
		bool last = i + 1 == n;
		uint16_t flags = (uint16_t)((bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (last ? 0 : VIRTQ_DESC_F_NEXT));

		harness_put_desc(h, qi, idx[i], bufs[i].gpa, bufs[i].len, flags,
				 last ? 0 : idx[i + 1]);
		q->chain_next[idx[i]] = last ? 0 : idx[i + 1];
	}
	q->chain_len[idx[0]] = (uint16_t)n;
	return idx[0];
}

int harness_add(struct harness *h, unsigned int qi, const struct harness_buf *bufs, unsigned int n,
		bool indirect)
{
	struct harness_queue *q = &h->q[qi];
	int head;

	if (qi >= h->nqueues || !q->enabled)
		return -EINVAL;
	head = indirect ? add_indirect(h, qi, bufs, n) : add_direct(h, qi, bufs, n);
	if (head < 0)
		return head;
	put16(gp(h, q->avail + AVAIL_RING(q->avail_idx & (q->size - 1))), (uint16_t)head,
	      __ATOMIC_RELAXED);
	q->avail_idx++;
	return head;
}

/* vring_need_event() of virtio 1.2, 2.7.10. */
static bool need_event(uint16_t event, uint16_t now, uint16_t old)
{
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void harness_kick(struct harness *h, unsigned int qi)
{
	struct harness_queue *q = &h->q[qi];
	uint16_t old = q->kicked_idx;
	bool kick;

	harness_set_avail_idx(h, qi, q->avail_idx);
	q->kicked_idx = q->avail_idx;
	/* Full barrier: idx must be visible before we read whether the device wants a kick, or
	 * the device could go to sleep after our read without seeing the new buffers. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (h->features & HARNESS_F(VIRTIO_F_EVENT_IDX))
		kick = need_event(get16(gp(h, q->used + USED_RING(q->size)), __ATOMIC_RELAXED),
				  q->avail_idx, old);
	else
		kick = !(get16(gp(h, q->used + USED_FLAGS), __ATOMIC_RELAXED) &
			 VIRTQ_USED_F_NO_NOTIFY);
	if (kick || q->always_kick)
		harness_notify(h, qi);
}

int harness_submit(struct harness *h, unsigned int qi, const struct harness_buf *bufs,
		   unsigned int n, bool indirect)
{
	int head = harness_add(h, qi, bufs, n, indirect);

	if (head >= 0)
		harness_kick(h, qi);
	return head;
}

static int free_chain(struct harness_queue *q, uint32_t head)
{
	uint16_t d = (uint16_t)head, n;

	if (head >= q->size || q->chain_len[head] == 0)
		return -EPROTO; /* the device gave back a head we did not hand out */
	n = q->chain_len[head];
	q->chain_len[head] = 0;
	for (uint16_t i = 0; i < n; i++) {
		uint16_t next = q->chain_next[d];

		q->chain_next[d] = q->free_head;
		q->free_head = d;
		q->nfree++;
		d = next;
	}
	return 0;
}

int harness_poll_used(struct harness *h, unsigned int qi, struct harness_used *u)
{
	struct harness_queue *q = &h->q[qi];
	const uint8_t *e;
	uint32_t id, len;

	if (harness_used_idx(h, qi) == q->used_seen)
		return 0;
	e = gp(h, q->used + USED_RING(q->used_seen & (q->size - 1)));
	memcpy(&id, e, 4);
	memcpy(&len, e + 4, 4);
	u->id = le32toh(id);
	u->len = le32toh(len);
	q->used_seen++;
	/* Like Linux's virtqueue_get_buf(): ask for an interrupt at the next completion. */
	if ((h->features & HARNESS_F(VIRTIO_F_EVENT_IDX)) && !q->manual_irq)
		harness_set_used_event(h, qi, q->used_seen);
	return free_chain(q, u->id) < 0 ? -EPROTO : 1;
}

uint64_t harness_irqs(struct harness *h, unsigned int qi)
{
	uint64_t v;

	if (h->q[qi].irq_fd >= 0 && read(h->q[qi].irq_fd, &v, sizeof(v)) == sizeof(v))
		h->q[qi].irqs += v;
	return h->q[qi].irqs;
}

uint64_t harness_irqs_settled(struct harness *h, unsigned int qi)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_CONFIG_READ};
	struct device_response r;

	/* any answer will do, a refusal too (rng has no config space) */
	q.config_read.len = 1;
	if (harness_call(h, &q, NULL, 0, &r) < 0)
		return UINT64_MAX;
	return harness_irqs(h, qi);
}

int harness_wait_used(struct harness *h, unsigned int qi, struct harness_used *u, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = h->q[qi].irq_fd, .events = POLLIN};
		int ret = harness_poll_used(h, qi, u);
		int64_t left;

		if (ret != 0)
			return ret < 0 ? ret : 0;
		left = end - now_ms();
		if (left <= 0)
			return harness_alive(h) ? -ETIMEDOUT : -ECHILD;
		/* Short slices: with interrupts suppressed only used idx tells. */
		if (poll(&p, 1, (int)MIN(left, 2)) > 0)
			harness_irqs(h, qi);
	}
}

int harness_run(struct harness *h, unsigned int qi, const struct harness_buf *bufs, unsigned int n,
		bool indirect, struct harness_used *u)
{
	int head = harness_submit(h, qi, bufs, n, indirect);
	int ret;

	if (head < 0)
		return head;
	ret = harness_wait_used(h, qi, u, HARNESS_TIMEOUT_MS);
	if (ret == 0 && u->id != (uint32_t)head)
		ret = -EPROTO;
	return ret;
}
