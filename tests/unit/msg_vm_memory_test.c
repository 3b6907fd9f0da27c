/* msg_vm_memory: mem tube codecs. Round trips of every type, then each way a message is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg_vm_memory.h"
#include "util.h"

TestSuite(msg_vm_memory);

static const uint32_t request_types[] = {
    MSG_VM_MEMORY_PREPARE_SHARED_REGION,
    MSG_VM_MEMORY_REGISTER,
    MSG_VM_MEMORY_MMAP_AND_REGISTER,
    MSG_VM_MEMORY_FREE_RANGES,
    MSG_VM_MEMORY_RECLAIM_RANGES,
    MSG_VM_MEMORY_BALLOON_TARGET_REACHED,
    MSG_VM_MEMORY_UNREGISTER,
    MSG_VM_MEMORY_IOEVENT_RAW,
    MSG_VM_MEMORY_NEEDS_RESET,
};

static const uint32_t response_types[] = {
    MSG_VM_MEMORY_RESPONSE,
    MSG_VM_MEMORY_REGISTERED,
};

/* Fills m with a valid request of type; returns the fd count it travels with. */
static unsigned int sample_request(uint32_t type, struct vm_memory_request *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	switch (type) {
	case MSG_VM_MEMORY_PREPARE_SHARED_REGION:
		m->prepare = (struct msg_vm_memory_prepare){
		    .shmid = 2, .cache = MSG_VM_MEMORY_CACHE_NONCOHERENT, .size = MIB(8)};
		return 0;
	case MSG_VM_MEMORY_REGISTER:
		m->reg = (struct msg_vm_memory_register){.dest = 0x1000,
							 .size = 0x2000,
							 .fd_offset = 0x3000,
							 .shmid = 2,
							 .prot = MSG_VM_MEMORY_PROT_READ};
		return 1;
	case MSG_VM_MEMORY_MMAP_AND_REGISTER:
		m->mmap = (struct msg_vm_memory_mmap){.dest = MIB(1),
						      .size = MIB(2),
						      .shmid = 0,
						      .prot = MSG_VM_MEMORY_PROT_READ |
							      MSG_VM_MEMORY_PROT_WRITE};
		return 1;
	case MSG_VM_MEMORY_FREE_RANGES:
	case MSG_VM_MEMORY_RECLAIM_RANGES:
		m->ranges.nranges = 3;
		m->ranges.ranges[0] = (struct msg_vm_memory_range){.gpa = MIB(1), .len = 0x1000};
		m->ranges.ranges[1] = (struct msg_vm_memory_range){.gpa = MIB(3), .len = MIB(1)};
		m->ranges.ranges[2] = (struct msg_vm_memory_range){.gpa = GIB(5), .len = 0x1000};
		return 0;
	case MSG_VM_MEMORY_BALLOON_TARGET_REACHED:
		m->balloon.bytes = MIB(256);
		return 0;
	case MSG_VM_MEMORY_UNREGISTER:
		m->unregister.slot = 9;
		return 0;
	case MSG_VM_MEMORY_IOEVENT_RAW:
		m->ioevent = (struct msg_vm_memory_ioevent){.addr = 0xfe003000,
							    .datamatch = 0x1234,
							    .len = 2,
							    .has_datamatch = 1,
							    .assign = 1};
		return 1;
	case MSG_VM_MEMORY_NEEDS_RESET:
		m->needs_reset.queue = 15;
		return 0;
	default:
		return 0;
	}
}

static void sample_response(uint32_t type, struct vm_memory_response *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	if (type == MSG_VM_MEMORY_RESPONSE)
		m->status.status = -EPERM;
	else
		m->registered.slot = 9;
}

static size_t encode_request(uint32_t type, uint8_t *wire, unsigned int *nfds)
{
	struct vm_memory_request m;
	size_t len;

	*nfds = sample_request(type, &m);
	cr_assert_eq(msg_vm_memory_encode_request(&m, *nfds, wire, MSG_MAX_SIZE, &len), 0, "%s",
		     msg_vm_memory_name(type));
	return len;
}

