/* The control socket's server. See control.h. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "tube.h"
#include "util.h"

#define EV_STOP UINT64_MAX
#define EV_LISTEN (UINT64_MAX - 1)

static int make_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	strcpy(a->sun_path, path);
	return 0;
}

/* A socket file at path: -EADDRINUSE when a VM answers there, else removed. */
static int clear_stale(const char *path)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	ret = make_addr(path, &a);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	if (ret == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int make_dir(const char *path)
{
	char dir[MSG_VM_SOCKET_PATH];

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int control_open(struct control *c, const char *path)
{
	struct sockaddr_un a;
	mode_t old;
	int ret;

	memset(c, 0, sizeof(*c));
	c->listen_fd = c->event_fd = c->epfd = c->stop_fd = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i] = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	c->uid = geteuid();
	ret = make_addr(path, &a);
	if (ret == 0)
		ret = make_dir(path);
	if (ret == 0)
		ret = clear_stale(path);
	if (ret == -EADDRINUSE) {
		log_err("control socket %s: another VM answers there", path);
		return ret;
	}
	if (ret < 0) {
		log_err("control socket %s: %s", path, strerror(-ret));
		return ret;
	}
	c->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	c->event_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0 || c->event_fd < 0) {
		log_err_errno("control socket");
		return -errno;
	}
	/* 0600 from the start: no window where another uid could connect. */
	old = umask(0177);
	ret = bind(c->listen_fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (ret < 0 || listen(c->listen_fd, CONTROL_MAX_CLIENTS) < 0) {
		ret = -errno;
		log_err_errno("control socket %s", path);
		return ret;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	return 0;
}

static int watch(struct control *c, int fd, uint64_t data)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};

	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void drop_client(struct control *c, int i)
{
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->clients[i], NULL);
	close_fd(&c->clients[i]);
}

static bool same_uid(const struct control *c, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == c->uid;
}

static void accept_client(struct control *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int i;

	if (fd < 0)
		return;
	if (!same_uid(c, fd)) {
		log_warn("control socket: refused a client of another uid");
		close(fd);
		return;
	}
	for (i = 0; i < CONTROL_MAX_CLIENTS && c->clients[i] >= 0; i++)
		;
	if (i == CONTROL_MAX_CLIENTS || watch(c, fd, (uint64_t)i) < 0) {
		log_warn("control socket: too many clients, one refused");
		close(fd);
		return;
	}
	c->clients[i] = fd;
}

static int find_listener(struct control *c, const char *path)
{
	for (int i = 0; i < CONTROL_MAX_LISTENERS; i++)
		if (c->listeners[i].used && strcmp(c->listeners[i].path, path) == 0)
			return i;
	return -1;
}

