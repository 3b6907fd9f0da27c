/*
 * Writes the fuzz targets' seed corpus: one valid encoding of every message type, prefixed with
 * its fd count as the targets read it, to DIR/<catalogue>/<type name>.
 *
 * usage: fuzz_seeds DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "msg_device.h"
#include "msg_vm.h"
#include "msg_vm_memory.h"

static const char *out_dir;

static void put(const char *cat, const char *name, unsigned int nfds, const void *wire, size_t len)
{
	char path[4096];
	uint8_t n = (uint8_t)nfds;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, cat);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, cat, name);
	f = fopen(path, "wb");
	if (!f || fwrite(&n, 1, 1, f) != 1 || fwrite(wire, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void check(int ret, const char *name)
{
	if (ret < 0) {
		fprintf(stderr, "fuzz_seeds: encoding %s: %s\n", name, strerror(-ret));
		exit(1);
	}
}

static void device_req(struct device_request *m, unsigned int nfds, const char *name)
{
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	check(msg_device_encode_request(m, nfds, wire, sizeof(wire), &len), name);
	put("device", name, nfds, wire, len);
	memset(m, 0, sizeof(*m));
}

/* Every array full: one mutation of a count then reaches past it. */
static void device_activate_full(void)
{
	struct device_request q = {.hdr.type = MSG_DEVICE_ACTIVATE};
	struct msg_device_activate *a = &q.activate;
	uint32_t i;

	a->nregions = MSG_DEVICE_MAX_REGIONS;
	a->nqueues = MSG_DEVICE_MAX_QUEUES;
	a->nfds = MSG_DEVICE_MAX_FDS;
	a->mem_fd = MSG_DEVICE_MAX_FDS - 1;
	a->config_irq_fd = MSG_DEVICE_MAX_FDS - 2;
	for (i = 0; i < MSG_DEVICE_MAX_REGIONS; i++)
		a->regions[i] = (struct msg_device_region){
		    .gpa = (uint64_t)i << 32, .size = 1 << 20, .offset = (uint64_t)i << 20};
	for (i = 0; i < MSG_DEVICE_MAX_QUEUES; i++)
		a->queues[i] = (struct msg_device_queue){.desc = 0x100000 + i * 0x10000,
							 .avail = 0x104000 + i * 0x10000,
							 .used = 0x108000 + i * 0x10000,
							 .size = 256,
							 .enabled = 1,
							 .kick_fd = 2 * i,
							 .irq_fd = 2 * i + 1};
	device_req(&q, MSG_DEVICE_MAX_FDS, "ACTIVATE_FULL");
}

static void device_resp(struct device_response *m)
{
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	check(msg_device_encode_response(m, 0, wire, sizeof(wire), &len),
	      msg_device_name(m->hdr.type));
	put("device", msg_device_name(m->hdr.type), 0, wire, len);
	memset(m, 0, sizeof(*m));
}

static void device_seeds(void)
{
	static const uint32_t bare[] = {MSG_DEVICE_HELLO, MSG_DEVICE_RESET, MSG_DEVICE_SLEEP,
					MSG_DEVICE_WAKE, MSG_DEVICE_SHUTDOWN};
	struct device_request q = {0};
	struct device_response r = {0};
	size_t i;

	for (i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		q.hdr.type = bare[i];
		device_req(&q, 0, msg_device_name(q.hdr.type));
	}
	q.hdr.type = MSG_DEVICE_CONFIG_READ;
	q.config_read = (struct msg_device_config_read){.offset = 4, .len = 4};
	device_req(&q, 0, msg_device_name(q.hdr.type));
	q.hdr.type = MSG_DEVICE_CONFIG_WRITE;
	q.config_write.offset = 8;
	q.config_write.len = 2;
	q.config_write.data[0] = 0x12;
	q.config_write.data[1] = 0x34;
	device_req(&q, 0, msg_device_name(q.hdr.type));
	q.hdr.type = MSG_DEVICE_ACTIVATE;
	q.activate.features = 1ULL << 32;
	q.activate.nregions = 1;
	q.activate.nqueues = 1;
	q.activate.nfds = 3;
	q.activate.mem_fd = MSG_FD_NONE;
	q.activate.config_irq_fd = 2;
	q.activate.regions[0] = (struct msg_device_region){.gpa = 0, .size = 1 << 20, .offset = 0};
	q.activate.queues[0] = (struct msg_device_queue){.desc = 0x1000,
							 .avail = 0x2000,
							 .used = 0x3000,
							 .size = 256,
							 .enabled = 1,
							 .kick_fd = 0,
							 .irq_fd = 1};
	device_req(&q, 3, "ACTIVATE");
	device_activate_full();

	r.hdr.type = MSG_DEVICE_INFO;
	r.info = (struct msg_device_info){
	    .device_type = 4, .nqueues = 1, .features = 1ULL << 32, .config_size = 0};
	r.info.queue_max[0] = 256;
	device_resp(&r);
	r.hdr.type = MSG_DEVICE_CONFIG_DATA;
	r.config_data.len = 4;
	memset(r.config_data.data, 0xab, 4);
	device_resp(&r);
	msg_device_status(&r, -EINVAL);
	device_resp(&r);
}

