/* msg_vm: control socket codecs. Round trips of every type, then each way a message is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg_vm.h"
#include "util.h"

TestSuite(msg_vm);

static const uint32_t request_types[] = {
    MSG_VM_EXIT,
    MSG_VM_SUSPEND_VCPUS,
    MSG_VM_RESUME_VCPUS,
    MSG_VM_SUSPEND_VM,
    MSG_VM_RESUME_VM,
    MSG_VM_BALLOON,
    MSG_VM_DISK,
    MSG_VM_HOTPLUG_NET,
    MSG_VM_REGISTER_LISTENER,
    MSG_VM_UNREGISTER_LISTENER,
    MSG_VM_UNREGISTER,
    MSG_VM_VCPU_PID_TID,
    MSG_VM_POWERBTN,
    MSG_VM_SLEEPBTN,
    MSG_VM_GPE,
    MSG_VM_SNAPSHOT,
    MSG_VM_SWAP,
    MSG_VM_MAKE_RT,
    MSG_VM_STATUS,
    MSG_VM_CTRL_ALT_DEL,
};

static const uint32_t response_types[] = {
    MSG_VM_RESP_OK,	     MSG_VM_RESP_ERR, MSG_VM_RESP_VCPU_PID_TID, MSG_VM_RESP_BALLOON_STATS,
    MSG_VM_RESP_SWAP_STATUS, MSG_VM_RESP_STATUS, MSG_VM_EVENT, MSG_VM_RESP_HOTPLUG_NET,
};

#define SOCK "/run/vmm/events.sock"

static void set_str(char *dst, size_t size, const char *s)
{
	cr_assert_eq(msg_set_str(dst, size, s), 0);
}

static void sample_request(uint32_t type, struct vm_request *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	switch (type) {
	case MSG_VM_BALLOON:
		m->balloon.target = MIB(512);
		break;
	case MSG_VM_DISK:
		m->disk =
		    (struct msg_vm_disk){.index = 1, .op = MSG_VM_DISK_RESIZE, .size = GIB(8)};
		break;
	case MSG_VM_HOTPLUG_NET:
		/* REMOVE: no fd, like every other sample (ADD is tested on its own) */
		m->hotplug_net.op = MSG_VM_NET_REMOVE;
		m->hotplug_net.flags = MSG_VM_NET_FORCE;
		set_str(m->hotplug_net.tap, sizeof(m->hotplug_net.tap), "tap0");
		break;
	case MSG_VM_REGISTER_LISTENER:
		m->listener.events = MSG_VM_EVENT_ALL;
		set_str(m->listener.path, sizeof(m->listener.path), SOCK);
		break;
	case MSG_VM_UNREGISTER_LISTENER:
		m->listener.events = MSG_VM_EVENT_BALLOON_RESIZE;
		set_str(m->listener.path, sizeof(m->listener.path), SOCK);
		break;
	case MSG_VM_UNREGISTER:
		set_str(m->unregister.path, sizeof(m->unregister.path), SOCK);
		break;
	case MSG_VM_GPE:
		m->gpe.gpe = 9;
		break;
	case MSG_VM_SNAPSHOT:
		m->snapshot.flags = MSG_VM_SNAPSHOT_COMPRESS;
		set_str(m->snapshot.path, sizeof(m->snapshot.path), "/var/tmp/vm.snap");
		break;
	case MSG_VM_SWAP:
		m->swap.op = MSG_VM_SWAP_TRIM;
		break;
	}
}