static size_t encode_response(uint32_t type, uint8_t *wire)
{
	struct vm_memory_response m;
	size_t len;

	sample_response(type, &m);
	cr_assert_eq(msg_vm_memory_encode_response(&m, 0, wire, MSG_MAX_SIZE, &len), 0);
	return len;
}

static void put_le(uint8_t *p, uint64_t v, size_t width)
{
	size_t i;

	for (i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Decodes a valid request's wire bytes with the field at off overwritten: a hostile device. */
static int request_patched(uint32_t type, size_t off, size_t width, uint64_t v)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct vm_memory_request out;
	unsigned int nfds;
	size_t len = encode_request(type, wire, &nfds);

	cr_assert_leq(off + width, len);
	put_le(wire + off, v, width);
	return msg_vm_memory_decode_request(wire, len, nfds, &out);
}

static int response_patched(uint32_t type, size_t off, size_t width, uint64_t v)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct vm_memory_response out;
	size_t len = encode_response(type, wire);

	cr_assert_leq(off + width, len);
	put_le(wire + off, v, width);
	return msg_vm_memory_decode_response(wire, len, 0, &out);
}

/* offset and width of a field: in-memory and wire layouts are the same (msg.h) */
#define REQ(f) offsetof(struct vm_memory_request, f), sizeof(((struct vm_memory_request *)0)->f)
#define RESP(f) offsetof(struct vm_memory_response, f), sizeof(((struct vm_memory_response *)0)->f)

Test(msg_vm_memory, round_trips_every_request)
{
	struct vm_memory_request m, out;
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		nfds = sample_request(request_types[i], &m);
		cr_assert_eq(msg_vm_memory_encode_request(&m, nfds, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_vm_memory_decode_request(wire, len, nfds, &out), 0, "%s",
			     msg_vm_memory_name(request_types[i]));
		m.hdr.size = (uint32_t)len;
		cr_assert_eq(memcmp(&m, &out, sizeof(m)), 0, "%s", msg_vm_memory_name(m.hdr.type));
	}
}

Test(msg_vm_memory, round_trips_every_response)
{
	struct vm_memory_response m, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(response_types); i++) {
		sample_response(response_types[i], &m);
		cr_assert_eq(msg_vm_memory_encode_response(&m, 0, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_vm_memory_decode_response(wire, len, 0, &out), 0);
		m.hdr.size = (uint32_t)len;
		cr_assert_eq(memcmp(&m, &out, sizeof(m)), 0, "%s", msg_vm_memory_name(m.hdr.type));
	}
}

Test(msg_vm_memory, wire_is_little_endian_and_sized_per_type)
{
	static const uint8_t hdr[] = {0x08, 0x02, 0, 0, 32, 0, 0, 0};
	static const uint8_t addr[] = {0x00, 0x30, 0x00, 0xfe, 0, 0, 0, 0};
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;

	cr_assert_eq(encode_request(MSG_VM_MEMORY_IOEVENT_RAW, wire, &nfds), 32);
	cr_assert_arr_eq(wire, hdr, sizeof(hdr));
	cr_assert_arr_eq(wire + 8, addr, sizeof(addr));
	cr_assert_eq(encode_request(MSG_VM_MEMORY_FREE_RANGES, wire, &nfds), 8 + 1032);
	cr_assert_eq(encode_response(MSG_VM_MEMORY_REGISTERED, wire), 16);
}

Test(msg_vm_memory, rejects_wrong_size)
{
	uint8_t wire[MSG_MAX_SIZE + 1];
	struct vm_memory_request out;
	unsigned int nfds;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		len = encode_request(request_types[i], wire, &nfds);
		put_le(wire + 4, len - 1, 4);
		cr_assert_eq(msg_vm_memory_decode_request(wire, len - 1, nfds, &out), -EBADMSG);
		wire[len] = 0;
		put_le(wire + 4, len + 1, 4);
		cr_assert_eq(msg_vm_memory_decode_request(wire, len + 1, nfds, &out), -EBADMSG);
		cr_assert_eq(msg_vm_memory_decode_request(wire, len, nfds, &out), -EBADMSG);
	}
	for (len = 0; len < sizeof(struct msg_hdr); len++)
		cr_assert_eq(msg_vm_memory_decode_request(wire, len, 0, &out), -EBADMSG);
}

