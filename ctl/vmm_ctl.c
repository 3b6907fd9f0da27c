/*
 * vmm-ctl: the control socket's client (shared/DESIGN.md, "Processes"). One request, one answer
 * (ipc/msg_vm.h), except `events`, which listens until it is told to stop.
 *
 * Exit status: 0 done, 1 the VM refused or failed it (or answered nothing sensible), 2 usage
 * error, 3 no VM at that socket.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_format.h"
#include "tap.h"
#include "ctl_path.h"
#include "msg_vm.h"
#include "tube.h"
#include "util.h"

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_NO_VM = 3,
};

/* How long an answer may take. */
#define CTL_TIMEOUT_MS 10000
/* The words of a command line that are not options: a command of up to two words, two args. */
#define CTL_MAX_WORDS 8

struct ctl_cmd;

struct ctl {
	const char *socket; /* --socket */
	const char *name;   /* --name */
	bool json;
	bool allow_shrink;
	bool force;
	int fd; /* sent with the request (hotplug-net add's tap), or -1 */
	bool help;
	bool version;
	char *words[CTL_MAX_WORDS]; /* the command, then its arguments */
	int nwords;
	const struct ctl_cmd *cmd;
	char **args; /* the command's arguments: words after the command's own */
	char path[MSG_VM_SOCKET_PATH];
};

struct ctl_cmd {
	const char *name;    /* its words: "balloon set" */
	const char *metavar; /* its arguments, for --help and errors; NULL: none */
	int nargs;
	uint32_t type; /* the request */
	/* the request's body from c->args: 0, or CTL_EXIT_USAGE with the message printed */
	int (*build)(const struct ctl *c, struct vm_request *q);
	uint32_t answer; /* the response that means done */
	void (*show)(FILE *out, const struct vm_response *r, bool json); /* NULL: RESP_OK's */
	int (*run)(struct ctl *c); /* instead of one request (events) */
	int timeout_ms;		   /* for the answer; 0: CTL_TIMEOUT_MS */
	const char *help;
};

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("vmm-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_EXIT_USAGE;
}

/* ---- talking to the VM ---- */