/* REGISTER_LISTENER, UNREGISTER_LISTENER, UNREGISTER: kept here. */
static void listener_request(struct control *c, const struct vm_request *q, struct vm_response *r)
{
	const char *path = q->hdr.type == MSG_VM_UNREGISTER ? q->unregister.path : q->listener.path;
	int i;

	pthread_mutex_lock(&c->lock);
	i = find_listener(c, path);
	if (q->hdr.type == MSG_VM_REGISTER_LISTENER) {
		for (int k = 0; i < 0 && k < CONTROL_MAX_LISTENERS; k++)
			if (!c->listeners[k].used)
				i = k;
		if (i < 0) {
			msg_vm_error(r, -ENOSPC, "at most %d listeners", CONTROL_MAX_LISTENERS);
		} else {
			c->listeners[i].used = true;
			c->listeners[i].events |= q->listener.events;
			snprintf(c->listeners[i].path, sizeof(c->listeners[i].path), "%s", path);
			log_info("control socket: listener %s registered (events 0x%x)", path,
				 c->listeners[i].events);
		}
	} else if (i < 0) {
		msg_vm_error(r, -ENOENT, "no listener at %s", path);
	} else {
		if (q->hdr.type == MSG_VM_UNREGISTER)
			c->listeners[i].events = 0;
		else
			c->listeners[i].events &= ~q->listener.events;
		c->listeners[i].used = c->listeners[i].events != 0;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Sends r to client i. Never blocks: a client that does not read its answer loses it. */
static void answer(struct control *c, int i, const struct vm_request *q,
		   const struct vm_response *r)
{
	struct tube t = {.fd = c->clients[i]};
	uint8_t out[MSG_MAX_SIZE];
	size_t len;
	int ret;

	c->served++;
	ret = msg_vm_encode_response(r, 0, out, sizeof(out), &len);
	if (ret < 0) {
		/* a bug of ours: the client hears about it instead of waiting out its timeout */
		struct vm_response e;

		log_err("control socket: the answer to %s (%s) does not encode: %s",
			q ? msg_vm_name(q->hdr.type) : "a malformed request", msg_vm_name(r->hdr.type),
			strerror(-ret));
		msg_vm_error(&e, -EIO, "vmm could not encode its answer to %s",
			     q ? msg_vm_name(q->hdr.type) : "the request");
		ret = msg_vm_encode_response(&e, 0, out, sizeof(out), &len);
	}
	if (ret == 0)
		tube_send(&t, out, len, NULL, 0);
}

/*
 * A slow request from client i, for the worker: the connection leaves the epoll set until it
 * is answered (one request at a time per connection). False when it cannot be queued.
 */
static bool defer(struct control *c, int i, const struct vm_request *q, int *fd)
{
	bool queued = false;

	pthread_mutex_lock(&c->lock);
	if (c->npending < CONTROL_MAX_CLIENTS && !c->stopping &&
	    epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->clients[i], NULL) == 0) {
		c->pending[c->npending++] = (struct control_pending){.client = i, .fd = *fd, .q = *q};
		*fd = -1;
		queued = true;
		pthread_cond_signal(&c->work);
	}
	pthread_mutex_unlock(&c->lock);
	return queued;
}

/* The worker: slow requests in the order they came, each answered, its connection watched again. */
static void *worker_thread(void *arg)
{
	struct control *c = arg;

	pthread_setname_np(pthread_self(), "vmm-ctl-work");
	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct vm_response r = {.hdr.type = MSG_VM_RESP_OK};
		struct control_pending p;

		while (!c->npending && !c->stopping)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stopping)
			break;
		p = c->pending[0];
		memmove(&c->pending[0], &c->pending[1], --c->npending * sizeof(c->pending[0]));
		pthread_mutex_unlock(&c->lock);

		c->handler.handle(c->handler.ctx, &p.q, &p.fd, &r);
		if (p.fd >= 0)
			close(p.fd);
		answer(c, p.client, &p.q, &r);
		/* watched again: its next request, or its hang-up (then the control thread drops it) */
		if (watch(c, c->clients[p.client], (uint64_t)p.client) < 0) {
			log_warn_errno("control socket: a connection cannot be watched again, closed");
			close_fd(&c->clients[p.client]);
		}
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* One message from client i: decoded, answered; a bad one also ends the connection. */
static void serve_client(struct control *c, int i)
{
	struct tube t = {.fd = c->clients[i]};
	uint8_t in[MSG_MAX_SIZE];
	struct vm_request q;
	struct vm_response r = {.hdr.type = MSG_VM_RESP_OK};
	unsigned int nfds = 0;
	size_t len;
	int fds[TUBE_MAX_FDS];
	int ret = tube_recv(&t, in, sizeof(in), &len, fds, TUBE_MAX_FDS, &nfds, 0);
	bool bad;

	if (ret == -ETIMEDOUT)
		return;
	if (ret == -EPIPE) {
		drop_client(c, i);
		return;
	}
	if (ret == 0)
		ret = msg_vm_decode_request(in, len, nfds, &q);
	/* only a request that decoded with its one fd keeps it */
	if (ret < 0 || nfds != 1) {
		for (unsigned int k = 0; k < nfds; k++)
			close(fds[k]);
		fds[0] = -1;
	}
	bad = ret < 0;
	if (bad)
		msg_vm_error(&r, ret, "malformed request: %s", strerror(-ret));
	else if (q.hdr.type == MSG_VM_REGISTER_LISTENER || q.hdr.type == MSG_VM_UNREGISTER_LISTENER ||
		 q.hdr.type == MSG_VM_UNREGISTER)
		listener_request(c, &q, &r);
	else if (c->handler.slow && c->handler.slow(c->handler.ctx, &q)) {
		if (defer(c, i, &q, &fds[0]))
			return; /* the worker answers */
		msg_vm_error(&r, -EBUSY, "%s: the control socket is stopping or busy",
			     msg_vm_name(q.hdr.type));
	} else
		c->handler.handle(c->handler.ctx, &q, &fds[0], &r);
	if (fds[0] >= 0)
		close(fds[0]);
	answer(c, i, bad ? NULL : &q, &r);
	if (bad) {
		log_warn("control socket: %s, connection closed", r.err.message);
		drop_client(c, i);
	}
}

static void *control_thread(void *arg)
{
	struct control *c = arg;
	struct epoll_event ev[8];

	/* Its own name, through prctl: naming another thread would open /proc (vmm.policy). */
	pthread_setname_np(pthread_self(), "vmm-ctl");
	for (;;) {
		int n = epoll_wait(c->epfd, ev, ARRAY_SIZE(ev), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err_errno("control socket: epoll_wait");
			return NULL;
		}
		for (int k = 0; k < n; k++) {
			uint64_t d = ev[k].data.u64;

			if (d == EV_STOP)
				return NULL;
			if (d == EV_LISTEN)
				accept_client(c);
			else if (d < CONTROL_MAX_CLIENTS && c->clients[d] >= 0)
				serve_client(c, (int)d);
		}
	}
}

int control_start(struct control *c, const struct control_handler *h)
{
	int ret;

	c->handler = *h;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->epfd < 0 || c->stop_fd < 0)
		return -errno;
	ret = watch(c, c->stop_fd, EV_STOP);
	if (ret == 0)
		ret = watch(c, c->listen_fd, EV_LISTEN);
	if (ret == 0)
		ret = -pthread_create(&c->worker, NULL, worker_thread, c);
	c->worker_running = ret == 0;
	if (ret == 0)
		ret = -pthread_create(&c->thread, NULL, control_thread, c);
	if (ret < 0) {
		log_err("control socket: cannot start its threads: %s", strerror(-ret));
		return ret;
	}
	c->running = true;
	return 0;
}