static void sample_response(uint32_t type, struct vm_response *m)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	switch (type) {
	case MSG_VM_RESP_ERR:
		m->err.error = -ENOENT;
		set_str(m->err.message, sizeof(m->err.message), "no disk 3");
		break;
	case MSG_VM_RESP_VCPU_PID_TID:
		m->pid_tid.pid = 100;
		m->pid_tid.nvcpus = 4;
		for (i = 0; i < 4; i++)
			m->pid_tid.tids[i] = 101 + i;
		break;
	case MSG_VM_RESP_BALLOON_STATS:
		m->balloon_stats.actual = MIB(64);
		m->balloon_stats.valid = 0x3f;
		for (i = 0; i < 6; i++)
			m->balloon_stats.stats[i] = 1000 + i;
		break;
	case MSG_VM_RESP_SWAP_STATUS:
		m->swap_status = (struct msg_vm_swap_status){
		    .state = MSG_VM_SWAP_ACTIVE, .resident_bytes = MIB(1), .swapped_bytes = MIB(2)};
		break;
	case MSG_VM_RESP_STATUS:
		set_str(m->status.name, sizeof(m->status.name), "web-1");
		m->status.state = MSG_VM_STATE_VCPUS_SUSPENDED;
		m->status.pid = 4121;
		m->status.uptime_ms = 12345;
		m->status.memory_bytes = MIB(512);
		m->status.nvcpus = 2;
		m->status.ndevices = 2;
		set_str(m->status.devices[0].name, MSG_VM_DEVICE_NAME, "blk0");
		set_str(m->status.devices[0].type, MSG_VM_DEVICE_NAME, "block");
		m->status.devices[0].pid = 4125;
		m->status.devices[0].flags = MSG_VM_DEV_JAILED | MSG_VM_DEV_ALIVE | MSG_VM_DEV_DRIVER_OK;
		m->status.devices[0].features = 0x130000246;
		m->status.devices[0].pci_addr = MSG_VM_PCI_ADDR(0, 1);
		m->status.devices[0].virtio_type = 2;
		set_str(m->status.devices[1].name, MSG_VM_DEVICE_NAME, "rng0");
		set_str(m->status.devices[1].type, MSG_VM_DEVICE_NAME, "rng");
		m->status.devices[1].flags = MSG_VM_DEV_JAILED;
		m->status.devices[1].pci_addr = MSG_VM_PCI_ADDR(2, 0);
		m->status.devices[1].virtio_type = 4;
		set_str(m->status.devices[1].backend, MSG_VM_DEVICE_NAME, "tap0");
		break;
	case MSG_VM_RESP_HOTPLUG_NET:
		set_str(m->hotplug_net_done.device, MSG_VM_DEVICE_NAME, "net1");
		m->hotplug_net_done.pci_addr = MSG_VM_PCI_ADDR(3, 0);
		break;
	case MSG_VM_EVENT:
		m->event.event = MSG_VM_EVENT_DEVICE_EXIT;
		m->event.time_ms = 999;
		set_str(m->event.device, sizeof(m->event.device), "rng0");
		m->event.pid = 4126;
		m->event.status = -9;
		set_str(m->event.text, sizeof(m->event.text), "killed by signal 9");
		break;
	}
}

static size_t encode_request(uint32_t type, uint8_t *wire)
{
	struct vm_request m;
	size_t len;

	sample_request(type, &m);
	cr_assert_eq(msg_vm_encode_request(&m, 0, wire, MSG_MAX_SIZE, &len), 0, "%s",
		     msg_vm_name(type));
	return len;
}

static size_t encode_response(uint32_t type, uint8_t *wire)
{
	struct vm_response m;
	size_t len;

	sample_response(type, &m);
	cr_assert_eq(msg_vm_encode_response(&m, 0, wire, MSG_MAX_SIZE, &len), 0, "%s",
		     msg_vm_name(type));
	return len;
}

static void put_le(uint8_t *p, uint64_t v, size_t width)
{
	size_t i;

	for (i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Decodes a valid request's wire bytes with the field at off overwritten: a hostile client. */
static int request_patched(uint32_t type, size_t off, size_t width, uint64_t v)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct vm_request out;
	size_t len = encode_request(type, wire);

	cr_assert_leq(off + width, len);
	put_le(wire + off, v, width);
	return msg_vm_decode_request(wire, len, 0, &out);
}

static int response_patched(uint32_t type, size_t off, size_t width, uint64_t v)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct vm_response out;
	size_t len = encode_response(type, wire);

	cr_assert_leq(off + width, len);
	put_le(wire + off, v, width);
	return msg_vm_decode_response(wire, len, 0, &out);
}

/* A string field filled to its last byte: no NUL anywhere. */
static int request_unterminated(uint32_t type, size_t off, size_t size)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct vm_request out;
	size_t len = encode_request(type, wire);

	memset(wire + off, 'a', size);
	return msg_vm_decode_request(wire, len, 0, &out);
}