/* Connects to the VM's socket: CTL_EXIT_OK with *fd set, else the exit code (message printed). */
static int vm_connect(const struct ctl *c, int *fd)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", c->path);
	/* non-blocking: a VM whose backlog is full makes connect fail, not hang */
	*fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*fd < 0) {
		fprintf(stderr, "vmm-ctl: socket: %s\n", strerror(errno));
		return CTL_EXIT_FAILED;
	}
	if (connect(*fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return CTL_EXIT_OK;
	if (errno == ENOENT || errno == ECONNREFUSED) {
		fprintf(stderr, "vmm-ctl: no VM at %s\n", c->path);
		close_fd(fd);
		return CTL_EXIT_NO_VM;
	}
	fprintf(stderr, "vmm-ctl: %s: %s\n", c->path, strerror(errno));
	close_fd(fd);
	return CTL_EXIT_FAILED;
}

static void transport_error(const char *what, int err, int timeout_ms)
{
	if (err == -ETIMEDOUT)
		fprintf(stderr, "vmm-ctl: %s: no answer within %d s\n", what, timeout_ms / 1000);
	else if (err == -EPIPE)
		fprintf(stderr, "vmm-ctl: %s: the VM closed the connection without answering\n",
			what);
	else
		fprintf(stderr, "vmm-ctl: %s: %s\n", what, strerror(-err));
}

/*
 * Sends q (with c->fd when it is one) and reads its answer into r on a connection of its own:
 * an exit code.
 */
static int vm_call(const struct ctl *c, const char *what, const struct vm_request *q,
		   struct vm_response *r)
{
	int timeout = c->cmd && c->cmd->timeout_ms ? c->cmd->timeout_ms : CTL_TIMEOUT_MS;
	unsigned int nfds = c->fd >= 0 ? 1 : 0;
	char buf[MSG_MAX_SIZE];
	struct tube t;
	size_t len;
	int ret;

	ret = msg_vm_encode_request(q, nfds, buf, sizeof(buf), &len);
	if (ret < 0) {
		/* the arguments were checked: this is a bug here */
		fprintf(stderr, "vmm-ctl: %s: cannot encode the request: %s\n", what,
			strerror(-ret));
		return CTL_EXIT_FAILED;
	}
	ret = vm_connect(c, &t.fd);
	if (ret != CTL_EXIT_OK)
		return ret;
	ret = tube_call(&t, buf, len, nfds ? &c->fd : NULL, nfds, buf, sizeof(buf), &len, timeout);
	tube_close(&t);
	if (ret < 0) {
		transport_error(what, ret, timeout);
		return CTL_EXIT_FAILED;
	}
	if (msg_vm_decode_response(buf, len, 0, r) < 0 || r->hdr.type == MSG_VM_EVENT) {
		fprintf(stderr, "vmm-ctl: %s: malformed answer\n", what);
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}

/* A decoded answer to `what`: CTL_EXIT_OK if it is `expected`, else the message and code. */
static int check_answer(const struct ctl *c, const char *what, const struct vm_response *r,
			uint32_t expected)
{
	if (r->hdr.type == expected)
		return CTL_EXIT_OK;
	if (r->hdr.type != MSG_VM_RESP_ERR) {
		fprintf(stderr, "vmm-ctl: %s: malformed answer (%s)\n", what,
			msg_vm_name(r->hdr.type));
		return CTL_EXIT_FAILED;
	}
	if (c->json) {
		ctl_print_err_json(stdout, what, &r->err);
		fflush(stdout);
	}
	if (r->err.message[0])
		fprintf(stderr, "vmm-ctl: %s: %s (%s)\n", what, r->err.message,
			strerror(-r->err.error));
	else
		fprintf(stderr, "vmm-ctl: %s: %s\n", what, strerror(-r->err.error));
	return CTL_EXIT_FAILED;
}

/* ---- commands that are one request ---- */

static int build_balloon_set(const struct ctl *c, struct vm_request *q)
{
	int ret = ctl_parse_size(c->args[0], MIB(1), MSG_PAGE_SIZE, &q->balloon.target);

	if (ret == -EDOM)
		return usage("balloon set: '%s' is not a whole number of 4 KiB pages", c->args[0]);
	if (ret == -ERANGE)
		return usage("balloon set: '%s' is too large", c->args[0]);
	if (ret < 0)
		return usage("balloon set: '%s' is not a size (MiB, or a number with K, M or G)",
			     c->args[0]);
	q->balloon.op = MSG_VM_BALLOON_ADJUST;
	return 0;
}

static int build_balloon_stats(const struct ctl *c, struct vm_request *q)
{
	(void)c;
	q->balloon.op = MSG_VM_BALLOON_STATS;
	return 0;
}

/*
 * hotplug-net add TAP: vmm-ctl opens the tap with the operator's own rights (main holds no
 * CAP_NET_ADMIN once it runs), with the vnet header and offloads, brings it up, and sends the fd.
 */
static int build_hotplug_add(const struct ctl *c, struct vm_request *q)
{
	char err[256];
	int ret;

	if (msg_set_str(q->hotplug_net.tap, sizeof(q->hotplug_net.tap), c->args[0]) < 0 ||
	    !c->args[0][0])
		return usage("hotplug-net add: '%s' is not a network interface name", c->args[0]);
	q->hotplug_net.op = MSG_VM_NET_ADD;
	ret = tap_open(c->args[0], 0, &((struct ctl *)c)->fd, err, sizeof(err));
	if (ret == 0)
		ret = tap_configure(c->args[0], 0, NULL, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "vmm-ctl: hotplug-net add: %s\n", err);
		return CTL_EXIT_FAILED;
	}
	return 0;
}

static int build_hotplug_remove(const struct ctl *c, struct vm_request *q)
{
	if (msg_set_str(q->hotplug_net.tap, sizeof(q->hotplug_net.tap), c->args[0]) < 0 ||
	    !c->args[0][0])
		return usage("hotplug-net remove: '%s' is not a network interface name",
			     c->args[0]);
	q->hotplug_net.op = MSG_VM_NET_REMOVE;
	q->hotplug_net.flags = c->force ? MSG_VM_NET_FORCE : 0;
	return 0;
}

static void show_hotplug_net(FILE *out, const struct vm_response *r, bool json)
{
	ctl_print_hotplug_net(out, &r->hotplug_net_done, json);
}

static int parse_disk_index(const char *s, uint32_t *out)
{
	uint64_t v;

	/* ctl_parse_size() reads plain digits; a suffix makes no index */
	if (strpbrk(s, "KMGkmg") || ctl_parse_size(s, 1, 0, &v) < 0 || v >= MSG_VM_MAX_DISKS)
		return usage("disk resize: INDEX '%s' is not 0..%d", s, MSG_VM_MAX_DISKS - 1);
	*out = (uint32_t)v;
	return 0;
}

static int build_disk_resize(const struct ctl *c, struct vm_request *q)
{
	const char *size = c->args[1];
	int ret = parse_disk_index(c->args[0], &q->disk.index);

	if (ret)
		return ret;
	ret = ctl_parse_size(size, 1, MSG_VM_DISK_SECTOR, &q->disk.size);
	if (ret == -EDOM)
		return usage("disk resize: '%s' is not a whole number of 512-byte sectors", size);
	if (ret == -ERANGE)
		return usage("disk resize: '%s' is too large", size);
	if (ret < 0)
		return usage("disk resize: '%s' is not a size (bytes, or a number with K, M or G)",
			     size);
	if (q->disk.size == 0)
		return usage("disk resize: the size must not be 0");
	/* the VM compares with the image's size: only it knows whether this shrinks */
	q->disk.op = c->allow_shrink ? MSG_VM_DISK_RESIZE_SHRINK : MSG_VM_DISK_RESIZE;
	return 0;
}

static void show_status(FILE *out, const struct vm_response *r, bool json)
{
	ctl_print_status(out, &r->status, json);
}

static void show_pid_tid(FILE *out, const struct vm_response *r, bool json)
{
	ctl_print_pid_tid(out, &r->pid_tid, json);
}

static void show_balloon_stats(FILE *out, const struct vm_response *r, bool json)
{
	ctl_print_balloon_stats(out, &r->balloon_stats, json);
}

static int run_request(struct ctl *c)
{
	const struct ctl_cmd *cmd = c->cmd;
	struct vm_request q = {.hdr.type = cmd->type};
	struct vm_response r;
	int ret;

	if (cmd->build) {
		ret = cmd->build(c, &q);
		if (ret)
			return ret;
	}
	ret = vm_call(c, cmd->name, &q, &r);
	if (ret == CTL_EXIT_OK)
		ret = check_answer(c, cmd->name, &r, cmd->answer);
	if (ret != CTL_EXIT_OK)
		return ret;
	if (cmd->show)
		cmd->show(stdout, &r, c->json);
	else
		ctl_print_ok(stdout, cmd->name, c->json);
	return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/* ---- events ---- */

struct listener {
	int fd;	 /* SOCK_DGRAM, bound at path */
	int sig; /* signalfd: SIGINT, SIGTERM, SIGHUP */
	char path[MSG_VM_SOCKET_PATH];
};

/* Binds l->fd at a fresh path in dir (mode 0600): 0, -EADDRINUSE after many tries, or -errno. */
static int bind_in(struct listener *l, const char *dir)
{
	const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	for (unsigned int i = 0; i < 100; i++) {
		mode_t old;
		int n, ret;

		n = snprintf(a.sun_path, sizeof(a.sun_path), "%s%svmm-ctl-events.%d.%u.sock", dir,
			     sep, (int)getpid(), i);
		if (n < 0 || (size_t)n >= sizeof(a.sun_path))
			return -ENAMETOOLONG;
		/* the socket file takes its mode from the umask: only we may write to it */
		old = umask(0177);
		ret = bind(l->fd, (struct sockaddr *)&a, sizeof(a));
		umask(old);
		if (ret == 0) {
			snprintf(l->path, sizeof(l->path), "%s", a.sun_path);
			return 0;
		}
		if (errno != EADDRINUSE)
			return -errno;
	}
	return -EADDRINUSE;
}

/*
 * The control socket's folder as an absolute path (the VM resolves the listener's path from its
 * own working directory): 0, or -errno when it cannot be found.
 */
static int control_dir(const char *control_path, char *dir)
{
	char copy[MSG_VM_SOCKET_PATH];
	char *slash;

	snprintf(copy, sizeof(copy), "%s", control_path);
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(copy, sizeof(copy), ".");
	return realpath(copy, dir) ? 0 : -errno;
}

/* The listener's socket: next to the control socket, else in $TMPDIR or /tmp. */
static int listener_open(struct listener *l, const char *control_path)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX];
	int ret;

	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	ret = control_dir(control_path, dir);
	if (ret == 0)
		ret = bind_in(l, dir);
	if (ret < 0)
		ret = bind_in(l, tmp && tmp[0] == '/' ? tmp : "/tmp");
	if (ret < 0)
		close_fd(&l->fd);
	return ret;
}

