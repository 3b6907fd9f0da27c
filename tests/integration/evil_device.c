/*
 * A hostile vmm-device: answers main's HELLO like a real device, then asks main, on its mem
 * tube, for things it does not own. Each answer is printed as "evil: WHAT status N" on stderr
 * (which vmm shares with its devices), so that tests/integration/hostile_device.sh can check
 * that main refused each one and stayed up.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "msg_device.h"
#include "msg_vm_memory.h"
#include "tube.h"

static struct tube ctrl = {.fd = 3}, mem = {.fd = 4};
static uint32_t last_slot = UINT32_MAX;

static int answer_hello(void)
{
	uint8_t in[MSG_MAX_SIZE], out[MSG_MAX_SIZE];
	struct device_request q;
	struct device_response r = {.hdr.type = MSG_DEVICE_INFO};
	int fds[TUBE_MAX_FDS];
	unsigned int nfds;
	size_t len;

	if (tube_recv(&ctrl, in, sizeof(in), &len, fds, TUBE_MAX_FDS, &nfds, 5000) < 0 ||
	    msg_device_decode_request(in, len, nfds, &q) < 0 || q.hdr.type != MSG_DEVICE_HELLO)
		return -1;
	r.info.device_type = 4;
	r.info.nqueues = 1;
	r.info.features = 1ULL << 32;
	r.info.queue_max[0] = 256;
	r.info.shm_size_mib = 2; /* a 2 MiB shared memory window */
	if (msg_device_encode_response(&r, 0, out, sizeof(out), &len) < 0)
		return -1;
	return tube_send(&ctrl, out, len, NULL, 0);
}

/* Sends one raw message on the mem tube and prints main's status. */
static void ask_raw(const char *what, const void *msg, size_t len, const int *fds, unsigned int n)
{
	uint8_t in[MSG_MAX_SIZE];
	struct vm_memory_response r;
	size_t rlen;
	int ret = tube_call(&mem, msg, len, fds, n, in, sizeof(in), &rlen, 5000);

	if (ret == 0)
		ret = msg_vm_memory_decode_response(in, rlen, 0, &r);
	if (ret == 0 && r.hdr.type == MSG_VM_MEMORY_RESPONSE)
		ret = r.status.status;
	if (ret == 0 && r.hdr.type == MSG_VM_MEMORY_REGISTERED) {
		last_slot = r.registered.slot;
		fprintf(stderr, "evil: %s status 0 slot %u\n", what, last_slot);
		return;
	}
	fprintf(stderr, "evil: %s status %d\n", what, ret);
}

static void ask(const char *what, struct vm_memory_request *q, const int *fds, unsigned int n)
{
	uint8_t out[MSG_MAX_SIZE];
	size_t len;

	if (msg_vm_memory_encode_request(q, n, out, sizeof(out), &len) < 0) {
		fprintf(stderr, "evil: %s cannot encode\n", what);
		return;
	}
	ask_raw(what, out, len, fds, n);
}

static void free_range(const char *what, uint64_t gpa, uint64_t len)
{
	struct vm_memory_request q = {.hdr.type = MSG_VM_MEMORY_FREE_RANGES};

	q.ranges.nranges = 1;
	q.ranges.ranges[0].gpa = gpa;
	q.ranges.ranges[0].len = len;
	ask(what, &q, NULL, 0);
}

static void prepare(const char *what, uint32_t shmid, uint64_t size)
{
	struct vm_memory_request q = {.hdr.type = MSG_VM_MEMORY_PREPARE_SHARED_REGION};

	q.prepare.shmid = shmid;
	q.prepare.size = size;
	ask(what, &q, NULL, 0);
}

static void reg(const char *what, uint32_t type, uint64_t dest, int fd)
{
	struct vm_memory_request q = {.hdr.type = type};

	if (type == MSG_VM_MEMORY_REGISTER) {
		q.reg.dest = dest;
		q.reg.size = 65536;
		q.reg.prot = MSG_VM_MEMORY_PROT_READ | MSG_VM_MEMORY_PROT_WRITE;
	} else {
		q.mmap.dest = dest;
		q.mmap.size = 65536;
		q.mmap.prot = MSG_VM_MEMORY_PROT_READ;
	}
	ask(what, &q, &fd, 1);
}

static void unreg(const char *what, uint32_t slot)
{
	struct vm_memory_request q = {.hdr.type = MSG_VM_MEMORY_UNREGISTER};

	q.unregister.slot = slot;
	ask(what, &q, NULL, 0);
}

/* The shared memory window main gave us: what is ours works, the rest is refused. */
static void window(int not_memory)
{
	int fd = memfd_create("evil-shm", MFD_CLOEXEC);
	uint32_t mine;

	if (fd < 0 || ftruncate(fd, 65536) < 0) {
		fprintf(stderr, "evil: no memfd\n");
		return;
	}
	prepare("prepare-window", 0, 1 << 20);
	prepare("prepare-other-window", 1, 1 << 20);
	prepare("prepare-too-big", 0, 4 << 20);
	reg("register-window", MSG_VM_MEMORY_REGISTER, 0, fd);
	mine = last_slot;
	reg("register-overlap", MSG_VM_MEMORY_REGISTER, 0, fd);
	reg("register-outside", MSG_VM_MEMORY_REGISTER, 2 << 20, fd);
	reg("register-not-memory", MSG_VM_MEMORY_REGISTER, 1 << 20, not_memory);
	reg("mmap-register-window", MSG_VM_MEMORY_MMAP_AND_REGISTER, 1 << 20, fd);
	unreg("unregister-guest-ram", 0);
	unreg("unregister-unknown", 4000);
	unreg("unregister-own", mine);
	close(fd);
}

int main(void)
{
	struct vm_memory_request q;
	uint8_t junk[40];
	int efd = eventfd(0, EFD_CLOEXEC);

	if (answer_hello() < 0) {
		fprintf(stderr, "evil: no hello\n");
		return 1;
	}
	free_range("free-lapic", 0xfee00000ULL, 4096);
	free_range("free-past-ram", 1ULL << 40, 4096);
	free_range("free-in-ram", 32ULL << 20, 4096);
	memset(&q, 0, sizeof(q));
	q.hdr.type = MSG_VM_MEMORY_IOEVENT_RAW;
	q.ioevent.addr = 0xfec00000ULL; /* the IOAPIC: not a notify address of ours */
	q.ioevent.len = 4;
	q.ioevent.assign = 1;
	ask("ioevent-foreign", &q, &efd, 1);
	window(efd);
	memset(junk, 0xa5, sizeof(junk));
	ask_raw("garbage", junk, sizeof(junk), NULL, 0);
	fprintf(stderr, "evil: done\n");
	/* Stay until main goes away (its parent-death signal is not set: main must kill us). */
	for (;;)
		pause();
}
