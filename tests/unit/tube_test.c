/* tube: bytes and fds across a socketpair, limits, timeouts, peer death, signals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tube.h"
#include "util.h"

TestSuite(tube);

static struct tube a, b;

static void pair(void)
{
	cr_assert_eq(tube_pair(&a, &b), 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A pipe whose write end we send; reading EOF later proves every copy of it was closed. */
static void pipe_cloexec(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static bool writers_gone(int rfd)
{
	char c;

	return read(rfd, &c, 1) == 0;
}

Test(tube, sends_bytes_without_fds)
{
	char buf[16];
	unsigned int nfds = 99;
	size_t len;

	pair();
	cr_assert_eq(tube_send(&a, "hello", 5, NULL, 0), 0);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, NULL, 0, &nfds, 1000), 0);
	cr_assert_eq(len, 5);
	cr_assert_eq(nfds, 0);
	cr_assert_arr_eq(buf, "hello", 5);
}

Test(tube, keeps_message_boundaries)
{
	char buf[16];
	unsigned int nfds;
	size_t len;

	pair();
	cr_assert_eq(tube_send(&a, "one", 3, NULL, 0), 0);
	cr_assert_eq(tube_send(&a, "three", 5, NULL, 0), 0);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, NULL, 0, &nfds, 1000), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, NULL, 0, &nfds, 1000), 0);
	cr_assert_eq(len, 5);
	cr_assert_arr_eq(buf, "three", 5);
}

Test(tube, sent_fd_refers_to_the_same_file)
{
	int p[2], got[TUBE_MAX_FDS];
	unsigned int nfds;
	char buf[8];
	size_t len;

	pair();
	pipe_cloexec(p);
	cr_assert_eq(tube_send(&a, "fd", 2, &p[1], 1), 0);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, got, TUBE_MAX_FDS, &nfds, 1000), 0);
	cr_assert_eq(nfds, 1);
	cr_assert_neq(got[0], p[1]);
	cr_assert(fcntl(got[0], F_GETFD) & FD_CLOEXEC, "received fds are CLOEXEC");
	/* the sender's copy stays open and its own */
	cr_assert_geq(fcntl(p[1], F_GETFD), 0);
	cr_assert_eq(write(got[0], "via", 3), 3);
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 3);
	cr_assert_arr_eq(buf, "via", 3);
	close_fd(&got[0]);
	close_fd(&p[1]);
	cr_assert(writers_gone(p[0]));
}

Test(tube, sends_tube_max_fds)
{
	int p[2], fds[TUBE_MAX_FDS], got[TUBE_MAX_FDS];
	unsigned int i, nfds;
	char buf[8];
	size_t len;

	pair();
	pipe_cloexec(p);
	for (i = 0; i < TUBE_MAX_FDS; i++)
		fds[i] = p[1];
	cr_assert_eq(tube_send(&a, "many", 4, fds, TUBE_MAX_FDS), 0);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, got, TUBE_MAX_FDS, &nfds, 1000), 0);
	cr_assert_eq(nfds, TUBE_MAX_FDS);
	for (i = 0; i < nfds; i++)
		close_fd(&got[i]);
	close_fd(&p[1]);
	cr_assert(writers_gone(p[0]));
}

Test(tube, send_rejects_bad_arguments)
{
	int fds[TUBE_MAX_FDS + 1];
	unsigned int i;

	pair();
	for (i = 0; i < TUBE_MAX_FDS + 1; i++)
		fds[i] = STDIN_FILENO;
	cr_assert_eq(tube_send(&a, "x", 1, fds, TUBE_MAX_FDS + 1), -EINVAL);
	cr_assert_eq(tube_send(&a, "", 0, NULL, 0), -EINVAL, "an empty message reads as EOF");
}

/* More fds than the receiver takes: rejected, each closed, and the tube still in step. */
Test(tube, recv_rejects_more_fds_than_maxfds)
{
	int p[2], fds[2], got[1];
	unsigned int nfds;
	char buf[8];
	size_t len;

	pair();
	pipe_cloexec(p);
	fds[0] = fds[1] = p[1];
	cr_assert_eq(tube_send(&a, "two", 3, fds, 2), 0);
	close_fd(&p[1]);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, got, 1, &nfds, 1000), -EMSGSIZE);
	cr_assert_eq(nfds, 0);
	cr_assert(writers_gone(p[0]), "the fds that arrived were closed");
	cr_assert_eq(tube_send(&a, "next", 4, NULL, 0), 0);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, got, 1, &nfds, 1000), 0);
	cr_assert_eq(len, 4);
}

/* A hostile peer bypassing tube_send: past TUBE_MAX_FDS the control data is cut (MSG_CTRUNC). */
Test(tube, recv_rejects_more_than_tube_max_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (TUBE_MAX_FDS + 1))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = {.iov_base = "raw", .iov_len = 3};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int p[2], fds[TUBE_MAX_FDS + 1], got[TUBE_MAX_FDS];
	struct cmsghdr *c;
	unsigned int i, nfds;
	char buf[8];
	size_t len;

	pair();
	pipe_cloexec(p);
	for (i = 0; i < TUBE_MAX_FDS + 1; i++)
		fds[i] = p[1];
	memset(&cm, 0, sizeof(cm));
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	cr_assert_eq(sendmsg(a.fd, &mh, 0), 3);
	close_fd(&p[1]);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, got, TUBE_MAX_FDS, &nfds, 1000),
		     -EMSGSIZE);
	cr_assert(writers_gone(p[0]));
}

