/* Tubes: one message per SOCK_SEQPACKET datagram, fds as SCM_RIGHTS (tube.h). */
#include "tube.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC 1000000000LL

/* Control message room for TUBE_MAX_FDS fds, aligned as a cmsghdr must be. */
union fd_cmsg {
	char buf[CMSG_SPACE(sizeof(int) * TUBE_MAX_FDS)];
	struct cmsghdr align;
};

int tube_pair(struct tube *a, struct tube *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	a->fd = sv[0];
	b->fd = sv[1];
	return 0;
}

void tube_close(struct tube *t)
{
	close_fd(&t->fd);
}

/* A dead peer shows as EPIPE or ECONNRESET depending on timing: callers see one code. */
static int sock_error(int err)
{
	return err == ECONNRESET ? -EPIPE : -err;
}

static void put_fds(struct msghdr *mh, union fd_cmsg *cm, const int *fds, unsigned int nfds)
{
	struct cmsghdr *c;

	memset(cm, 0, sizeof(*cm));
	mh->msg_control = cm->buf;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
}

int tube_send(struct tube *t, const void *msg, size_t len, const int *fds, unsigned int nfds)
{
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	union fd_cmsg cm;
	ssize_t n;

	/* an empty datagram would read as the end of the stream */
	if (len == 0 || nfds > TUBE_MAX_FDS)
		return -EINVAL;
	if (nfds)
		put_fds(&mh, &cm, fds, nfds);
	/* MSG_NOSIGNAL: a dead peer is an error to return, not a SIGPIPE to die of */
	do {
		n = sendmsg(t->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return sock_error(errno);
	return (size_t)n == len ? 0 : -EIO;
}

static void close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close_fd(&fds[i]);
}

/* Moves the fds that arrived with mh into fds, which has room for TUBE_MAX_FDS; their count. */
static unsigned int take_fds(struct msghdr *mh, int *fds)
{
	unsigned int n = 0;
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		/* the control buffer bounds k; MIN keeps fds in bounds regardless */
		k = MIN((c->cmsg_len - CMSG_LEN(0)) / sizeof(int), TUBE_MAX_FDS - n);
		memcpy(&fds[n], CMSG_DATA(c), k * sizeof(int));
		n += k;
	}
	return n;
}

/* One non-blocking recvmsg: 0 with a message, -EAGAIN if there was none after all. */
static int recv_once(int fd, void *buf, size_t cap, size_t *len, int *fds, unsigned int maxfds,
		     unsigned int *nfds)
{
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	union fd_cmsg cm;
	int got[TUBE_MAX_FDS];
	unsigned int n;
	ssize_t r;

	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (r < 0)
		return sock_error(errno);
	n = take_fds(&mh, got);
	/* end of stream: tube_send() never sends an empty message */
	if (r == 0) {
		close_fds(got, n);
		return -EPIPE;
	}
	/* the part that did not fit is gone: the fds that did are of no use */
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n > maxfds) {
		close_fds(got, n);
		return -EMSGSIZE;
	}
	if (n)
		memcpy(fds, got, n * sizeof(int));
	*len = (size_t)r;
	*nfds = n;
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Waits until fd is readable or the deadline (ns, -1: none) passes: 0, -ETIMEDOUT or -errno. */
static int wait_readable(int fd, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int timeout_ms = -1;
	int n;

	if (deadline >= 0) {
		int64_t left = deadline - now_ns();

		timeout_ms = left > 0 ? (int)((left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC) : 0;
	}
	n = poll(&p, 1, timeout_ms);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

int tube_recv(struct tube *t, void *buf, size_t cap, size_t *len, int *fds, unsigned int maxfds,
	      unsigned int *nfds, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ns() + timeout_ms * NSEC_PER_MSEC;
	int ret;

	*len = 0;
	*nfds = 0;
	for (;;) {
		ret = wait_readable(t->fd, deadline);
		if (ret == 0)
			ret = recv_once(t->fd, buf, cap, len, fds, maxfds, nfds);
		/* a signal, or a message that was not there after all: wait out the time left */
		if (ret != -EINTR && ret != -EAGAIN)
			return ret;
	}
}

int tube_call(struct tube *t, const void *req, size_t req_len, const int *fds, unsigned int nfds,
	      void *resp, size_t cap, size_t *resp_len, int timeout_ms)
{
	unsigned int resp_nfds;
	int ret;

	ret = tube_send(t, req, req_len, fds, nfds);
	if (ret < 0)
		return ret;
	return tube_recv(t, resp, cap, resp_len, NULL, 0, &resp_nfds, timeout_ms);
}