static void mem_req(struct vm_memory_request *m, unsigned int nfds, const char *name)
{
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	check(msg_vm_memory_encode_request(m, nfds, wire, sizeof(wire), &len), name);
	put("vm_memory", name, nfds, wire, len);
	memset(m, 0, sizeof(*m));
}

static void mem_resp(struct vm_memory_response *m)
{
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	check(msg_vm_memory_encode_response(m, 0, wire, sizeof(wire), &len),
	      msg_vm_memory_name(m->hdr.type));
	put("vm_memory", msg_vm_memory_name(m->hdr.type), 0, wire, len);
	memset(m, 0, sizeof(*m));
}

static void vm_memory_seeds(void)
{
	struct vm_memory_request q = {0};
	struct vm_memory_response r = {0};
	uint64_t i;

	q.hdr.type = MSG_VM_MEMORY_PREPARE_SHARED_REGION;
	q.prepare = (struct msg_vm_memory_prepare){.shmid = 1, .size = 1 << 20};
	mem_req(&q, 0, msg_vm_memory_name(q.hdr.type));
	q.hdr.type = MSG_VM_MEMORY_REGISTER;
	q.reg = (struct msg_vm_memory_register){
	    .dest = 0x1000, .size = 0x2000, .fd_offset = 0x3000, .shmid = 1, .prot = 3};
	mem_req(&q, 1, msg_vm_memory_name(q.hdr.type));
	q.hdr.type = MSG_VM_MEMORY_MMAP_AND_REGISTER;
	q.mmap = (struct msg_vm_memory_mmap){.dest = 0, .size = 0x1000, .shmid = 0, .prot = 1};
	mem_req(&q, 1, msg_vm_memory_name(q.hdr.type));
	q.hdr.type = MSG_VM_MEMORY_FREE_RANGES;
	q.ranges.nranges = 2;
	q.ranges.ranges[0] = (struct msg_vm_memory_range){.gpa = 0x100000, .len = 0x1000};
	q.ranges.ranges[1] = (struct msg_vm_memory_range){.gpa = 0x200000, .len = 0x3000};
	mem_req(&q, 0, msg_vm_memory_name(q.hdr.type));
	q.hdr.type = MSG_VM_MEMORY_FREE_RANGES;
	q.ranges.nranges = MSG_VM_MEMORY_MAX_RANGES;
	for (i = 0; i < MSG_VM_MEMORY_MAX_RANGES; i++)
		q.ranges.ranges[i] = (struct msg_vm_memory_range){.gpa = i << 21, .len = 0x1000};
	mem_req(&q, 0, "FREE_RANGES_FULL");
	q.hdr.type = MSG_VM_MEMORY_RECLAIM_RANGES;
	q.ranges.nranges = 1;
	q.ranges.ranges[0] = (struct msg_vm_memory_range){.gpa = 0x100000, .len = 0x1000};
	mem_req(&q, 0, msg_vm_memory_name(q.hdr.type));
	q.hdr.type = MSG_VM_MEMORY_BALLOON_TARGET_REACHED;
	q.balloon.bytes = 64 << 20;
	mem_req(&q, 0, msg_vm_memory_name(q.hdr.type));
	q.hdr.type = MSG_VM_MEMORY_UNREGISTER;
	q.unregister.slot = 7;
	mem_req(&q, 0, msg_vm_memory_name(q.hdr.type));
	q.hdr.type = MSG_VM_MEMORY_IOEVENT_RAW;
	q.ioevent = (struct msg_vm_memory_ioevent){
	    .addr = 0xfe003000, .datamatch = 1, .len = 2, .has_datamatch = 1, .assign = 1};
	mem_req(&q, 1, msg_vm_memory_name(q.hdr.type));

	msg_vm_memory_status(&r, -EPERM);
	mem_resp(&r);
	r.hdr.type = MSG_VM_MEMORY_REGISTERED;
	r.registered.slot = 7;
	mem_resp(&r);
}

