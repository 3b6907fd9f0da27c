/* msg_device: ctrl tube codecs. Round trips of every type, then each way a message is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msg_device.h"
#include "util.h"

TestSuite(msg_device);

static const uint32_t request_types[] = {
    MSG_DEVICE_HELLO, MSG_DEVICE_CONFIG_READ, MSG_DEVICE_CONFIG_WRITE, MSG_DEVICE_ACTIVATE,
    MSG_DEVICE_RESET, MSG_DEVICE_SLEEP,	      MSG_DEVICE_WAKE,	       MSG_DEVICE_SHUTDOWN,
    MSG_DEVICE_COMMAND,
};

static const uint32_t response_types[] = {
    MSG_DEVICE_INFO,
    MSG_DEVICE_CONFIG_DATA,
    MSG_DEVICE_RESPONSE,
    MSG_DEVICE_SECCOMP_TRAP,
    MSG_DEVICE_BALLOON_STATS,
};

/* Fills m with a valid request of type; returns the fd count it travels with. */
static unsigned int sample_request(uint32_t type, struct device_request *m)
{
	struct msg_device_activate *a = &m->activate;

	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	switch (type) {
	case MSG_DEVICE_CONFIG_READ:
		m->config_read = (struct msg_device_config_read){.offset = 4, .len = 4};
		return 0;
	case MSG_DEVICE_CONFIG_WRITE:
		m->config_write.offset = 8;
		m->config_write.len = 2;
		m->config_write.data[0] = 0x12;
		m->config_write.data[1] = 0x34;
		return 0;
	case MSG_DEVICE_ACTIVATE:
		a->features = (1ULL << 32) | 1;
		a->nregions = 2;
		a->nqueues = 2;
		a->nfds = 3;
		a->mem_fd = MSG_FD_NONE;
		a->config_irq_fd = 2;
		a->regions[0] = (struct msg_device_region){.gpa = 0, .size = MIB(1), .offset = 0};
		a->regions[1] =
		    (struct msg_device_region){.gpa = GIB(4), .size = MIB(1), .offset = MIB(1)};
		a->queues[0] = (struct msg_device_queue){.desc = 0x10000,
							 .avail = 0x11000,
							 .used = 0x12000,
							 .size = 256,
							 .enabled = 1,
							 .kick_fd = 0,
							 .irq_fd = 1};
		/* a disabled queue: only its fd indices and padding are checked */
		a->queues[1] = (struct msg_device_queue){
		    .desc = 0x3, .size = 7, .kick_fd = MSG_FD_NONE, .irq_fd = MSG_FD_NONE};
		return 3;
	case MSG_DEVICE_COMMAND:
		m->command = (struct msg_device_command){.op = MSG_DEVICE_CMD_RESIZE, .arg = MIB(64)};
		return 0;
	default:
		return 0;
	}
}

static void sample_response(uint32_t type, struct device_response *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	switch (type) {
	case MSG_DEVICE_INFO:
		m->info = (struct msg_device_info){
		    .device_type = 2, .nqueues = 2, .features = 1ULL << 32, .config_size = 60};
		m->info.queue_max[0] = 256;
		m->info.queue_max[1] = 1;
		break;
	case MSG_DEVICE_CONFIG_DATA:
		m->config_data.len = 3;
		memcpy(m->config_data.data, "\x01\x02\x03", 3);
		break;
	case MSG_DEVICE_RESPONSE:
		m->status.status = -ENOSPC;
		break;
	case MSG_DEVICE_SECCOMP_TRAP:
		m->trap = (struct msg_device_seccomp_trap){.nr = 257, .arch = 0xc000003e};
		break;
	case MSG_DEVICE_BALLOON_STATS:
		m->balloon_stats.actual = MIB(32);
		m->balloon_stats.valid = 0x5;
		m->balloon_stats.stats[0] = 11;
		m->balloon_stats.stats[2] = 22;
		break;
	}
}

static size_t encode_request(uint32_t type, uint8_t *wire, unsigned int *nfds)
{
	struct device_request m;
	size_t len;

	*nfds = sample_request(type, &m);
	cr_assert_eq(msg_device_encode_request(&m, *nfds, wire, MSG_MAX_SIZE, &len), 0, "%s",
		     msg_device_name(type));
	return len;
}

