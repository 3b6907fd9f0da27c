/*
 * A fake vmm for ctl_cli.sh: listens on a control socket and answers each request with a canned
 * answer, so that vmm-ctl can be tested without KVM. Prints one line per request on stdout
 * ("BALLOON op=0 target=536870912") so the test sees what vmm-ctl sent.
 *
 *   fake_vm SOCKET [normal|silent|garbage|wrong|hangup|stopping]
 *
 * normal: STATUS gets a VM with two devices, VCPU_PID_TID a pid and two tids, BALLOON STATS some
 * statistics, DISK for index 5 an ENOENT error, REGISTER_LISTENER OK and then two events at the
 * listener's socket, HOTPLUG_NET as below, anything else OK. silent: never answers. garbage:
 * answers bytes that do not decode. wrong: answers RESP_VCPU_PID_TID to everything. hangup: closes
 * without answering. stopping: as normal, but a new listener hears only that the VM is stopping.
 *
 * HOTPLUG_NET ADD must bring exactly one fd, a tap (TUNGETIFF) named as in the request, opened
 * with IFF_NO_PI and IFF_VNET_HDR; the fake logs what the fd is, closes it and answers netN at
 * bus N, PCI N:00.0 (N: the NICs it holds, this one included). The same tap twice, or a wrong
 * fd, is refused. REMOVE of a tap it holds is OK, of any other refused with ENODEV.
 */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "msg_vm.h"
#include "tube.h"
#include "util.h"

enum mode { NORMAL, SILENT, GARBAGE, WRONG, HANGUP, STOPPING };

#define FAKE_MAX_NICS 4
#define FAKE_MAX_FDS 4 /* more than a request may carry, to see a client that sends too many */

/* What the fake holds across connections: the taps of its hot-plugged NICs. */
struct fake {
	enum mode mode;
	char nics[FAKE_MAX_NICS][MSG_VM_IFNAMSIZ]; /* "" for a free slot */
};

static void canned_status(struct vm_response *r)
{
	struct msg_vm_status *s = &r->status;

	r->hdr.type = MSG_VM_RESP_STATUS;
	msg_set_str(s->name, sizeof(s->name), "fake");
	s->state = MSG_VM_STATE_RUNNING;
	s->pid = 4121;
	s->uptime_ms = 3723456;
	s->memory_bytes = MIB(256);
	s->nvcpus = 2;
	s->ndevices = 2;
	msg_set_str(s->devices[0].name, MSG_VM_DEVICE_NAME, "blk0");
	msg_set_str(s->devices[0].type, MSG_VM_DEVICE_NAME, "block");
	s->devices[0].pid = 4122;
	s->devices[0].flags = MSG_VM_DEV_JAILED | MSG_VM_DEV_ALIVE | MSG_VM_DEV_DRIVER_OK;
	s->devices[0].features = 0x130000044ULL;
	s->devices[0].pci_addr = MSG_VM_PCI_ADDR(0, 2);
	s->devices[0].virtio_type = 2;
	msg_set_str(s->devices[1].name, MSG_VM_DEVICE_NAME, "rng0");
	msg_set_str(s->devices[1].type, MSG_VM_DEVICE_NAME, "entropy");
	s->devices[1].pid = 0;
	s->devices[1].flags = MSG_VM_DEV_NEEDS_RESET;
	s->devices[1].pci_addr = MSG_VM_PCI_ADDR(0, 3);
	s->devices[1].virtio_type = 4;
}

static void canned_stats(struct vm_response *r)
{
	struct msg_vm_balloon_stats *b = &r->balloon_stats;

	r->hdr.type = MSG_VM_RESP_BALLOON_STATS;
	b->actual = MIB(512);
	/* everything but available-memory and disk-caches */
	b->valid = 0x33f;
	b->stats[2] = 12;
	b->stats[3] = 3456;
	b->stats[4] = MIB(200);
	b->stats[5] = GIB(2) - MIB(200) + KIB(300);
}