void control_close(struct control *c)
{
	uint64_t one = 1;

	/* nothing more is queued, and the worker begins nothing new */
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
	if (c->running && write(c->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(c->thread, NULL);
	c->running = false;
	if (c->worker_running)
		pthread_join(c->worker, NULL);
	c->worker_running = false;
	for (unsigned int k = 0; k < c->npending; k++)
		close_fd(&c->pending[k].fd);
	c->npending = 0;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		close_fd(&c->clients[i]);
	if (c->listen_fd >= 0 && c->path[0] && !c->keep_file)
		unlink(c->path);
	close_fd(&c->listen_fd);
	close_fd(&c->event_fd);
	close_fd(&c->epfd);
	close_fd(&c->stop_fd);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->lock);
}

void control_event(struct control *c, const struct msg_vm_event *e)
{
	struct vm_response r = {.hdr.type = MSG_VM_EVENT};
	uint8_t out[MSG_MAX_SIZE];
	size_t len;

	if (c->event_fd < 0)
		return;
	r.event = *e;
	if (msg_vm_encode_response(&r, 0, out, sizeof(out), &len) < 0)
		return;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < CONTROL_MAX_LISTENERS; i++) {
		struct control_listener *l = &c->listeners[i];
		struct sockaddr_un a;

		if (!l->used || !(l->events & e->event) || make_addr(l->path, &a) < 0)
			continue;
		if (sendto(c->event_fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a,
			   sizeof(a)) < 0 &&
		    errno != EAGAIN) {
			/* gone (ECONNREFUSED, ENOENT): dropped; full (EAGAIN): this event lost */
			log_info("control socket: listener %s dropped (%s)", l->path, strerror(errno));
			l->used = false;
		}
	}
	pthread_mutex_unlock(&c->lock);
}