static size_t encode_response(uint32_t type, uint8_t *wire)
{
	struct device_response m;
	size_t len;

	sample_response(type, &m);
	cr_assert_eq(msg_device_encode_response(&m, 0, wire, MSG_MAX_SIZE, &len), 0, "%s",
		     msg_device_name(type));
	return len;
}

static void put_le(uint8_t *p, uint64_t v, size_t width)
{
	size_t i;

	for (i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Decodes a valid request's wire bytes with the field at off overwritten: a hostile peer. */
static int request_patched(uint32_t type, size_t off, size_t width, uint64_t v)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct device_request out;
	unsigned int nfds;
	size_t len = encode_request(type, wire, &nfds);

	cr_assert_leq(off + width, len);
	put_le(wire + off, v, width);
	return msg_device_decode_request(wire, len, nfds, &out);
}

static int response_patched(uint32_t type, size_t off, size_t width, uint64_t v)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct device_response out;
	size_t len = encode_response(type, wire);

	cr_assert_leq(off + width, len);
	put_le(wire + off, v, width);
	return msg_device_decode_response(wire, len, 0, &out);
}

/* offset and width of a field: in-memory and wire layouts are the same (msg.h) */
#define REQ(f) offsetof(struct device_request, f), sizeof(((struct device_request *)0)->f)
#define RESP(f) offsetof(struct device_response, f), sizeof(((struct device_response *)0)->f)

Test(msg_device, round_trips_every_request)
{
	struct device_request m, out;
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		nfds = sample_request(request_types[i], &m);
		cr_assert_eq(msg_device_encode_request(&m, nfds, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_device_decode_request(wire, len, nfds, &out), 0, "%s",
			     msg_device_name(request_types[i]));
		m.hdr.size = (uint32_t)len;
		cr_assert_eq(memcmp(&m, &out, sizeof(m)), 0, "%s", msg_device_name(m.hdr.type));
	}
}

Test(msg_device, round_trips_every_response)
{
	struct device_response m, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(response_types); i++) {
		sample_response(response_types[i], &m);
		cr_assert_eq(msg_device_encode_response(&m, 0, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_device_decode_response(wire, len, 0, &out), 0, "%s",
			     msg_device_name(response_types[i]));
		m.hdr.size = (uint32_t)len;
		cr_assert_eq(memcmp(&m, &out, sizeof(m)), 0, "%s", msg_device_name(m.hdr.type));
	}
}

Test(msg_device, wire_is_little_endian_and_sized_per_type)
{
	static const uint8_t hdr[] = {0x04, 0x01, 0, 0, 0x08, 0x03, 0, 0};
	static const uint8_t features[] = {8, 7, 6, 5, 4, 3, 2, 1};
	struct device_request m;
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds = sample_request(MSG_DEVICE_ACTIVATE, &m);
	size_t len;

	m.activate.features = 0x0102030405060708;
	cr_assert_eq(msg_device_encode_request(&m, nfds, wire, sizeof(wire), &len), 0);
	cr_assert_eq(len, 8 + 768);
	cr_assert_arr_eq(wire, hdr, sizeof(hdr));
	cr_assert_arr_eq(wire + 8, features, sizeof(features));
	cr_assert_eq(wire[16], 2, "nregions follows");
	cr_assert_eq(encode_request(MSG_DEVICE_HELLO, wire, &nfds), 8);
	cr_assert_eq(encode_request(MSG_DEVICE_CONFIG_WRITE, wire, &nfds), 8 + 264);
	cr_assert_eq(encode_response(MSG_DEVICE_INFO, wire), 8 + 56);
}