static void vm_req_named(struct vm_request *m, unsigned int nfds, const char *name)
{
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	check(msg_vm_encode_request(m, nfds, wire, sizeof(wire), &len), name);
	put("vm", name, nfds, wire, len);
	memset(m, 0, sizeof(*m));
}

static void vm_req(struct vm_request *m)
{
	vm_req_named(m, 0, msg_vm_name(m->hdr.type));
}

static void vm_resp(struct vm_response *m, const char *name)
{
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	check(msg_vm_encode_response(m, 0, wire, sizeof(wire), &len), name);
	put("vm", name, 0, wire, len);
	memset(m, 0, sizeof(*m));
}

static void vm_seeds(void)
{
	static const uint32_t bare[] = {
	    MSG_VM_EXIT,       MSG_VM_SUSPEND_VCPUS, MSG_VM_RESUME_VCPUS,
	    MSG_VM_SUSPEND_VM, MSG_VM_RESUME_VM,     MSG_VM_VCPU_PID_TID,
	    MSG_VM_POWERBTN,   MSG_VM_SLEEPBTN,	     MSG_VM_MAKE_RT,
	    MSG_VM_STATUS,     MSG_VM_CTRL_ALT_DEL};
	struct vm_request q = {0};
	struct vm_response r = {0};
	size_t i;

	for (i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		q.hdr.type = bare[i];
		vm_req(&q);
	}
	q.hdr.type = MSG_VM_BALLOON;
	q.balloon.target = 256 << 20;
	vm_req(&q);
	q.hdr.type = MSG_VM_DISK;
	q.disk = (struct msg_vm_disk){.index = 1, .op = MSG_VM_DISK_RESIZE, .size = 1 << 30};
	vm_req(&q);
	/* ADD carries the tap's fd; REMOVE none */
	q.hdr.type = MSG_VM_HOTPLUG_NET;
	q.hotplug_net.op = MSG_VM_NET_ADD;
	msg_set_str(q.hotplug_net.tap, sizeof(q.hotplug_net.tap), "tap0");
	vm_req_named(&q, 1, "HOTPLUG_NET_ADD");
	q.hdr.type = MSG_VM_HOTPLUG_NET;
	q.hotplug_net.op = MSG_VM_NET_REMOVE;
	q.hotplug_net.flags = MSG_VM_NET_FORCE;
	msg_set_str(q.hotplug_net.tap, sizeof(q.hotplug_net.tap), "tap0");
	vm_req_named(&q, 0, "HOTPLUG_NET_REMOVE");
	q.hdr.type = MSG_VM_REGISTER_LISTENER;
	q.listener.events = MSG_VM_EVENT_ALL;
	msg_set_str(q.listener.path, sizeof(q.listener.path), "/run/vmm/events.sock");
	vm_req(&q);
	q.hdr.type = MSG_VM_UNREGISTER_LISTENER;
	q.listener.events = MSG_VM_EVENT_BALLOON_RESIZE;
	msg_set_str(q.listener.path, sizeof(q.listener.path), "/run/vmm/events.sock");
	vm_req(&q);
	q.hdr.type = MSG_VM_UNREGISTER;
	msg_set_str(q.unregister.path, sizeof(q.unregister.path), "/run/vmm/events.sock");
	vm_req(&q);
	q.hdr.type = MSG_VM_GPE;
	q.gpe.gpe = 3;
	vm_req(&q);
	q.hdr.type = MSG_VM_SNAPSHOT;
	q.snapshot.flags = MSG_VM_SNAPSHOT_COMPRESS;
	msg_set_str(q.snapshot.path, sizeof(q.snapshot.path), "/var/tmp/vm.snap");
	vm_req(&q);
	q.hdr.type = MSG_VM_SWAP;
	q.swap.op = MSG_VM_SWAP_STATUS;
	vm_req(&q);

	r.hdr.type = MSG_VM_RESP_OK;
	vm_resp(&r, msg_vm_name(r.hdr.type));
	msg_vm_error(&r, -ENOENT, "no disk %d", 3);
	vm_resp(&r, msg_vm_name(r.hdr.type));
	r.hdr.type = MSG_VM_RESP_VCPU_PID_TID;
	r.pid_tid.pid = 100;
	r.pid_tid.nvcpus = 2;
	r.pid_tid.tids[0] = 101;
	r.pid_tid.tids[1] = 102;
	vm_resp(&r, msg_vm_name(r.hdr.type));
	r.hdr.type = MSG_VM_RESP_VCPU_PID_TID;
	r.pid_tid.pid = 100;
	r.pid_tid.nvcpus = MSG_VM_MAX_VCPUS;
	for (i = 0; i < MSG_VM_MAX_VCPUS; i++)
		r.pid_tid.tids[i] = 101 + i;
	vm_resp(&r, "VCPU_PID_TID_FULL");
	r.hdr.type = MSG_VM_RESP_BALLOON_STATS;
	r.balloon_stats.actual = 1 << 20;
	r.balloon_stats.valid = 0x30;
	r.balloon_stats.stats[4] = 100 << 20;
	r.balloon_stats.stats[5] = 512 << 20;
	vm_resp(&r, msg_vm_name(r.hdr.type));
	r.hdr.type = MSG_VM_RESP_SWAP_STATUS;
	r.swap_status = (struct msg_vm_swap_status){
	    .state = MSG_VM_SWAP_ACTIVE, .resident_bytes = 1 << 20, .swapped_bytes = 2 << 20};
	vm_resp(&r, msg_vm_name(r.hdr.type));
	r.hdr.type = MSG_VM_RESP_STATUS;
	msg_set_str(r.status.name, sizeof(r.status.name), "vm0");
	r.status.state = MSG_VM_STATE_RUNNING;
	r.status.pid = 100;
	r.status.uptime_ms = 5000;
	r.status.memory_bytes = 256 << 20;
	r.status.nvcpus = 1;
	r.status.ndevices = 1;
	msg_set_str(r.status.devices[0].name, sizeof(r.status.devices[0].name), "net0");
	msg_set_str(r.status.devices[0].type, sizeof(r.status.devices[0].type), "net");
	msg_set_str(r.status.devices[0].backend, sizeof(r.status.devices[0].backend), "tap0");
	r.status.devices[0].pid = 101;
	r.status.devices[0].flags = MSG_VM_DEV_JAILED | MSG_VM_DEV_ALIVE | MSG_VM_DEV_DRIVER_OK;
	r.status.devices[0].pci_addr = MSG_VM_PCI_ADDR(0, 2);
	r.status.devices[0].virtio_type = 1;
	vm_resp(&r, "RESP_STATUS");
	r.hdr.type = MSG_VM_RESP_HOTPLUG_NET;
	msg_set_str(r.hotplug_net_done.device, sizeof(r.hotplug_net_done.device), "net1");
	r.hotplug_net_done.pci_addr = MSG_VM_PCI_ADDR(1, 0);
	vm_resp(&r, "RESP_HOTPLUG_NET");
	r.hdr.type = MSG_VM_EVENT;
	r.event.event = MSG_VM_EVENT_NET_HOTPLUG;
	r.event.time_ms = 9000;
	msg_set_str(r.event.device, sizeof(r.event.device), "net1");
	r.event.value = 1;
	msg_set_str(r.event.text, sizeof(r.event.text), "tap1");
	vm_resp(&r, msg_vm_name(r.hdr.type));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST) {
		perror(out_dir);
		return 1;
	}
	device_seeds();
	vm_memory_seeds();
	vm_seeds();
	return 0;
}