/* The two events a new listener hears, or the one that says the VM stops. */
static void send_events(const char *path, enum mode mode)
{
	struct vm_response r = {.hdr.type = MSG_VM_EVENT};
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char buf[MSG_MAX_SIZE];
	size_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (mode == STOPPING) {
		r.event.event = MSG_VM_EVENT_VM_STATE;
		r.event.time_ms = 9000;
		r.event.value = MSG_VM_STATE_STOPPING;
		if (msg_vm_encode_response(&r, 0, buf, sizeof(buf), &len) == 0)
			sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		return;
	}
	r.event.event = MSG_VM_EVENT_DEVICE_EXIT;
	r.event.time_ms = 1500;
	msg_set_str(r.event.device, sizeof(r.event.device), "blk0");
	r.event.pid = 4122;
	r.event.status = -9;
	msg_set_str(r.event.text, sizeof(r.event.text), "killed by signal 9");
	if (msg_vm_encode_response(&r, 0, buf, sizeof(buf), &len) == 0)
		sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
	r.event = (struct msg_vm_event){.event = MSG_VM_EVENT_VM_STATE, .time_ms = 2000};
	r.event.value = MSG_VM_STATE_VCPUS_SUSPENDED;
	msg_set_str(r.event.text, sizeof(r.event.text), "vCPUs \"parked\" \\ tab\there");
	if (msg_vm_encode_response(&r, 0, buf, sizeof(buf), &len) == 0)
		sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
	close(fd);
}

static int find_nic(const struct fake *f, const char *tap)
{
	for (int i = 0; i < FAKE_MAX_NICS; i++)
		if (f->nics[i][0] && strcmp(f->nics[i], tap) == 0)
			return i;
	return -1;
}

/* ADD's fd: logs what it is; 0 if it is the tap named in the request, as vmm-ctl opens it. */
static int check_tap_fd(const char *tap, int fd, struct vm_response *r)
{
	struct ifreq ifr = {0};
	int hdr = 0;

	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		printf(" fd_tap=none\n");
		msg_vm_error(r, -ENOTTY, "the fd is not a tap");
		return -1;
	}
	if (ioctl(fd, TUNGETVNETHDRSZ, &hdr) < 0)
		hdr = -1;
	printf(" fd_tap=%.*s fd_mode=%s%s%s vnet_hdr=%d\n", IFNAMSIZ, ifr.ifr_name,
	       ifr.ifr_flags & IFF_TAP ? "tap" : "tun", ifr.ifr_flags & IFF_NO_PI ? ",no_pi" : "",
	       ifr.ifr_flags & IFF_VNET_HDR ? ",vnet_hdr" : "", hdr);
	if (strncmp(ifr.ifr_name, tap, IFNAMSIZ) != 0) {
		msg_vm_error(r, -EINVAL, "the fd is tap %.*s, not %s", IFNAMSIZ, ifr.ifr_name, tap);
		return -1;
	}
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_NO_PI) ||
	    !(ifr.ifr_flags & IFF_VNET_HDR)) {
		msg_vm_error(r, -EINVAL, "%s: not opened as a tap with a vnet header", tap);
		return -1;
	}
	return 0;
}

static void hotplug_add(struct fake *f, const char *tap, const int *fds, unsigned int nfds,
			struct vm_response *r)
{
	int slot = find_nic(f, tap);

	printf(" fds=%u", nfds);
	if (nfds != 1) {
		printf("\n");
		msg_vm_error(r, -EBADF, "ADD takes one fd, not %u", nfds);
		return;
	}
	if (check_tap_fd(tap, fds[0], r) < 0)
		return;
	if (slot >= 0) {
		msg_vm_error(r, -EEXIST, "%s is already net%d", tap, slot + 1);
		return;
	}
	for (slot = 0; slot < FAKE_MAX_NICS && f->nics[slot][0]; slot++)
		;
	if (slot == FAKE_MAX_NICS) {
		msg_vm_error(r, -ENOSPC, "no free hot-plug slot");
		return;
	}
	msg_set_str(f->nics[slot], MSG_VM_IFNAMSIZ, tap);
	*r = (struct vm_response){.hdr.type = MSG_VM_RESP_HOTPLUG_NET};
	snprintf(r->hotplug_net_done.device, sizeof(r->hotplug_net_done.device), "net%d", slot + 1);
	r->hotplug_net_done.pci_addr = MSG_VM_PCI_ADDR(slot + 1, 0);
}

static void hotplug(struct fake *f, const struct msg_vm_hotplug_net *h, const int *fds,
		    unsigned int nfds, struct vm_response *r)
{
	int slot;

	printf("HOTPLUG_NET op=%u flags=%u tap=%s", h->op, h->flags, h->tap);
	if (h->op == MSG_VM_NET_ADD) {
		hotplug_add(f, h->tap, fds, nfds, r);
		return;
	}
	printf(" fds=%u\n", nfds);
	slot = find_nic(f, h->tap);
	if (slot < 0) {
		msg_vm_error(r, -ENODEV, "no NIC on tap %s", h->tap);
		return;
	}
	f->nics[slot][0] = '\0';
}