Test(msg_device, rejects_wrong_size)
{
	uint8_t wire[MSG_MAX_SIZE + 1];
	struct device_request out;
	unsigned int nfds;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		len = encode_request(request_types[i], wire, &nfds);
		/* header and length agree, but not with the type */
		put_le(wire + 4, len - 1, 4);
		cr_assert_eq(msg_device_decode_request(wire, len - 1, nfds, &out), -EBADMSG);
		wire[len] = 0;
		put_le(wire + 4, len + 1, 4);
		cr_assert_eq(msg_device_decode_request(wire, len + 1, nfds, &out), -EBADMSG);
		/* the header lies about the length */
		cr_assert_eq(msg_device_decode_request(wire, len, nfds, &out), -EBADMSG);
	}
	for (len = 0; len < sizeof(struct msg_hdr); len++)
		cr_assert_eq(msg_device_decode_request(wire, len, 0, &out), -EBADMSG);
}

Test(msg_device, rejects_unknown_type)
{
	struct device_response resp;
	struct device_request out;
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;
	size_t len = encode_request(MSG_DEVICE_HELLO, wire, &nfds);
	static const uint32_t bad[] = {0, 0x0100, 0x010a, 0x0301, MSG_DEVICE_INFO, UINT32_MAX};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		put_le(wire, bad[i], 4);
		cr_assert_eq(msg_device_decode_request(wire, len, 0, &out), -ENOMSG, "%#x", bad[i]);
	}
	/* a request where a response is due */
	put_le(wire, MSG_DEVICE_HELLO, 4);
	cr_assert_eq(msg_device_decode_response(wire, len, 0, &resp), -ENOMSG);
}

Test(msg_device, rejects_wrong_fd_count)
{
	uint8_t wire[MSG_MAX_SIZE];
	struct device_request out;
	struct device_response resp;
	unsigned int nfds;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(request_types); i++) {
		len = encode_request(request_types[i], wire, &nfds);
		cr_assert_eq(msg_device_decode_request(wire, len, nfds + 1, &out), -EPROTO);
	}
	len = encode_request(MSG_DEVICE_ACTIVATE, wire, &nfds);
	cr_assert_eq(msg_device_decode_request(wire, len, nfds - 1, &out), -EPROTO);
	cr_assert_eq(request_patched(MSG_DEVICE_ACTIVATE, REQ(activate.nfds), 4), -EPROTO);
	for (i = 0; i < ARRAY_SIZE(response_types); i++) {
		len = encode_response(response_types[i], wire);
		cr_assert_eq(msg_device_decode_response(wire, len, 1, &resp), -EPROTO);
	}
}

Test(msg_device, rejects_config_access_out_of_range)
{
	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_READ, REQ(config_read.len), 0), -ERANGE);
	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_READ, REQ(config_read.len), 257), -ERANGE);
	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_READ, REQ(config_read.offset), 253),
		     -ERANGE);
	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_READ, REQ(config_read.offset), UINT32_MAX),
		     -ERANGE);
	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_READ, REQ(config_read.offset), 252), 0);
	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_WRITE, REQ(config_write.len), 0), -ERANGE);
	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_WRITE, REQ(config_write.offset), 255),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_CONFIG_DATA, RESP(config_data.len), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_CONFIG_DATA, RESP(config_data.len), 257), -ERANGE);
}

Test(msg_device, rejects_activate_out_of_range)
{
	const uint32_t t = MSG_DEVICE_ACTIVATE;

	cr_assert_eq(request_patched(t, REQ(activate.nregions), 0), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.nregions), 5), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.nqueues), 0), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.nqueues), 17), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.nfds), MSG_DEVICE_MAX_FDS + 1), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.mem_fd), 3), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.config_irq_fd), 7), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.regions[0].size), 0), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.regions[0].size), 0x800), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.regions[1].offset), UINT64_MAX - 0xfff),
		     -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.regions[1].gpa), UINT64_MAX - 0xfff), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.regions[1].gpa), 0x80000), -ERANGE,
		     "overlaps region 0");
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].enabled), 2), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].size), 0), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].size), 384), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].size), 65535), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].desc), 0x10008), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].avail), 0x11001), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].used), 0x12002), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].desc), UINT64_MAX - 0xfff), -ERANGE,
		     "256 descriptors end at 2^64");
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].used), UINT64_MAX - 0x7ff), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].kick_fd), 3), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[1].irq_fd), 3), -ERANGE);
	cr_assert_eq(request_patched(t, REQ(activate.queues[1].irq_fd), 2), 0);
}