Test(msg_vm_memory, rejects_unknown_type)
{
	static const uint32_t bad[] = {0, 0x0200, 0x020a, 0x0104, MSG_VM_MEMORY_RESPONSE, ~0u};
	struct vm_memory_request out;
	struct vm_memory_response resp;
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;
	size_t i, len = encode_request(MSG_VM_MEMORY_UNREGISTER, wire, &nfds);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		put_le(wire, bad[i], 4);
		cr_assert_eq(msg_vm_memory_decode_request(wire, len, 0, &out), -ENOMSG, "%#x",
			     bad[i]);
	}
	put_le(wire, MSG_VM_MEMORY_UNREGISTER, 4);
	cr_assert_eq(msg_vm_memory_decode_response(wire, len, 0, &resp), -ENOMSG);
}

Test(msg_vm_memory, rejects_wrong_fd_count)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct vm_memory_request out;
	struct vm_memory_response resp;
	unsigned int nfds;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		len = encode_request(request_types[i], wire, &nfds);
		cr_assert_eq(msg_vm_memory_decode_request(wire, len, nfds + 1, &out), -EPROTO);
		if (nfds)
			cr_assert_eq(msg_vm_memory_decode_request(wire, len, 0, &out), -EPROTO,
				     "%s without its fd", msg_vm_memory_name(request_types[i]));
	}
	for (i = 0; i < ARRAY_SIZE(response_types); i++) {
		len = encode_response(response_types[i], wire);
		cr_assert_eq(msg_vm_memory_decode_response(wire, len, 1, &resp), -EPROTO);
	}
}

Test(msg_vm_memory, rejects_shared_memory_fields_out_of_range)
{
	const uint32_t p = MSG_VM_MEMORY_PREPARE_SHARED_REGION, r = MSG_VM_MEMORY_REGISTER,
		       m = MSG_VM_MEMORY_MMAP_AND_REGISTER;

	cr_assert_eq(request_patched(p, REQ(prepare.shmid), 256), -ERANGE);
	cr_assert_eq(request_patched(p, REQ(prepare.cache), 2), -ERANGE);
	cr_assert_eq(request_patched(p, REQ(prepare.size), 0), -ERANGE);
	cr_assert_eq(request_patched(p, REQ(prepare.size), 0x1800), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.shmid), 256), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.prot), 0), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.prot), 4), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.size), 0), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.dest), 0x1001), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.fd_offset), 0x10), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.dest), UINT64_MAX - 0xfff), -ERANGE);
	cr_assert_eq(request_patched(r, REQ(reg.fd_offset), UINT64_MAX - 0x1fff), -ERANGE);
	cr_assert_eq(request_patched(m, REQ(mmap.prot), 8), -ERANGE);
	cr_assert_eq(request_patched(m, REQ(mmap.size), 0), -ERANGE);
	cr_assert_eq(request_patched(m, REQ(mmap.dest), UINT64_MAX - 0xfff), -ERANGE);
	cr_assert_eq(request_patched(m, REQ(mmap.shmid), 0x10000), -ERANGE);
}