/* SIGINT, SIGTERM and SIGHUP arrive on l->sig from now on; a closed stdout is an error to see. */
static int listener_signals(struct listener *l)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	l->sig = signalfd(-1, &set, SFD_CLOEXEC);
	return l->sig < 0 ? -errno : 0;
}

/* Why the listening ended. */
enum listen_end {
	LISTEN_ON,
	LISTEN_SIGNAL,	/* SIGINT, SIGTERM, SIGHUP (or poll failed): unregister */
	LISTEN_VM_GONE, /* the VM said it is stopping: it forgets its listeners itself */
	LISTEN_NO_OUTPUT,
};

/* One datagram: printed if it is an event. */
static enum listen_end listener_read(const struct ctl *c, struct listener *l)
{
	char buf[MSG_MAX_SIZE];
	struct vm_response r;
	ssize_t n;

	n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		return LISTEN_ON;
	if (msg_vm_decode_response(buf, (size_t)n, 0, &r) < 0 || r.hdr.type != MSG_VM_EVENT) {
		fprintf(stderr, "vmm-ctl: events: malformed event ignored\n");
		return LISTEN_ON;
	}
	ctl_print_event(stdout, &r.event, c->json);
	/* a reader (| head -1) that went away ends the listening too */
	if (fflush(stdout) != 0)
		return LISTEN_NO_OUTPUT;
	if (r.event.event == MSG_VM_EVENT_VM_STATE && r.event.value == MSG_VM_STATE_STOPPING)
		return LISTEN_VM_GONE;
	return LISTEN_ON;
}