Test(msg_device, rejects_responses_out_of_range)
{
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.device_type), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.device_type), 256), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.nqueues), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.nqueues), 17), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.config_size), 257), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.queue_max[0]), 0), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.queue_max[1]), 3), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_RESPONSE, RESP(status.status), 1), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_RESPONSE, RESP(status.status), (uint32_t)-4096),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_RESPONSE, RESP(status.status), 0), 0);
}

Test(msg_device, rejects_commands_and_new_answers_out_of_range)
{
	const uint32_t c = MSG_DEVICE_COMMAND;

	cr_assert_eq(request_patched(c, REQ(command.op), 3), -ERANGE);
	cr_assert_eq(request_patched(c, REQ(command.arg), 1000), -ERANGE, "RESIZE: not sectors");
	cr_assert_eq(request_patched(c, REQ(command.arg), 0), -ERANGE, "RESIZE: to nothing");
	cr_assert_eq(request_patched(c, REQ(command.pad), 1), -EBADMSG);
	cr_assert_eq(request_patched(c, REQ(command.op), MSG_DEVICE_CMD_BALLOON_STATS), -ERANGE,
		     "STATS takes no argument");
	cr_assert_eq(request_patched(c, REQ(command.op), MSG_DEVICE_CMD_BALLOON_TARGET), 0,
		     "64 MiB is whole pages");
	cr_assert_eq(response_patched(MSG_DEVICE_SECCOMP_TRAP, RESP(trap.nr), (uint32_t)-1),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_SECCOMP_TRAP, RESP(trap.nr), 4096), -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_BALLOON_STATS, RESP(balloon_stats.valid), 0x400),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_BALLOON_STATS, RESP(balloon_stats.actual), 100),
		     -ERANGE);
	cr_assert_eq(response_patched(MSG_DEVICE_BALLOON_STATS, RESP(balloon_stats.valid), 0x1),
		     -EBADMSG, "a value for a statistic not reported");
}

/* A learning device's listener: one fd, no body. */
Test(msg_device, seccomp_listener_carries_one_fd)
{
	struct device_response m = {.hdr.type = MSG_DEVICE_SECCOMP_LISTENER}, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t len;

	cr_assert_eq(msg_device_encode_response(&m, 1, wire, sizeof(wire), &len), 0);
	cr_assert_eq(msg_device_decode_response(wire, len, 1, &out), 0);
	cr_assert_eq(out.hdr.type, MSG_DEVICE_SECCOMP_LISTENER);
	cr_assert_eq(msg_device_decode_response(wire, len, 0, &out), -EPROTO);
}

Test(msg_device, rejects_nonzero_padding)
{
	const uint32_t t = MSG_DEVICE_ACTIVATE;

	cr_assert_eq(request_patched(MSG_DEVICE_CONFIG_WRITE,
				     offsetof(struct device_request, config_write.data[2]), 1, 1),
		     -EBADMSG, "data past len");
	cr_assert_eq(request_patched(t, REQ(activate.pad), 1), -EBADMSG);
	cr_assert_eq(request_patched(t, REQ(activate.regions[2].gpa), 0x1000), -EBADMSG,
		     "region past nregions");
	cr_assert_eq(request_patched(t, REQ(activate.queues[2].size), 16), -EBADMSG,
		     "queue past nqueues");
	cr_assert_eq(request_patched(t, REQ(activate.queues[15].pad1), 1), -EBADMSG);
	cr_assert_eq(request_patched(t, REQ(activate.queues[0].pad0), 1), -EBADMSG);
	cr_assert_eq(request_patched(t, REQ(activate.queues[1].pad1), 1), -EBADMSG);
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.shm_size_mib), 3), -ERANGE,
		     "window not a power of two");
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.shm_size_mib), 512), -ERANGE,
		     "window too big");
	cr_assert_eq(response_patched(MSG_DEVICE_INFO, RESP(info.queue_max[2]), 8), -EBADMSG);
	cr_assert_eq(response_patched(MSG_DEVICE_CONFIG_DATA, RESP(config_data.pad), 1), -EBADMSG);
	cr_assert_eq(response_patched(MSG_DEVICE_CONFIG_DATA,
				      offsetof(struct device_response, config_data.data[255]), 1,
				      1),
		     -EBADMSG);
	cr_assert_eq(response_patched(MSG_DEVICE_RESPONSE, RESP(status.pad), 1), -EBADMSG);
}