Test(tube, recv_rejects_truncated_message_and_closes_its_fds)
{
	char big[64] = "a message longer than the buffer", buf[16];
	int p[2], got[4];
	unsigned int nfds;
	size_t len;

	pair();
	pipe_cloexec(p);
	cr_assert_eq(tube_send(&a, big, sizeof(big), &p[1], 1), 0);
	close_fd(&p[1]);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, got, 4, &nfds, 1000), -EMSGSIZE);
	cr_assert_eq(len, 0);
	cr_assert_eq(nfds, 0);
	cr_assert(writers_gone(p[0]));
	/* the cut message was consumed whole: the next one reads cleanly */
	cr_assert_eq(tube_send(&a, "ok", 2, NULL, 0), 0);
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, got, 4, &nfds, 1000), 0);
	cr_assert_eq(len, 2);
}

Test(tube, recv_times_out)
{
	unsigned int nfds;
	char buf[8];
	size_t len;
	int64_t t0, dt;

	pair();
	t0 = now_ms();
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, NULL, 0, &nfds, 150), -ETIMEDOUT);
	dt = now_ms() - t0;
	cr_assert_geq(dt, 149, "waited %lld ms", (long long)dt);
	cr_assert_lt(dt, 1500, "waited %lld ms", (long long)dt);
	t0 = now_ms();
	cr_assert_eq(tube_recv(&b, buf, sizeof(buf), &len, NULL, 0, &nfds, 0), -ETIMEDOUT);
	cr_assert_lt(now_ms() - t0, 100, "timeout 0 only looks");
}

Test(tube, peer_close_is_epipe)
{
	unsigned int nfds;
	char buf[8];
	size_t len;

	pair();
	cr_assert_eq(tube_send(&b, "last", 4, NULL, 0), 0);
	tube_close(&b);
	/* what was queued before the close still arrives, then the end */
	cr_assert_eq(tube_recv(&a, buf, sizeof(buf), &len, NULL, 0, &nfds, -1), 0);
	cr_assert_eq(len, 4);
	cr_assert_eq(tube_recv(&a, buf, sizeof(buf), &len, NULL, 0, &nfds, -1), -EPIPE);
	cr_assert_eq(tube_send(&a, "x", 1, NULL, 0), -EPIPE);
}

Test(tube, peer_death_wakes_a_blocked_recv)
{
	unsigned int nfds;
	char buf[8];
	size_t len;
	pid_t pid;
	int st;

	pair();
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		tube_close(&a);
		usleep(100 * 1000);
		_exit(0);
	}
	tube_close(&b);
	cr_assert_eq(tube_recv(&a, buf, sizeof(buf), &len, NULL, 0, &nfds, 5000), -EPIPE);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
}

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
	(void)sig;
	signals++;
}

/* The signal interrupts poll() mid-wait (no SA_RESTART); the message sent after it arrives. */
Test(tube, signal_during_recv_loses_nothing)
{
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned int nfds;
	char buf[8];
	size_t len;
	pid_t pid;
	int st;

	pair();
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		usleep(100 * 1000);
		kill(getppid(), SIGUSR1);
		usleep(100 * 1000);
		_exit(tube_send(&b, "after", 5, NULL, 0) == 0 ? 0 : 1);
	}
	cr_assert_eq(tube_recv(&a, buf, sizeof(buf), &len, NULL, 0, &nfds, 5000), 0);
	cr_assert_eq(signals, 1);
	cr_assert_eq(len, 5);
	cr_assert_arr_eq(buf, "after", 5);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(WEXITSTATUS(st), 0);
}

Test(tube, call_round_trip)
{
	unsigned int nfds;
	char buf[8];
	size_t len;
	pid_t pid;
	int st;

	pair();
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* a one-shot server: answers "ping" with "pong" */
		if (tube_recv(&b, buf, sizeof(buf), &len, NULL, 0, &nfds, 5000) < 0 || len != 4 ||
		    memcmp(buf, "ping", 4) != 0)
			_exit(1);
		_exit(tube_send(&b, "pong", 4, NULL, 0) == 0 ? 0 : 1);
	}
	cr_assert_eq(tube_call(&a, "ping", 4, NULL, 0, buf, sizeof(buf), &len, 5000), 0);
	cr_assert_eq(len, 4);
	cr_assert_arr_eq(buf, "pong", 4);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(WEXITSTATUS(st), 0);
}

Test(tube, call_times_out_on_a_silent_peer)
{
	char buf[8];
	size_t len;

	pair();
	cr_assert_eq(tube_call(&a, "ping", 4, NULL, 0, buf, sizeof(buf), &len, 100), -ETIMEDOUT);
}

Test(tube, call_rejects_fds_in_the_response)
{
	int p[2];
	char buf[8];
	size_t len;

	pair();
	pipe_cloexec(p);
	cr_assert_eq(tube_send(&b, "fd", 2, &p[1], 1), 0);
	close_fd(&p[1]);
	cr_assert_eq(tube_call(&a, "ping", 4, NULL, 0, buf, sizeof(buf), &len, 1000), -EMSGSIZE);
	cr_assert(writers_gone(p[0]));
}

/* A peer that stops reading fills its queue: the sender is told, not blocked. */
Test(tube, send_to_a_full_queue_is_eagain)
{
	int i, ret = 0;

	pair();
	for (i = 0; i < 100000 && ret == 0; i++)
		ret = tube_send(&a, "fill", 4, NULL, 0);
	cr_assert_eq(ret, -EAGAIN);
}

Test(tube, close_twice_is_harmless)
{
	pair();
	tube_close(&a);
	cr_assert_eq(a.fd, -1);
	tube_close(&a);
	cr_assert_eq(a.fd, -1);
	tube_close(&b);
}