static enum listen_end listener_loop(const struct ctl *c, struct listener *l)
{
	struct pollfd p[2] = {{.fd = l->sig, .events = POLLIN}, {.fd = l->fd, .events = POLLIN}};
	enum listen_end end = LISTEN_ON;

	while (end == LISTEN_ON) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "vmm-ctl: events: poll: %s\n", strerror(errno));
			return LISTEN_SIGNAL;
		}
		/* events that came before the signal are printed first */
		if (p[1].revents & POLLIN)
			end = listener_read(c, l);
		else if (p[0].revents & POLLIN)
			end = LISTEN_SIGNAL;
	}
	return end;
}

static int listener_request(const struct ctl *c, const struct listener *l, uint32_t type)
{
	struct vm_request q = {.hdr.type = type};
	const char *what = "events";
	struct vm_response r;
	int ret;

	if (type == MSG_VM_REGISTER_LISTENER) {
		q.listener.events = MSG_VM_EVENT_ALL;
		snprintf(q.listener.path, sizeof(q.listener.path), "%s", l->path);
	} else {
		snprintf(q.unregister.path, sizeof(q.unregister.path), "%s", l->path);
	}
	ret = vm_call(c, what, &q, &r);
	if (ret == CTL_EXIT_OK)
		ret = check_answer(c, what, &r, MSG_VM_RESP_OK);
	return ret;
}