/* offset and width of a field: in-memory and wire layouts are the same (msg.h) */
#define REQ(f) offsetof(struct vm_request, f), sizeof(((struct vm_request *)0)->f)
#define RESP(f) offsetof(struct vm_response, f), sizeof(((struct vm_response *)0)->f)

Test(msg_vm, round_trips_every_request)
{
	struct vm_request m, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		sample_request(request_types[i], &m);
		cr_assert_eq(msg_vm_encode_request(&m, 0, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_vm_decode_request(wire, len, 0, &out), 0, "%s",
			     msg_vm_name(request_types[i]));
		m.hdr.size = (uint32_t)len;
		cr_assert_eq(memcmp(&m, &out, sizeof(m)), 0, "%s", msg_vm_name(m.hdr.type));
	}
}

Test(msg_vm, round_trips_every_response)
{
	struct vm_response m, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(response_types); i++) {
		sample_response(response_types[i], &m);
		cr_assert_eq(msg_vm_encode_response(&m, 0, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_vm_decode_response(wire, len, 0, &out), 0, "%s",
			     msg_vm_name(response_types[i]));
		m.hdr.size = (uint32_t)len;
		cr_assert_eq(memcmp(&m, &out, sizeof(m)), 0, "%s", msg_vm_name(m.hdr.type));
	}
}

Test(msg_vm, wire_is_little_endian_and_sized_per_type)
{
	static const uint8_t disk[] = {0x07, 0x03, 0, 0, 24, 0, 0, 0, 1, 0, 0, 0,
				       0,    0,	   0, 0, 0,  0, 0, 0, 2, 0, 0, 0};
	uint8_t wire[MSG_MAX_SIZE];

	cr_assert_eq(encode_request(MSG_VM_DISK, wire), sizeof(disk));
	cr_assert_arr_eq(wire, disk, sizeof(disk), "8 GiB is 2 << 32");
	cr_assert_eq(encode_request(MSG_VM_EXIT, wire), 8);
	cr_assert_eq(encode_request(MSG_VM_REGISTER_LISTENER, wire), 8 + 116);
	cr_assert_eq(encode_request(MSG_VM_SNAPSHOT, wire), 8 + 264);
	cr_assert_eq(encode_response(MSG_VM_RESP_ERR, wire), 8 + 136);
	cr_assert_eq(encode_response(MSG_VM_RESP_VCPU_PID_TID, wire), 8 + 1032);
}

Test(msg_vm, rejects_wrong_size)
{
	uint8_t wire[MSG_MAX_SIZE + 1];
	struct vm_request out;
	struct vm_response resp;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		len = encode_request(request_types[i], wire);
		put_le(wire + 4, len - 1, 4);
		cr_assert_eq(msg_vm_decode_request(wire, len - 1, 0, &out), -EBADMSG);
		wire[len] = 0;
		put_le(wire + 4, len + 1, 4);
		cr_assert_eq(msg_vm_decode_request(wire, len + 1, 0, &out), -EBADMSG);
		cr_assert_eq(msg_vm_decode_request(wire, len, 0, &out), -EBADMSG);
	}
	for (i = 0; i < ARRAY_SIZE(response_types); i++) {
		len = encode_response(response_types[i], wire);
		cr_assert_eq(msg_vm_decode_response(wire, len - 1, 0, &resp), -EBADMSG);
	}
}

Test(msg_vm, rejects_unknown_type)
{
	static const uint32_t bad[] = {0, 0x0300, 0x0315, 0x0201, MSG_VM_RESP_OK, 0x80000301};
	struct vm_request out;
	struct vm_response resp;
	uint8_t wire[MSG_MAX_SIZE];
	size_t i, len = encode_request(MSG_VM_EXIT, wire);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		put_le(wire, bad[i], 4);
		cr_assert_eq(msg_vm_decode_request(wire, len, 0, &out), -ENOMSG, "%#x", bad[i]);
	}
	put_le(wire, MSG_VM_EXIT, 4);
	cr_assert_eq(msg_vm_decode_response(wire, len, 0, &resp), -ENOMSG);
}

Test(msg_vm, rejects_any_fd)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct vm_request out;
	struct vm_response resp;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		len = encode_request(request_types[i], wire);
		cr_assert_eq(msg_vm_decode_request(wire, len, 1, &out), -EPROTO);
	}
	for (i = 0; i < ARRAY_SIZE(response_types); i++) {
		len = encode_response(response_types[i], wire);
		cr_assert_eq(msg_vm_decode_response(wire, len, 2, &resp), -EPROTO);
	}
}

