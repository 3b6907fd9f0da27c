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
#include <unistd.h>

#include "msg_device.h"
#include "msg_vm_memory.h"
#include "tube.h"

static struct tube ctrl = {.fd = 3}, mem = {.fd = 4};

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
	memset(&q, 0, sizeof(q));
	q.hdr.type = MSG_VM_MEMORY_PREPARE_SHARED_REGION;
	q.prepare.size = 1 << 20;
	ask("prepare-window", &q, NULL, 0);
	memset(junk, 0xa5, sizeof(junk));
	ask_raw("garbage", junk, sizeof(junk), NULL, 0);
	fprintf(stderr, "evil: done\n");
	/* Stay until main goes away (its parent-death signal is not set: main must kill us). */
	for (;;)
		pause();
}
