/* The jail warden. See warden.h. */
#include "warden.h"

#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail.h"
#include "log.h"
#include "util.h"

#define WARDEN_ARGC_MAX 64
#define WARDEN_TIMEOUT_MS 5000

struct warden_request {
	uint32_t present; /* bit i: fds[i] rides along (in order) */
	uint32_t argc;
	char args[WARDEN_ARGS_MAX];
};

/* ---- the warden's side ---- */

/* Closes every fd but the n in keep (ascending, no repeats). */
static int close_all_but(const int *keep, unsigned int n)
{
	unsigned int from = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (keep[i] > (int)from && syscall(SYS_close_range, from, keep[i] - 1, 0) < 0)
			return -errno;
		from = (unsigned int)keep[i] + 1;
	}
	return syscall(SYS_close_range, from, ~0U, 0) < 0 ? -errno : 0;
}

/* argv from q: argc NUL-terminated strings that fill args exactly, "--jail" first after argv[0]. */
static int parse_argv(const struct warden_request *q, size_t len, char **argv)
{
	size_t off = 0, end = len - offsetof(struct warden_request, args);

	if (len < offsetof(struct warden_request, args) || q->argc == 0 ||
	    q->argc >= WARDEN_ARGC_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < q->argc; i++) {
		const char *nul = off < end ? memchr(q->args + off, '\0', end - off) : NULL;

		if (!nul)
			return -EINVAL;
		argv[i] = (char *)q->args + off;
		off = (size_t)(nul - q->args) + 1;
	}
	argv[q->argc] = NULL;
	if (off != end)
		return -EINVAL;
	/* Only right after argv[0] is it surely vmm-device's option: elsewhere getopt may take it
	 * for another option's value (--name --jail), or it follows "--". */
	return q->argc >= 3 && strcmp(argv[1], "--jail") == 0 ? 0 : -EPERM;
}

static int recv_request(int sock, struct warden_request *q, int *fds, unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(WARDEN_FDS * sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = q, .iov_len = sizeof(*q)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			   .msg_controllen = sizeof(c.buf)};
	ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n <= 0)
		return n == 0 ? -EPIPE : -errno;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			unsigned int k = (unsigned int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			memcpy(fds + *nfds, CMSG_DATA(h), MIN(k, WARDEN_FDS - *nfds) * sizeof(int));
			*nfds += MIN(k, WARDEN_FDS - *nfds);
		}
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return (int)n;
}

/* One request: the pid or -errno, and main's ends of the tubes in mine[2] (or -1). */
static int32_t serve_one(int sock, bool userns, warden_exec_fn exec, void *ctx, int *mine)
{
	static struct warden_request q;
	char *argv[WARDEN_ARGC_MAX];
	int got[WARDEN_FDS], src[WARDEN_FDS], sv[2][2] = {{-1, -1}, {-1, -1}};
	unsigned int nfds, used = 0;
	int32_t ret;
	int n = recv_request(sock, &q, got, &nfds);

	if (n == -EPIPE || n == -ECONNRESET)
		_exit(0); /* main is gone or done */
	ret = n < 0 ? n : parse_argv(&q, (size_t)n, argv);
	for (unsigned int i = 0; i < WARDEN_FDS; i++)
		src[i] = (q.present & (1u << i)) && used < nfds ? got[used++] : -1;
	if (ret == 0 && (used != nfds || (unsigned int)__builtin_popcount(q.present) != nfds ||
			 src[WARDEN_FD_CTRL] >= 0 || src[WARDEN_FD_MEM] >= 0))
		ret = -EBADMSG;
	for (int t = 0; t < 2 && ret == 0; t++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv[t]) < 0)
			ret = -errno;
	if (ret == 0) {
		pid_t pid;

		src[WARDEN_FD_CTRL] = sv[0][1];
		src[WARDEN_FD_MEM] = sv[1][1];
		pid = jail_clone_sibling(userns);
		if (pid == 0) {
			exec(ctx, src, argv);
			_exit(127); /* never a second warden on the same socket */
		}
		ret = pid;
	}
	for (unsigned int i = 0; i < nfds; i++)
		close(got[i]);
	for (int t = 0; t < 2; t++) {
		if (sv[t][1] >= 0)
			close(sv[t][1]);
		mine[t] = ret >= 0 ? sv[t][0] : -1;
		if (ret < 0 && sv[t][0] >= 0)
			close(sv[t][0]);
	}
	return ret;
}