Test(msg_vm, rejects_requests_out_of_range)
{
	cr_assert_eq(request_patched(MSG_VM_BALLOON, REQ(balloon.op), 2), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_BALLOON, REQ(balloon.target), 0x800), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_BALLOON, REQ(balloon.op), MSG_VM_BALLOON_STATS),
		     -ERANGE, "STATS names no target");
	cr_assert_eq(request_patched(MSG_VM_DISK, REQ(disk.index), MSG_VM_MAX_DISKS), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_DISK, REQ(disk.op), 2), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_DISK, REQ(disk.op), MSG_VM_DISK_RESIZE_SHRINK), 0);
	cr_assert_eq(request_patched(MSG_VM_DISK, REQ(disk.size), 0), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_DISK, REQ(disk.size), 1000), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_HOTPLUG_NET, REQ(hotplug_net.op), 2), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_HOTPLUG_NET, REQ(hotplug_net.flags), 2), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_HOTPLUG_NET, REQ(hotplug_net.flags), 0), 0);
	cr_assert_eq(request_patched(MSG_VM_HOTPLUG_NET, REQ(hotplug_net.op), MSG_VM_NET_ADD),
		     -ERANGE, "ADD takes no flags");
	cr_assert_eq(request_patched(MSG_VM_REGISTER_LISTENER, REQ(listener.events), 0), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_UNREGISTER_LISTENER, REQ(listener.events), 0x80),
		     -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_GPE, REQ(gpe.gpe), MSG_VM_GPE_MAX + 1), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_SNAPSHOT, REQ(snapshot.op), 2), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_SNAPSHOT, REQ(snapshot.flags), 2), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_SWAP, REQ(swap.op), MSG_VM_SWAP_STATUS + 1), -ERANGE);
}

Test(msg_vm, rejects_status_and_events_out_of_range)
{
	cr_assert_eq(response_patched(MSG_VM_RESP_HOTPLUG_NET, RESP(hotplug_net_done.pci_addr),
				      0x10000), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_HOTPLUG_NET, RESP(hotplug_net_done.pad), 1),
		     -EBADMSG);
	cr_assert_eq(response_patched(MSG_VM_RESP_STATUS, RESP(status.state), 4), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_STATUS, RESP(status.pid), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_STATUS, RESP(status.nvcpus), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_STATUS, RESP(status.ndevices),
				      MSG_VM_MAX_DEVICES + 1),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_STATUS, RESP(status.ndevices), 1), -EBADMSG,
		     "a device after ndevices");
	cr_assert_eq(response_patched(MSG_VM_RESP_STATUS, RESP(status.devices[1].flags), 0x10),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_STATUS, RESP(status.name[63]), 'x'), -EBADMSG,
		     "a name without its NUL");
	cr_assert_eq(response_patched(MSG_VM_EVENT, RESP(event.event), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_EVENT, RESP(event.event), 0x3), -ERANGE,
		     "two events in one");
	cr_assert_eq(response_patched(MSG_VM_EVENT, RESP(event.event), 0x80), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_EVENT, RESP(event.pad), 1), -EBADMSG);
}

Test(msg_vm, rejects_responses_out_of_range)
{
	cr_assert_eq(response_patched(MSG_VM_RESP_ERR, RESP(err.error), 0), -ERANGE,
		     "an error with no errno");
	cr_assert_eq(response_patched(MSG_VM_RESP_ERR, RESP(err.error), 1), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_ERR, RESP(err.error), (uint32_t)-4096), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_VCPU_PID_TID, RESP(pid_tid.pid), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_VCPU_PID_TID, RESP(pid_tid.nvcpus), 0), -ERANGE);
	cr_assert_eq(
	    response_patched(MSG_VM_RESP_VCPU_PID_TID, RESP(pid_tid.nvcpus), MSG_VM_MAX_VCPUS + 1),
	    -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_VCPU_PID_TID, RESP(pid_tid.tids[3]), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_BALLOON_STATS, RESP(balloon_stats.valid), 0x400),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_RESP_SWAP_STATUS, RESP(swap_status.state), 5),
		     -ERANGE);
}