static int run_events(struct ctl *c)
{
	struct listener l = {.fd = -1, .sig = -1};
	int ret;

	ret = listener_open(&l, c->path);
	if (ret < 0) {
		fprintf(stderr, "vmm-ctl: events: cannot make a socket to listen on: %s\n",
			strerror(-ret));
		return CTL_EXIT_FAILED;
	}
	ret = listener_signals(&l);
	if (ret < 0) {
		fprintf(stderr, "vmm-ctl: events: signals: %s\n", strerror(-ret));
		ret = CTL_EXIT_FAILED;
		goto err_unlink;
	}
	ret = listener_request(c, &l, MSG_VM_REGISTER_LISTENER);
	if (ret != CTL_EXIT_OK)
		goto err_unlink;
	/* a VM that stopped has forgotten us already; one that did not is told */
	if (listener_loop(c, &l) != LISTEN_VM_GONE)
		listener_request(c, &l, MSG_VM_UNREGISTER);
	ret = CTL_EXIT_OK;
err_unlink:
	unlink(l.path);
	close_fd(&l.sig);
	close_fd(&l.fd);
	return ret;
}

/* ---- the command line ---- */

/* Adding a command is adding a row here. */
/* clang-format off */
static const struct ctl_cmd commands[] = {
	{.name = "status", .type = MSG_VM_STATUS, .answer = MSG_VM_RESP_STATUS,
	 .show = show_status,
	 .help = "name, state, uptime, vCPUs, memory and every device"},
	{.name = "stop", .type = MSG_VM_EXIT, .answer = MSG_VM_RESP_OK,
	 .help = "stop the VM in order (vmm exits 0)"},
	{.name = "suspend", .type = MSG_VM_SUSPEND_VCPUS, .answer = MSG_VM_RESP_OK,
	 .help = "park the vCPUs"},
	{.name = "resume", .type = MSG_VM_RESUME_VCPUS, .answer = MSG_VM_RESP_OK,
	 .help = "let the vCPUs run again"},
	{.name = "suspend-vm", .type = MSG_VM_SUSPEND_VM, .answer = MSG_VM_RESP_OK,
	 .help = "park the vCPUs and put every device to sleep"},
	{.name = "resume-vm", .type = MSG_VM_RESUME_VM, .answer = MSG_VM_RESP_OK,
	 .help = "wake the devices and the vCPUs"},
	{.name = "vcpu-pids", .type = MSG_VM_VCPU_PID_TID, .answer = MSG_VM_RESP_VCPU_PID_TID,
	 .show = show_pid_tid,
	 .help = "vmm's pid and each vCPU thread's tid"},
	{.name = "balloon set", .metavar = "SIZE", .nargs = 1, .type = MSG_VM_BALLOON,
	 .build = build_balloon_set, .answer = MSG_VM_RESP_OK,
	 .help = "the balloon's target size (a bare number is MiB)"},
	{.name = "balloon stats", .type = MSG_VM_BALLOON, .build = build_balloon_stats,
	 .answer = MSG_VM_RESP_BALLOON_STATS, .show = show_balloon_stats,
	 .help = "the balloon's size and the guest's memory statistics"},
	{.name = "disk resize", .metavar = "INDEX SIZE", .nargs = 2,
	 .type = MSG_VM_DISK, .build = build_disk_resize, .answer = MSG_VM_RESP_OK,
	 .help = "disk INDEX (from 0) to SIZE (a bare number is bytes)"},
	{.name = "hotplug-net add", .metavar = "TAP", .nargs = 1, .type = MSG_VM_HOTPLUG_NET,
	 .build = build_hotplug_add, .answer = MSG_VM_RESP_HOTPLUG_NET, .show = show_hotplug_net,
	 .timeout_ms = 30000, .help = "a new NIC on host tap TAP (opened by vmm-ctl)"},
	{.name = "hotplug-net remove", .metavar = "TAP", .nargs = 1, .type = MSG_VM_HOTPLUG_NET,
	 .build = build_hotplug_remove, .answer = MSG_VM_RESP_OK,
	 .timeout_ms = HOTPLUG_RELEASE_WAIT_MS + 20000,
	 .help = "unplug the NIC on TAP once the guest lets go (--force: anyway)"},
	{.name = "ctrl-alt-del", .type = MSG_VM_CTRL_ALT_DEL, .answer = MSG_VM_RESP_OK,
	 .help = "press Ctrl-Alt-Del on the i8042 keyboard"},
	{.name = "events", .run = run_events,
	 .help = "print the VM's events, one line each, until SIGINT or SIGTERM"},
};
/* clang-format on */