/* What the peer would refuse is not sent: the encoder runs the same checks. */
Test(msg_device, encoder_refuses_what_the_decoder_would)
{
	struct device_request m;
	uint8_t wire[MSG_MAX_SIZE];
	unsigned int nfds;
	size_t len;

	nfds = sample_request(MSG_DEVICE_CONFIG_READ, &m);
	m.config_read.len = 0;
	cr_assert_eq(msg_device_encode_request(&m, nfds, wire, sizeof(wire), &len), -ERANGE);
	nfds = sample_request(MSG_DEVICE_ACTIVATE, &m);
	cr_assert_eq(msg_device_encode_request(&m, nfds + 1, wire, sizeof(wire), &len), -EPROTO);
	cr_assert_eq(msg_device_encode_request(&m, nfds, wire, 8 + 767, &len), -EMSGSIZE);
	m.activate.queues[5].size = 1;
	cr_assert_eq(msg_device_encode_request(&m, nfds, wire, sizeof(wire), &len), -EBADMSG);
	m.hdr.type = MSG_DEVICE_INFO;
	cr_assert_eq(msg_device_encode_request(&m, 0, wire, sizeof(wire), &len), -ENOMSG);
}

Test(msg_device, status_builds_the_error_response)
{
	static const int in[] = {0, -EINVAL, -MSG_ERRNO_MAX, -MSG_ERRNO_MAX - 1, 5, EINVAL};
	static const int want[] = {0, -EINVAL, -MSG_ERRNO_MAX, -EIO, -EIO, -EIO};
	struct device_response r, out;
	uint8_t wire[MSG_MAX_SIZE];
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(in); i++) {
		msg_device_status(&r, in[i]);
		cr_assert_eq(msg_device_encode_response(&r, 0, wire, sizeof(wire), &len), 0);
		cr_assert_eq(msg_device_decode_response(wire, len, 0, &out), 0);
		cr_assert_eq(out.hdr.type, MSG_DEVICE_RESPONSE);
		cr_assert_eq(out.status.status, want[i], "%d", in[i]);
	}
}

Test(msg_device, names_types)
{
	cr_assert_str_eq(msg_device_name(MSG_DEVICE_ACTIVATE), "ACTIVATE");
	cr_assert_str_eq(msg_device_name(MSG_DEVICE_CONFIG_DATA), "CONFIG_DATA");
	cr_assert_str_eq(msg_device_name(0x0301), "unknown");
}

/* A small fuzz run in every unit test pass: random bodies behind valid headers. */
Test(msg_device, survives_random_bodies)
{
	uint8_t wire[MSG_MAX_SIZE], valid[MSG_MAX_SIZE];
	struct device_request out;
	struct device_response resp;
	unsigned int seed = 1, i, nfds;
	uint32_t type;
	size_t j, len;
	int ret;

	for (i = 0; i < 20000; i++) {
		type = request_types[i % ARRAY_SIZE(request_types)];
		/* half the time the exact size of the type, so that its checks run */
		len = i % 2 ? encode_request(type, valid, &nfds) : (size_t)rand_r(&seed) % 800;
		for (j = 0; j < len; j++)
			wire[j] = (uint8_t)rand_r(&seed);
		if (len >= 8) {
			put_le(wire, type, 4);
			put_le(wire + 4, len, 4);
		}
		ret = msg_device_decode_request(wire, len, i % 4, &out);
		cr_assert(ret == 0 || ret == -EBADMSG || ret == -ENOMSG || ret == -EPROTO ||
			  ret == -ERANGE);
		ret = msg_device_decode_response(wire, len, 0, &resp);
		cr_assert(ret == 0 || ret == -EBADMSG || ret == -ENOMSG || ret == -EPROTO ||
			  ret == -ERANGE);
	}
}
