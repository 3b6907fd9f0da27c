/*
 * A device process holds exactly the fds it was handed (shared/DESIGN.md, "Processes"): 0-2,
 * its two tubes, guest memory and backend at 3-6, then only what it made itself (its epoll fd)
 * and the eventfds ACTIVATE brought. Nothing the spawner had open leaks in, CLOEXEC or not.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"
#include "virtq.h"

#define F_ALL                                                                                      \
	(HARNESS_F(VIRTIO_F_VERSION_1) | HARNESS_F(VIRTIO_F_INDIRECT_DESC) |                       \
	 HARNESS_F(VIRTIO_F_EVENT_IDX))

static struct harness h;
static char marker[64];
static int leak_fd = -1, leak_high = -1, leak_evfd = -1;

static void stop(void)
{
	harness_stop(&h);
	if (leak_fd >= 0)
		close(leak_fd);
	if (leak_high >= 0)
		close(leak_high);
	if (leak_evfd >= 0)
		close(leak_evfd);
	if (marker[0])
		unlink(marker);
}

/* Opens fds without CLOEXEC (a low one, one far up, an eventfd), then starts rng. */
static void start(void)
{
	struct harness_spec s = {.type = "rng"};
	int ret;

	snprintf(marker, sizeof(marker), "/tmp/harness-fd-marker-XXXXXX");
	leak_fd = mkstemp(marker); /* no O_CLOEXEC */
	cr_assert_geq(leak_fd, 0);
	leak_high = fcntl(leak_fd, F_DUPFD, 200);
	leak_evfd = eventfd(0, 0);
	cr_assert(leak_high >= 0 && leak_evfd >= 0);
	s.backend_fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(s.backend_fd, 0);
	ret = harness_start(&h, &s);
	close(s.backend_fd);
	cr_assert_eq(ret, 0, "rng did not start: %s", strerror(-ret));
}

TestSuite(fds_harness, .init = start, .fini = stop, .timeout = 60);

struct fd_census {
	unsigned int total;
	unsigned int eventfds;
	unsigned int epolls;
	char link[16][256]; /* fds 0..15 */
};

static void census(struct fd_census *c)
{
	char dir[64];
	struct dirent *e;
	DIR *d;

	memset(c, 0, sizeof(*c));
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)h.pid);
	d = opendir(dir);
	cr_assert_not_null(d, "%s", dir);
	while ((e = readdir(d))) {
		char path[320], link[256];
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		cr_assert_gt(n, 0);
		link[n] = '\0';
		cr_assert_null(strstr(link, marker), "fd %d of the harness leaked in: %s", fd,
			       link);
		c->total++;
		if (strcmp(link, "anon_inode:[eventfd]") == 0)
			c->eventfds++;
		else if (strcmp(link, "anon_inode:[eventpoll]") == 0)
			c->epolls++;
		else
			cr_assert_lt(fd, 7, "fd %d (%s) was not handed over", fd, link);
		if (fd < 16)
			snprintf(c->link[fd], sizeof(c->link[fd]), "%s", link);
	}
	closedir(d);
}

static void check_fixed(const struct fd_census *c)
{
	cr_assert_str_eq(c->link[0], "/dev/null");
	cr_assert_str_eq(c->link[1], "/dev/null");
	cr_assert_str_neq(c->link[2], "");
	cr_assert_eq(strncmp(c->link[3], "socket:", 7), 0, "fd 3 is %s", c->link[3]);
	cr_assert_eq(strncmp(c->link[4], "socket:", 7), 0, "fd 4 is %s", c->link[4]);
	cr_assert_eq(strncmp(c->link[5], "/memfd:harness-guest-ram", 24), 0, "fd 5 is %s",
		     c->link[5]);
	cr_assert_str_eq(c->link[6], "/dev/urandom");
}

Test(fds_harness, only_what_was_handed_over)
{
	struct fd_census c;
	unsigned int want_evfds;

	census(&c);
	check_fixed(&c);
	cr_assert_eq(c.eventfds, 0, "eventfds before ACTIVATE");
	cr_assert_eq(c.epolls, 1);
	cr_assert_eq(c.total, 8, "%u fds before ACTIVATE", c.total);

	cr_assert_eq(harness_activate(&h, F_ALL), 0);
	census(&c);
	check_fixed(&c);
	want_evfds = 2 * h.nqueues + 1; /* kick and interrupt per queue, config interrupt */
	cr_assert_eq(c.eventfds, want_evfds, "%u eventfds after ACTIVATE", c.eventfds);
	cr_assert_eq(c.total, 8 + want_evfds);

	cr_assert_eq(harness_reset(&h), 0);
	census(&c);
	cr_assert_eq(c.eventfds, 0, "RESET kept %u eventfds", c.eventfds);
	cr_assert_eq(c.total, 8);
}

/* Re-activating without a reset replaces the eventfds rather than piling them up. */
Test(fds_harness, reactivate_does_not_leak)
{
	struct fd_census c;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(harness_activate(&h, F_ALL), 0);
	census(&c);
	cr_assert_eq(c.eventfds, 2 * h.nqueues + 1);
	cr_assert_eq(c.total, 8 + 2 * h.nqueues + 1);
}