struct ctl_opt {
	const char *name;
	const char *metavar; /* NULL: takes no value */
	void (*apply)(struct ctl *c, const char *arg);
	const char *help;
};

static void opt_socket(struct ctl *c, const char *arg)
{
	c->socket = arg;
}

static void opt_name(struct ctl *c, const char *arg)
{
	c->name = arg;
}

static void opt_json(struct ctl *c, const char *arg)
{
	(void)arg;
	c->json = true;
}

static void opt_allow_shrink(struct ctl *c, const char *arg)
{
	(void)arg;
	c->allow_shrink = true;
}

static void opt_force(struct ctl *c, const char *arg)
{
	(void)arg;
	c->force = true;
}

static void opt_help(struct ctl *c, const char *arg)
{
	(void)arg;
	c->help = true;
}

static void opt_version(struct ctl *c, const char *arg)
{
	(void)arg;
	c->version = true;
}

/* clang-format off */
static const struct ctl_opt options[] = {
	{"--socket", "PATH", opt_socket, "the VM's control socket"},
	{"--name", "NAME", opt_name, "the VM named NAME, at its default socket"},
	{"--json", NULL, opt_json, "machine-readable output: one JSON object per line"},
	{"--allow-shrink", NULL, opt_allow_shrink, "let disk resize make the disk smaller"},
	{"--force", NULL, opt_force, "hotplug-net remove: even if the guest holds on"},
	{"--help", NULL, opt_help, "this text (also -h)"},
	{"-h", NULL, opt_help, NULL},
	{"--version", NULL, opt_version, "vmm-ctl's version"},
};
/* clang-format on */

static void print_usage(FILE *out)
{
	fprintf(out, "usage: vmm-ctl [--socket PATH | --name NAME] [--json] COMMAND [ARGS]\n"
		     "\n"
		     "Asks a running vmm to do COMMAND through its control socket.\n"
		     "\n"
		     "commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s", commands[i].name,
			 commands[i].metavar ? " " : "",
			 commands[i].metavar ? commands[i].metavar : "");
		fprintf(out, "  %-24s %s\n", left, commands[i].help);
	}
	fprintf(out, "\noptions (before or after the command):\n");
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		char left[64];

		if (!options[i].help)
			continue;
		snprintf(left, sizeof(left), "%s%s%s", options[i].name,
			 options[i].metavar ? " " : "",
			 options[i].metavar ? options[i].metavar : "");
		fprintf(out, "  %-24s %s\n", left, options[i].help);
	}
	fprintf(
	    out,
	    "\n"
	    "Without --socket or --name: the VM named \"" CTL_DEFAULT_NAME "\". A VM's socket is\n"
	    "/run/vmm/NAME.sock for root, else $XDG_RUNTIME_DIR/vmm/NAME.sock, else\n"
	    "/tmp/vmm-UID/NAME.sock.\n"
	    "Sizes: digits with an optional K, M or G suffix (powers of 1024). A bare number\n"
	    "is MiB for balloon set (4 KiB pages) and bytes for disk resize (512-byte sectors).\n"
	    "Exit status: 0 done, 1 the VM refused or failed it, 2 usage error, 3 no VM at\n"
	    "that socket.\n");
}

/* The row for "--name" or "--name=value" (*value then points after the '='). */
static const struct ctl_opt *opt_find(const char *a, const char **value)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		size_t len = strlen(options[i].name);

		if (strncmp(a, options[i].name, len) != 0 || (a[len] && a[len] != '='))
			continue;
		*value = a[len] == '=' ? a + len + 1 : NULL;
		return &options[i];
	}
	return NULL;
}

/* The option at argv[*i] with its value; moves *i past the value. 0 or CTL_EXIT_USAGE. */
static int parse_option(struct ctl *c, int argc, char **argv, int *i)
{
	const char *value;
	const struct ctl_opt *o = opt_find(argv[*i], &value);

	if (!o)
		return usage("unknown option '%s' (try 'vmm-ctl --help')", argv[*i]);
	if (!o->metavar && value)
		return usage("%s: takes no value", o->name);
	if (o->metavar && !value) {
		if (*i + 1 >= argc)
			return usage("%s: missing value (%s %s)", o->name, o->name, o->metavar);
		value = argv[++*i];
	}
	if (o->metavar && !value[0])
		return usage("%s: empty value", o->name);
	o->apply(c, value);
	return 0;
}