/* Prints what came and fills in the normal answer. */
static void answer(struct fake *f, const struct vm_request *q, const int *fds, unsigned int nfds,
		   struct vm_response *r)
{
	*r = (struct vm_response){.hdr.type = MSG_VM_RESP_OK};
	switch (q->hdr.type) {
	case MSG_VM_STATUS:
		printf("STATUS\n");
		canned_status(r);
		return;
	case MSG_VM_VCPU_PID_TID:
		printf("VCPU_PID_TID\n");
		*r = (struct vm_response){.hdr.type = MSG_VM_RESP_VCPU_PID_TID};
		r->pid_tid =
		    (struct msg_vm_pid_tid){.pid = 4121, .nvcpus = 2, .tids = {4123, 4124}};
		return;
	case MSG_VM_BALLOON:
		printf("BALLOON op=%u target=%llu\n", q->balloon.op,
		       (unsigned long long)q->balloon.target);
		if (q->balloon.op == MSG_VM_BALLOON_STATS)
			canned_stats(r);
		return;
	case MSG_VM_DISK:
		printf("DISK index=%u op=%u size=%llu\n", q->disk.index, q->disk.op,
		       (unsigned long long)q->disk.size);
		if (q->disk.index == 5)
			msg_vm_error(r, -ENOENT, "no disk %u", q->disk.index);
		return;
	case MSG_VM_REGISTER_LISTENER:
		printf("REGISTER_LISTENER events=0x%x path=%s\n", q->listener.events,
		       q->listener.path);
		return;
	case MSG_VM_UNREGISTER:
		printf("UNREGISTER path=%s\n", q->unregister.path);
		return;
	case MSG_VM_HOTPLUG_NET:
		hotplug(f, &q->hotplug_net, fds, nfds, r);
		return;
	default:
		printf("%s\n", msg_vm_name(q->hdr.type));
		return;
	}
}

/* Serves one connection until the client closes it. */
static void serve(struct fake *f, struct tube *t)
{
	char in[MSG_MAX_SIZE], out[MSG_MAX_SIZE];
	enum mode mode = f->mode;
	int fds[FAKE_MAX_FDS];
	struct vm_request q;
	struct vm_response r;
	unsigned int nfds;
	size_t len;
	int ret;

	while (tube_recv(t, in, sizeof(in), &len, fds, FAKE_MAX_FDS, &nfds, -1) == 0) {
		ret = msg_vm_decode_request(in, len, nfds, &q);
		if (ret < 0) {
			printf("BAD %d fds=%u\n", ret, nfds);
			msg_vm_error(&r, ret, "bad request");
		} else {
			answer(f, &q, fds, nfds, &r);
		}
		for (unsigned int i = 0; i < nfds; i++)
			close(fds[i]);
		fflush(stdout);
		if (mode == SILENT)
			continue;
		if (mode == HANGUP)
			return;
		if (mode == WRONG)
			r = (struct vm_response){.hdr.type = MSG_VM_RESP_VCPU_PID_TID,
						 .pid_tid = {.pid = 1, .nvcpus = 1, .tids = {1}}};
		if (mode == GARBAGE) {
			memset(out, 0xa5, 64);
			len = 64;
		} else if (msg_vm_encode_response(&r, 0, out, sizeof(out), &len) < 0) {
			printf("cannot encode the answer\n");
			return;
		}
		tube_send(t, out, len, NULL, 0);
		/* after the OK, as main does: the listener is registered by then */
		if (ret == 0 && q.hdr.type == MSG_VM_REGISTER_LISTENER)
			send_events(q.listener.path, mode);
	}
}

static int parse_mode(const char *s, enum mode *mode)
{
	static const char *const names[] = {"normal", "silent", "garbage",
					    "wrong",  "hangup", "stopping"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*mode = (enum mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct fake f = {.mode = NORMAL};
	int fd;

	if (argc < 2 || argc > 3 || (argc == 3 && parse_mode(argv[2], &f.mode) < 0)) {
		fprintf(stderr,
			"usage: fake_vm SOCKET [normal|silent|garbage|wrong|hangup|stopping]\n");
		return 2;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		perror("fake_vm");
		return 1;
	}
	for (;;) {
		struct tube t = {.fd = accept4(fd, NULL, NULL, SOCK_CLOEXEC)};

		if (t.fd < 0)
			continue;
		serve(&f, &t);
		tube_close(&t);
	}
}