Test(msg_vm_memory, rejects_ranges_out_of_range)
{
	const uint32_t f = MSG_VM_MEMORY_FREE_RANGES, r = MSG_VM_MEMORY_RECLAIM_RANGES;

	cr_assert_eq(request_patched(f, REQ(ranges.nranges), 0), -ERANGE);
	cr_assert_eq(request_patched(f, REQ(ranges.nranges), MSG_VM_MEMORY_MAX_RANGES + 1), -ERANGE,
		     "more ranges than fit");
	cr_assert_eq(request_patched(f, REQ(ranges.nranges), UINT32_MAX), -ERANGE);
	cr_assert_eq(request_patched(f, REQ(ranges.ranges[1].len), 0), -ERANGE, "len 0");
	cr_assert_eq(request_patched(r, REQ(ranges.ranges[2].len), 0), -ERANGE);
	cr_assert_eq(request_patched(f, REQ(ranges.ranges[0].gpa), UINT64_MAX - 0xfff), -ERANGE,
		     "gpa + len wraps");
	cr_assert_eq(request_patched(r, REQ(ranges.ranges[1].len), UINT64_MAX - 0xfff), -ERANGE);
	cr_assert_eq(request_patched(f, REQ(ranges.ranges[0].gpa), 0x100200), -ERANGE);
	cr_assert_eq(request_patched(f, REQ(ranges.ranges[0].len), 0x200), -ERANGE);
	cr_assert_eq(request_patched(MSG_VM_MEMORY_BALLOON_TARGET_REACHED, REQ(balloon.bytes), 1),
		     -ERANGE);
}

Test(msg_vm_memory, rejects_ioevent_out_of_range)
{
	const uint32_t t = MSG_VM_MEMORY_IOEVENT_RAW;

	cr_assert_eq(request_patched(t, REQ(ioevent.len), 3), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(ioevent.len), 16), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(ioevent.len), 0), -ERANGE, "len 0 with a datamatch");
	cr_assert_eq(request_patched(t, REQ(ioevent.has_datamatch), 2), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(ioevent.assign), 2), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(ioevent.datamatch), 0x10000), -ERANGE,
		     "datamatch wider than len");
	cr_assert_eq(request_patched(t, REQ(ioevent.has_datamatch), 0), -ERANGE,
		     "a datamatch without has_datamatch");
	cr_assert_eq(request_patched(t, REQ(ioevent.addr), UINT64_MAX), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(ioevent.addr), UINT64_MAX - 1), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(ioevent.addr), UINT64_MAX - 2), 0);
}

Test(msg_vm_memory, accepts_every_ioevent_length)
{
	static const uint32_t lens[] = {1, 2, 4, 8};
	struct vm_memory_request m, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		sample_request(MSG_VM_MEMORY_IOEVENT_RAW, &m);
		m.ioevent.len = lens[i];
		m.ioevent.datamatch = lens[i] == 8 ? UINT64_MAX : (1ULL << (8 * lens[i])) - 1;
		cr_assert_eq(msg_vm_memory_encode_request(&m, 1, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_vm_memory_decode_request(wire, len, 1, &out), 0);
		cr_assert_eq(out.ioevent.datamatch, m.ioevent.datamatch);
	}
	sample_request(MSG_VM_MEMORY_IOEVENT_RAW, &m);
	m.ioevent = (struct msg_vm_memory_ioevent){.addr = 0xfe000000, .len = 0, .assign = 0};
	cr_assert_eq(msg_vm_memory_encode_request(&m, 1, wire, sizeof(wire), &len), 0,
		     "any-length, no datamatch, unregister");
}

Test(msg_vm_memory, rejects_responses_out_of_range)
{
	cr_assert_eq(response_patched(MSG_VM_MEMORY_RESPONSE, RESP(status.status), 1), -ERANGE);
	cr_assert_eq(response_patched(MSG_VM_MEMORY_RESPONSE, RESP(status.status), 0x80000000),
		     -ERANGE);
}