/* Options anywhere, every other word in c->words; "--" ends the options. */
static int parse_words(struct ctl *c, int argc, char **argv)
{
	bool options_end = false;

	for (int i = 1; i < argc; i++) {
		if (!options_end && strcmp(argv[i], "--") == 0) {
			options_end = true;
		} else if (!options_end && argv[i][0] == '-' && argv[i][1]) {
			int ret = parse_option(c, argc, argv, &i);

			if (ret)
				return ret;
		} else if (c->nwords == CTL_MAX_WORDS) {
			return usage("too many arguments (try 'vmm-ctl --help')");
		} else {
			c->words[c->nwords++] = argv[i];
		}
	}
	return 0;
}

/* How many of c->words the command's name takes, or 0 if they do not start with it. */
static int cmd_match(const struct ctl *c, const struct ctl_cmd *cmd)
{
	const char *p = cmd->name;
	int n = 0;

	while (*p) {
		size_t len = strcspn(p, " ");

		if (n == c->nwords || strlen(c->words[n]) != len || strncmp(c->words[n], p, len))
			return 0;
		n++;
		p += len + (p[len] == ' ');
	}
	return n;
}

static int find_command(struct ctl *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		int n = cmd_match(c, &commands[i]);

		if (!n)
			continue;
		if (c->nwords - n != commands[i].nargs) {
			if (commands[i].metavar)
				return usage("%s: expects %s", commands[i].name,
					     commands[i].metavar);
			return usage("%s: takes no arguments", commands[i].name);
		}
		c->cmd = &commands[i];
		c->args = c->words + n;
		return 0;
	}
	if (c->nwords >= 2 && (!strcmp(c->words[0], "balloon") || !strcmp(c->words[0], "disk") ||
			       !strcmp(c->words[0], "hotplug-net")))
		return usage("unknown command '%s %s' (try 'vmm-ctl --help')", c->words[0],
			     c->words[1]);
	return usage("unknown command '%s' (try 'vmm-ctl --help')", c->words[0]);
}

/* The socket's path from --socket, --name or the default name. */
static int find_socket(struct ctl *c)
{
	int ret;

	if (c->socket && c->name)
		return usage("give --socket or --name, not both");
	if (c->socket) {
		if (strlen(c->socket) >= sizeof(c->path))
			return usage("--socket: '%s' is longer than a socket path may be",
				     c->socket);
		snprintf(c->path, sizeof(c->path), "%s", c->socket);
		return 0;
	}
	ret = ctl_default_socket(c->name ? c->name : CTL_DEFAULT_NAME, c->path, sizeof(c->path));
	if (ret == -EINVAL)
		return usage("--name: '%s' is not a VM name", c->name);
	if (ret < 0)
		return usage("--name: '%s' makes a socket path too long", c->name);
	return 0;
}

static int parse(struct ctl *c, int argc, char **argv)
{
	int ret = parse_words(c, argc, argv);

	if (ret || c->help || c->version)
		return ret;
	if (c->nwords == 1 && strcmp(c->words[0], "help") == 0) {
		c->help = true;
		return 0;
	}
	if (!c->nwords)
		return usage("no command given (try 'vmm-ctl --help')");
	ret = find_command(c);
	if (ret)
		return ret;
	if (c->allow_shrink && strcmp(c->cmd->name, "disk resize") != 0)
		return usage("--allow-shrink: only for disk resize");
	if (c->force && strcmp(c->cmd->name, "hotplug-net remove") != 0)
		return usage("--force: only for hotplug-net remove");
	return find_socket(c);
}

int main(int argc, char **argv)
{
	struct ctl c = {.fd = -1};
	int ret = parse(&c, argc, argv);

	if (ret)
		return ret;
	if (c.help) {
		print_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (c.version) {
		printf("vmm-ctl %s\n", VMM_VERSION);
		return CTL_EXIT_OK;
	}
	ret = c.cmd->run ? c.cmd->run(&c) : run_request(&c);
	close_fd(&c.fd);
	return ret;
}
