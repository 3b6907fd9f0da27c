/*
 * control: the control socket's server. Slow requests (hot-plug) are served on the worker
 * thread: other connections are answered meanwhile, the slow one gets its answer later and is
 * served again after it, and closing the server drops what is still queued (and its fd).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "tube.h"
#include "util.h"

TestSuite(control);

/* The VM side: STATUS answers at once; HOTPLUG_NET blocks until the test releases it. */
struct fake_vm {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool release;
	unsigned int slow_started; /* HOTPLUG_NET requests the handler has begun */
	unsigned int fds_seen;
};

static struct fake_vm vm = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};
static struct control ctl;
static char dir[64], sock[96];

static void handle(void *ctx, const struct vm_request *q, int *fd, struct vm_response *r)
{
	struct fake_vm *v = ctx;

	if (q->hdr.type == MSG_VM_STATUS) {
		r->hdr.type = MSG_VM_RESP_STATUS;
		snprintf(r->status.name, sizeof(r->status.name), "fast");
		r->status.nvcpus = 1;
		r->status.pid = 1;
		return;
	}
	if (q->hdr.type == MSG_VM_BALLOON) { /* an answer that does not encode (pid 0) */
		r->hdr.type = MSG_VM_RESP_STATUS;
		return;
	}
	pthread_mutex_lock(&v->lock);
	v->slow_started++;
	if (*fd >= 0)
		v->fds_seen++;
	pthread_cond_broadcast(&v->cond);
	while (!v->release)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	r->hdr.type = MSG_VM_RESP_HOTPLUG_NET;
	snprintf(r->hotplug_net_done.device, sizeof(r->hotplug_net_done.device), "%s",
		 q->hotplug_net.tap);
}

static bool slow(void *ctx, const struct vm_request *q)
{
	(void)ctx;
	return q->hdr.type == MSG_VM_HOTPLUG_NET;
}