Test(msg_vm_memory, rejects_nonzero_padding)
{
	cr_assert_eq(request_patched(MSG_VM_MEMORY_FREE_RANGES, REQ(ranges.pad), 1), -EBADMSG);
	cr_assert_eq(request_patched(MSG_VM_MEMORY_FREE_RANGES, REQ(ranges.ranges[3].len), 0x1000),
		     -EBADMSG, "a range past nranges");
	cr_assert_eq(request_patched(MSG_VM_MEMORY_RECLAIM_RANGES, REQ(ranges.ranges[63].gpa), 1),
		     -EBADMSG);
	cr_assert_eq(request_patched(MSG_VM_MEMORY_UNREGISTER, REQ(unregister.pad), 1), -EBADMSG);
	cr_assert_eq(request_patched(MSG_VM_MEMORY_IOEVENT_RAW, REQ(ioevent.pad), 1), -EBADMSG);
	cr_assert_eq(response_patched(MSG_VM_MEMORY_RESPONSE, RESP(status.pad), 1), -EBADMSG);
	cr_assert_eq(response_patched(MSG_VM_MEMORY_REGISTERED, RESP(registered.pad), 1), -EBADMSG);
}

Test(msg_vm_memory, encoder_refuses_what_the_decoder_would)
{
	struct vm_memory_request m;
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	sample_request(MSG_VM_MEMORY_FREE_RANGES, &m);
	m.ranges.nranges = 0;
	cr_assert_eq(msg_vm_memory_encode_request(&m, 0, wire, sizeof(wire), &len), -ERANGE);
	sample_request(MSG_VM_MEMORY_REGISTER, &m);
	cr_assert_eq(msg_vm_memory_encode_request(&m, 0, wire, sizeof(wire), &len), -EPROTO);
	cr_assert_eq(msg_vm_memory_encode_request(&m, 1, wire, 39, &len), -EMSGSIZE);
}

Test(msg_vm_memory, status_builds_the_error_response)
{
	struct vm_memory_response r, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	msg_vm_memory_status(&r, -EACCES);
	cr_assert_eq(msg_vm_memory_encode_response(&r, 0, wire, sizeof(wire), &len), 0);
	cr_assert_eq(msg_vm_memory_decode_response(wire, len, 0, &out), 0);
	cr_assert_eq(out.hdr.type, MSG_VM_MEMORY_RESPONSE);
	cr_assert_eq(out.status.status, -EACCES);
	msg_vm_memory_status(&r, 1);
	cr_assert_eq(r.status.status, -EIO);
	cr_assert_str_eq(msg_vm_memory_name(MSG_VM_MEMORY_FREE_RANGES), "FREE_RANGES");
	cr_assert_str_eq(msg_vm_memory_name(MSG_VM_MEMORY_REGISTERED), "REGISTERED");
}

Test(msg_vm_memory, survives_random_bodies)
{
	uint8_t wire[MSG_MAX_SIZE], valid[MSG_MAX_SIZE];
	struct vm_memory_request out;
	unsigned int seed = 2, i, nfds;
	uint32_t type;
	size_t j, len;
	int ret;

	for (i = 0; i < 20000; i++) {
		type = request_types[i % ARRAY_SIZE(request_types)];
		len = i % 2 ? encode_request(type, valid, &nfds) : (size_t)rand_r(&seed) % 1100;
		for (j = 0; j < len; j++)
			wire[j] = (uint8_t)rand_r(&seed);
		if (len >= 8) {
			put_le(wire, type, 4);
			put_le(wire + 4, len, 4);
		}
		ret = msg_vm_memory_decode_request(wire, len, i % 2, &out);
		cr_assert(ret == 0 || ret == -EBADMSG || ret == -ENOMSG || ret == -EPROTO ||
			  ret == -ERANGE);
	}
}

Test(msg_vm_memory, needs_reset_names_a_queue_that_can_exist)
{
	struct vm_memory_request m, out;
	uint8_t buf[MSG_MAX_SIZE];
	size_t len;

	sample_request(MSG_VM_MEMORY_NEEDS_RESET, &m);
	m.needs_reset.queue = 16;
	cr_assert_eq(msg_vm_memory_encode_request(&m, 0, buf, sizeof(buf), &len), -ERANGE);
	m.needs_reset.queue = 3;
	cr_assert_eq(msg_vm_memory_encode_request(&m, 0, buf, sizeof(buf), &len), 0);
	buf[12] = 1; /* the pad */
	cr_assert_eq(msg_vm_memory_decode_request(buf, len, 0, &out), -EBADMSG);
}