/* The answer, with main's ends of the tubes when there are some. */
static int answer(int sock, int32_t ret, const int *mine)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = &ret, .iov_len = sizeof(ret)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (mine[0] >= 0) {
		struct cmsghdr *h;

		memset(c.buf, 0, sizeof(c.buf));
		m.msg_control = c.buf;
		m.msg_controllen = sizeof(c.buf);
		h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(2 * sizeof(int));
		memcpy(CMSG_DATA(h), mine, 2 * sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == sizeof(ret) ? 0 : -1;
}

static void serve(int sock, bool userns, warden_exec_fn exec, void *ctx)
{
	for (;;) {
		int mine[2] = {-1, -1};
		int32_t ret = serve_one(sock, userns, exec, ctx, mine);
		int sent = answer(sock, ret, mine);

		/* main has its own copies now */
		for (int t = 0; t < 2; t++)
			if (mine[t] >= 0)
				close(mine[t]);
		if (sent < 0)
			_exit(0);
	}
}

/* In the new warden: only what it needs, then serve until main goes away. */
static void warden_main(int sock, bool userns, int keep_fd, warden_exec_fn exec, void *ctx,
			pid_t parent)
{
	static const int caps[] = {CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP};
	/* its socket, keep_fd, and stderr: the devices it starts log there (vmm's own stderr) */
	int keep[3] = {STDERR_FILENO, sock, keep_fd}, n = keep_fd < 0 ? 2 : 3;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	prctl(PR_SET_NAME, "vmm-warden");

	for (int i = 1; i < n; i++) /* sort three */
		for (int j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 1; i < n; i++)
		if (keep[i] == keep[i - 1])
			_exit(1);
	if (close_all_but(keep, (unsigned int)n) < 0)
		_exit(1);
	if (geteuid() == 0 && caps_keep_only(caps, ARRAY_SIZE(caps)) < 0)
		_exit(1);
	serve(sock, userns, exec, ctx);
}

/* ---- main's side ---- */

int warden_start(struct warden *w, bool userns, int keep_fd, warden_exec_fn exec, void *ctx)
{
	pid_t parent = getpid();
	int sv[2];

	w->pid = -1;
	w->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	w->pid = fork();
	if (w->pid < 0) {
		int ret = -errno;

		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	if (w->pid == 0) {
		close(sv[0]);
		warden_main(sv[1], userns, keep_fd, exec, ctx, parent);
		_exit(1);
	}
	close(sv[1]);
	w->fd = sv[0];
	return 0;
}

/* The answer and the two tube ends riding with a success. */
static int32_t recv_answer(int sock, int *ctrl, int *mem)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} c;
	int32_t ret;
	struct iovec iov = {.iov_base = &ret, .iov_len = sizeof(ret)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			   .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *h;
	int got[2] = {-1, -1};

	struct pollfd p = {.fd = sock, .events = POLLIN};
	int n;

	/* bounded: a warden that hangs does not hold main; the same flags as tube.c (vmm.policy) */
	do
		n = poll(&p, 1, WARDEN_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0 || recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) != sizeof(ret))
		return -EPIPE;
	h = CMSG_FIRSTHDR(&m);
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
	    h->cmsg_len == CMSG_LEN(2 * sizeof(int)))
		memcpy(got, CMSG_DATA(h), sizeof(got));
	else if (h && h->cmsg_type == SCM_RIGHTS)
		for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			close(((int *)CMSG_DATA(h))[i]);
	if (ret >= 0 && (got[0] < 0 || got[1] < 0 || (m.msg_flags & MSG_CTRUNC))) {
		for (int t = 0; t < 2; t++)
			if (got[t] >= 0)
				close(got[t]);
		return -EPROTO; /* the device runs without its tubes: hello() will fail */
	}
	*ctrl = got[0];
	*mem = got[1];
	return ret;
}

pid_t warden_spawn(struct warden *w, const int fds[WARDEN_FDS], char *const *argv, int *ctrl,
		   int *mem)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct warden_request q = {0};
	union {
		char buf[CMSG_SPACE(WARDEN_FDS * sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = {.iov_base = &q};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	unsigned int nfds = 0;
	size_t off = 0;
	int32_t ret;

	for (; argv[q.argc]; q.argc++) {
		size_t len = strlen(argv[q.argc]) + 1;

		if (q.argc + 1 >= WARDEN_ARGC_MAX || off + len > sizeof(q.args))
			return -E2BIG;
		memcpy(q.args + off, argv[q.argc], len);
		off += len;
	}
	memset(c.buf, 0, sizeof(c.buf));
	for (unsigned int i = 0; i < WARDEN_FDS; i++)
		if (fds[i] >= 0 && i != WARDEN_FD_CTRL && i != WARDEN_FD_MEM) {
			q.present |= 1u << i;
			nfds++;
		}
	if (nfds) {
		struct cmsghdr *h;
		int *out;

		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		out = (int *)CMSG_DATA(h);
		for (unsigned int i = 0; i < WARDEN_FDS; i++)
			if (q.present & (1u << i))
				*out++ = fds[i];
	}
	iov.iov_len = offsetof(struct warden_request, args) + off;
	pthread_mutex_lock(&lock);
	if (w->fd < 0)
		ret = -ESRCH;
	else if (sendmsg(w->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		ret = -errno;
	else
		ret = recv_answer(w->fd, ctrl, mem);
	/* a late answer would be taken for the next request's: no more requests */
	if (ret == -ETIMEDOUT || ret == -EPIPE) {
		log_err("jail warden (pid %d): %s; no device can be started from now on",
			(int)w->pid, ret == -ETIMEDOUT ? "no answer" : "gone");
		close_fd(&w->fd);
	}
	pthread_mutex_unlock(&lock);
	return ret;
}

void warden_stop(struct warden *w)
{
	struct timespec step = {.tv_nsec = 10 * 1000 * 1000};

	close_fd(&w->fd);
	if (w->pid <= 0)
		return;
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(w->pid, NULL, WNOHANG);

		if (r == w->pid || (r < 0 && errno == ECHILD)) {
			w->pid = -1;
			return;
		}
		nanosleep(&step, NULL);
	}
	kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
	w->pid = -1;
}