static void setup(void)
{
	const struct control_handler h = {.handle = handle, .slow = slow, .ctx = &vm};

	snprintf(dir, sizeof(dir), "/tmp/control_test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	vm.release = false;
	vm.slow_started = vm.fds_seen = 0;
	cr_assert_eq(control_open(&ctl, sock), 0);
	cr_assert_eq(control_start(&ctl, &h), 0);
}

static void release(void)
{
	pthread_mutex_lock(&vm.lock);
	vm.release = true;
	pthread_cond_broadcast(&vm.cond);
	pthread_mutex_unlock(&vm.lock);
}

static void teardown(void)
{
	release();
	control_close(&ctl);
	rmdir(dir);
}

static int client(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

static void send_req(int fd, struct vm_request *q, int passed)
{
	struct tube t = {.fd = fd};
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;
	unsigned int nfds = passed >= 0 ? 1 : 0;

	cr_assert_eq(msg_vm_encode_request(q, nfds, wire, sizeof(wire), &len), 0);
	cr_assert_eq(tube_send(&t, wire, len, &passed, nfds), 0);
}

static void send_status(int fd)
{
	struct vm_request q = {.hdr.type = MSG_VM_STATUS};

	send_req(fd, &q, -1);
}

static void send_hotplug(int fd, const char *tap, int passed)
{
	struct vm_request q = {.hdr.type = MSG_VM_HOTPLUG_NET};

	q.hotplug_net.op = passed >= 0 ? MSG_VM_NET_ADD : MSG_VM_NET_REMOVE;
	snprintf(q.hotplug_net.tap, sizeof(q.hotplug_net.tap), "%s", tap);
	send_req(fd, &q, passed);
}

/* The answer on fd within timeout_ms: 0, or -ETIMEDOUT when none came. */
static int recv_resp(int fd, struct vm_response *r, int timeout_ms)
{
	struct tube t = {.fd = fd};
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;
	size_t len;
	int ret = tube_recv(&t, wire, sizeof(wire), &len, NULL, 0, &nfds, timeout_ms);

	if (ret < 0)
		return ret;
	cr_assert_eq(msg_vm_decode_response(wire, len, 0, r), 0);
	return 0;
}

static void wait_slow_started(unsigned int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&vm.lock);
	while (vm.slow_started < n &&
	       pthread_cond_timedwait(&vm.cond, &vm.lock, &until) == 0)
		;
	pthread_mutex_unlock(&vm.lock);
	cr_assert_eq(vm.slow_started, n, "the worker began %u slow requests, not %u",
		     vm.slow_started, n);
}

Test(control, other_connections_are_answered_while_a_slow_request_waits, .init = setup,
     .fini = teardown)
{
	struct vm_response r;
	int a = client(), b = client();

	send_hotplug(a, "tap1", -1);
	wait_slow_started(1);
	/* b is served while a's request is still in the handler */
	send_status(b);
	cr_assert_eq(recv_resp(b, &r, 5000), 0, "status was not answered during the hot-plug");
	cr_assert_eq(r.hdr.type, MSG_VM_RESP_STATUS);
	cr_assert_str_eq(r.status.name, "fast");
	cr_assert_eq(recv_resp(a, &r, 0), -ETIMEDOUT, "a was answered before its handler returned");

	release();
	cr_assert_eq(recv_resp(a, &r, 5000), 0, "the slow request got no answer");
	cr_assert_eq(r.hdr.type, MSG_VM_RESP_HOTPLUG_NET);
	cr_assert_str_eq(r.hotplug_net_done.device, "tap1");
	/* a's connection is served again after its slow request */
	send_status(a);
	cr_assert_eq(recv_resp(a, &r, 5000), 0, "a's next request was not answered");
	cr_assert_eq(r.hdr.type, MSG_VM_RESP_STATUS);
	close(a);
	close(b);
}

Test(control, slow_requests_run_one_at_a_time_in_order, .init = setup, .fini = teardown)
{
	struct vm_response r;
	int a = client(), b = client();

	send_hotplug(a, "tap1", -1);
	wait_slow_started(1);
	send_hotplug(b, "tap2", -1);
	/* b's waits behind a's: the worker has not begun it */
	send_status(b);
	cr_assert_eq(recv_resp(b, &r, 300), -ETIMEDOUT, "b's hot-plug ran beside a's");
	cr_assert_eq(vm.slow_started, 1);
	release();
	cr_assert_eq(recv_resp(a, &r, 5000), 0);
	cr_assert_str_eq(r.hotplug_net_done.device, "tap1");
	cr_assert_eq(recv_resp(b, &r, 5000), 0);
	cr_assert_str_eq(r.hotplug_net_done.device, "tap2");
	/* then b's status, which waited for its connection's slow request */
	cr_assert_eq(recv_resp(b, &r, 5000), 0);
	cr_assert_eq(r.hdr.type, MSG_VM_RESP_STATUS);
	cr_assert_eq(vm.slow_started, 2);
	close(a);
	close(b);
}

/* A pipe whose read end we send; a write failing with EPIPE proves every copy was closed. */
static bool readers_gone(int wfd)
{
	return write(wfd, "x", 1) < 0 && errno == EPIPE;
}

static void *closer(void *arg)
{
	control_close(arg);
	return NULL;
}

Test(control, close_waits_for_the_worker_and_drops_the_queue, .init = setup)
{
	struct vm_response r;
	int a = client(), b = client(), p[2];
	pthread_t t;

	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	send_hotplug(a, "tap1", -1);
	wait_slow_started(1);
	/* queued behind a's, with the fd it carries */
	send_hotplug(b, "tap2", p[0]);
	close(p[0]);
	cr_assert_eq(recv_resp(b, &r, 300), -ETIMEDOUT);

	cr_assert_eq(pthread_create(&t, NULL, closer, &ctl), 0);
	/* the handler returns once the server is stopping (as vm.c's hotplug_cancel() makes it) */
	for (int i = 0; i < 1000; i++) {
		bool stopping;

		pthread_mutex_lock(&ctl.lock);
		stopping = ctl.stopping;
		pthread_mutex_unlock(&ctl.lock);
		if (stopping)
			break;
		usleep(10000);
	}
	release();
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(vm.slow_started, 1, "the queued request ran while the server closed");
	cr_assert(readers_gone(p[1]), "the queued request's fd was not closed");
	/* a got the answer to its slow request, then the connection ended; b only the end */
	cr_assert_eq(recv_resp(a, &r, 5000), 0, "a's slow request got no answer");
	cr_assert_eq(r.hdr.type, MSG_VM_RESP_HOTPLUG_NET);
	cr_assert_eq(recv_resp(a, &r, 5000), -EPIPE);
	cr_assert_eq(recv_resp(b, &r, 5000), -EPIPE);
	cr_assert_eq(access(sock, F_OK), -1, "the socket file is left");
	close(p[1]);
	close(a);
	close(b);
	rmdir(dir);
}

Test(control, an_answer_that_does_not_encode_becomes_an_error, .init = setup, .fini = teardown)
{
	struct vm_request q = {.hdr.type = MSG_VM_BALLOON};
	struct vm_response r;
	int a = client();

	q.balloon.op = MSG_VM_BALLOON_STATS;
	send_req(a, &q, -1);
	cr_assert_eq(recv_resp(a, &r, 5000), 0, "no answer at all");
	cr_assert_eq(r.hdr.type, MSG_VM_RESP_ERR);
	cr_assert_eq(r.err.error, -EIO);
	cr_assert(strstr(r.err.message, "BALLOON") != NULL, "%s", r.err.message);
	close(a);
}