Test(msg_vm, rejects_unterminated_strings)
{
	cr_assert_eq(request_unterminated(MSG_VM_HOTPLUG_NET, REQ(hotplug_net.tap)), -EBADMSG);
	cr_assert_eq(request_unterminated(MSG_VM_REGISTER_LISTENER, REQ(listener.path)), -EBADMSG);
	cr_assert_eq(request_unterminated(MSG_VM_UNREGISTER_LISTENER, REQ(listener.path)),
		     -EBADMSG);
	cr_assert_eq(request_unterminated(MSG_VM_UNREGISTER, REQ(unregister.path)), -EBADMSG);
	cr_assert_eq(request_unterminated(MSG_VM_SNAPSHOT, REQ(snapshot.path)), -EBADMSG);
}

Test(msg_vm, rejects_bytes_after_the_nul)
{
	cr_assert_eq(request_patched(MSG_VM_HOTPLUG_NET,
				     offsetof(struct vm_request, hotplug_net.tap[15]), 1, 'x'),
		     -EBADMSG);
	cr_assert_eq(request_patched(MSG_VM_UNREGISTER,
				     offsetof(struct vm_request, unregister.path[100]), 1, 'x'),
		     -EBADMSG);
	cr_assert_eq(response_patched(MSG_VM_RESP_ERR,
				      offsetof(struct vm_response, err.message[127]), 1, 'x'),
		     -EBADMSG);
}

Test(msg_vm, rejects_nonzero_padding)
{
	cr_assert_eq(request_patched(MSG_VM_BALLOON, REQ(balloon.pad), 1), -EBADMSG);
	cr_assert_eq(request_patched(MSG_VM_REGISTER_LISTENER, REQ(listener.pad), 1), -EBADMSG);
	cr_assert_eq(request_patched(MSG_VM_GPE, REQ(gpe.pad), 1), -EBADMSG);
	cr_assert_eq(request_patched(MSG_VM_SWAP, REQ(swap.pad), 1), -EBADMSG);
	cr_assert_eq(response_patched(MSG_VM_RESP_ERR, RESP(err.pad), 1), -EBADMSG);
	cr_assert_eq(response_patched(MSG_VM_RESP_VCPU_PID_TID, RESP(pid_tid.tids[4]), 105),
		     -EBADMSG, "a tid past nvcpus");
	cr_assert_eq(response_patched(MSG_VM_RESP_BALLOON_STATS, RESP(balloon_stats.pad), 1),
		     -EBADMSG);
	cr_assert_eq(response_patched(MSG_VM_RESP_BALLOON_STATS, RESP(balloon_stats.stats[9]), 1),
		     -EBADMSG, "a stat not marked valid");
	cr_assert_eq(response_patched(MSG_VM_RESP_SWAP_STATUS, RESP(swap_status.pad), 1), -EBADMSG);
}

Test(msg_vm, encoder_refuses_empty_names)
{
	struct vm_request m;
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	sample_request(MSG_VM_UNREGISTER, &m);
	memset(m.unregister.path, 0, sizeof(m.unregister.path));
	cr_assert_eq(msg_vm_encode_request(&m, 0, wire, sizeof(wire), &len), -ERANGE);
	sample_request(MSG_VM_HOTPLUG_NET, &m);
	memset(m.hotplug_net.tap, 0, sizeof(m.hotplug_net.tap));
	cr_assert_eq(msg_vm_encode_request(&m, 0, wire, sizeof(wire), &len), -ERANGE);
	sample_request(MSG_VM_HOTPLUG_NET, &m);
	cr_assert_eq(msg_vm_encode_request(&m, 0, wire, sizeof(wire), &len), 0);
	cr_assert_eq(msg_vm_encode_request(&m, 0, wire, 23, &len), -EMSGSIZE);
	cr_assert_eq(msg_vm_encode_request(&m, 1, wire, sizeof(wire), &len), -EPROTO);
}

Test(msg_vm, hotplug_net_add_carries_the_tap)
{
	struct vm_request m = {.hdr.type = MSG_VM_HOTPLUG_NET}, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	m.hotplug_net.op = MSG_VM_NET_ADD;
	set_str(m.hotplug_net.tap, sizeof(m.hotplug_net.tap), "tap1");
	cr_assert_eq(msg_vm_encode_request(&m, 0, wire, sizeof(wire), &len), -EPROTO);
	cr_assert_eq(msg_vm_encode_request(&m, 1, wire, sizeof(wire), &len), 0);
	cr_assert_eq(msg_vm_decode_request(wire, len, 0, &out), -EPROTO, "ADD without its tap");
	cr_assert_eq(msg_vm_decode_request(wire, len, 2, &out), -EPROTO);
	cr_assert_eq(msg_vm_decode_request(wire, len, 1, &out), 0);
	cr_assert_str_eq(out.hotplug_net.tap, "tap1");
	cr_assert_eq(out.hotplug_net.op, MSG_VM_NET_ADD);
	m.hotplug_net.op = MSG_VM_NET_REMOVE;
	cr_assert_eq(msg_vm_encode_request(&m, 1, wire, sizeof(wire), &len), -EPROTO,
		     "REMOVE carries no fd");
}

Test(msg_vm, set_str_refuses_what_does_not_fit)
{
	char tap[MSG_VM_IFNAMSIZ];

	cr_assert_eq(msg_set_str(tap, sizeof(tap), "0123456789abcde"), 0);
	cr_assert_eq(msg_check_str(tap, sizeof(tap)), 0);
	cr_assert_eq(msg_set_str(tap, sizeof(tap), "0123456789abcdef"), -ENAMETOOLONG);
}

Test(msg_vm, error_builds_the_err_response)
{
	char longer[300];
	struct vm_response r, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	msg_vm_error(&r, -ENOENT, "no disk %d", 3);
	cr_assert_eq(msg_vm_encode_response(&r, 0, wire, sizeof(wire), &len), 0);
	cr_assert_eq(msg_vm_decode_response(wire, len, 0, &out), 0);
	cr_assert_eq(out.hdr.type, MSG_VM_RESP_ERR);
	cr_assert_eq(out.err.error, -ENOENT);
	cr_assert_str_eq(out.err.message, "no disk 3");

	memset(longer, 'm', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	msg_vm_error(&r, 0, "%s", longer);
	cr_assert_eq(msg_vm_encode_response(&r, 0, wire, sizeof(wire), &len), 0, "cut to fit");
	cr_assert_eq(r.err.error, -EIO, "an error reply always carries an errno");
	cr_assert_eq(strlen(r.err.message), MSG_VM_ERR_MESSAGE - 1);
	msg_vm_error(&r, 77777, "x");
	cr_assert_eq(r.err.error, -EIO);
}

Test(msg_vm, names_types)
{
	cr_assert_str_eq(msg_vm_name(MSG_VM_HOTPLUG_NET), "HOTPLUG_NET");
	cr_assert_str_eq(msg_vm_name(MSG_VM_RESP_SWAP_STATUS), "SWAP_STATUS");
	cr_assert_str_eq(msg_vm_name(MSG_VM_RESP_STATUS), "STATUS");
	cr_assert_str_eq(msg_vm_name(MSG_VM_RESP_HOTPLUG_NET + 1), "unknown");
}

Test(msg_vm, survives_random_bodies)
{
	uint8_t wire[MSG_MAX_SIZE], valid[MSG_MAX_SIZE];
	struct vm_request out;
	struct vm_response resp;
	unsigned int seed = 3, i;
	uint32_t type;
	size_t j, len;
	int ret;

	for (i = 0; i < 20000; i++) {
		type = i % 4 < 2 ? request_types[i % ARRAY_SIZE(request_types)]
				 : response_types[i % ARRAY_SIZE(response_types)];
		len = i % 2
			  ? (i % 4 < 2 ? encode_request(type, valid) : encode_response(type, valid))
			  : (size_t)rand_r(&seed) % 1100;
		for (j = 0; j < len; j++)
			wire[j] = (uint8_t)rand_r(&seed);
		if (len >= 8) {
			put_le(wire, type, 4);
			put_le(wire + 4, len, 4);
		}
		ret = msg_vm_decode_request(wire, len, 0, &out);
		cr_assert(ret == 0 || ret == -EBADMSG || ret == -ENOMSG || ret == -ERANGE);
		ret = msg_vm_decode_response(wire, len, 0, &resp);
		cr_assert(ret == 0 || ret == -EBADMSG || ret == -ENOMSG || ret == -ERANGE);
	}
}
