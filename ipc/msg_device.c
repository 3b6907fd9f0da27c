/* ctrl tube codecs (msg_device.h): byte order and checks of each body, and the tables. */
#include "msg_device.h"

#include <errno.h>

#include "tube.h"
#include "util.h"

_Static_assert(MSG_DEVICE_MAX_FDS <= TUBE_MAX_FDS, "an ACTIVATE's fds fit in one message");

static void swap_config_read(void *body)
{
	struct msg_device_config_read *m = body;

	msg_swap32(&m->offset);
	msg_swap32(&m->len);
}

static void swap_config_write(void *body)
{
	struct msg_device_config_write *m = body;

	msg_swap32(&m->offset);
	msg_swap32(&m->len);
}

static void swap_activate(void *body)
{
	struct msg_device_activate *m = body;
	size_t i;

	msg_swap64(&m->features);
	msg_swap32(&m->nregions);
	msg_swap32(&m->nqueues);
	msg_swap32(&m->nfds);
	msg_swap32(&m->mem_fd);
	msg_swap32(&m->config_irq_fd);
	for (i = 0; i < ARRAY_SIZE(m->regions); i++) {
		msg_swap64(&m->regions[i].gpa);
		msg_swap64(&m->regions[i].size);
		msg_swap64(&m->regions[i].offset);
	}
	for (i = 0; i < ARRAY_SIZE(m->queues); i++) {
		msg_swap64(&m->queues[i].desc);
		msg_swap64(&m->queues[i].avail);
		msg_swap64(&m->queues[i].used);
		msg_swap16(&m->queues[i].size);
		msg_swap32(&m->queues[i].kick_fd);
		msg_swap32(&m->queues[i].irq_fd);
	}
}

static void swap_info(void *body)
{
	struct msg_device_info *m = body;
	size_t i;

	msg_swap32(&m->device_type);
	msg_swap32(&m->nqueues);
	msg_swap64(&m->features);
	msg_swap32(&m->config_size);
	msg_swap32(&m->shm_size_mib);
	for (i = 0; i < ARRAY_SIZE(m->queue_max); i++)
		msg_swap16(&m->queue_max[i]);
}

static void swap_config_data(void *body)
{
	struct msg_device_config_data *m = body;

	msg_swap32(&m->len);
}

static void swap_status(void *body)
{
	struct msg_device_status *m = body;

	msg_swap_s32(&m->status);
}

static bool config_range_ok(uint32_t offset, uint32_t len)
{
	return len >= 1 && len <= MSG_DEVICE_CONFIG_MAX && offset <= MSG_DEVICE_CONFIG_MAX - len;
}

static bool queue_size_ok(uint32_t size)
{
	return size && size <= MSG_DEVICE_QUEUE_SIZE_MAX && (size & (size - 1)) == 0;
}

static bool fd_index_ok(uint32_t index, uint32_t nfds)
{
	return index == MSG_FD_NONE || index < nfds;
}

static int check_config_read(const void *body)
{
	const struct msg_device_config_read *m = body;

	return config_range_ok(m->offset, m->len) ? 0 : -ERANGE;
}

static int check_config_write(const void *body)
{
	const struct msg_device_config_write *m = body;

	if (!config_range_ok(m->offset, m->len))
		return -ERANGE;
	return msg_is_zero(m->data + m->len, sizeof(m->data) - m->len) ? 0 : -EBADMSG;
}

/* Regions are sorted and disjoint so that the device can map each without checking the rest. */
static int check_regions(const struct msg_device_activate *m)
{
	uint64_t end = 0;
	uint32_t i;

	if (m->nregions < 1 || m->nregions > MSG_DEVICE_MAX_REGIONS)
		return -ERANGE;
	for (i = 0; i < m->nregions; i++) {
		const struct msg_device_region *r = &m->regions[i];

		if (!msg_page_aligned(r->gpa | r->size | r->offset) ||
		    !msg_range_ok(r->gpa, r->size) || !msg_range_ok(r->offset, r->size) ||
		    r->gpa < end)
			return -ERANGE;
		end = r->gpa + r->size;
	}
	return msg_is_zero(&m->regions[i], (MSG_DEVICE_MAX_REGIONS - i) * sizeof(m->regions[0]))
		   ? 0
		   : -EBADMSG;
}

/* The split ring's parts: alignment and length from virtio 1.2, 2.7. */
static int check_queue(const struct msg_device_queue *q, uint32_t nfds)
{
	if (q->pad0 || q->pad1)
		return -EBADMSG;
	if (q->enabled > 1 || !fd_index_ok(q->kick_fd, nfds) || !fd_index_ok(q->irq_fd, nfds))
		return -ERANGE;
	if (!q->enabled)
		return 0;
	if (!queue_size_ok(q->size) || q->desc % 16 || q->avail % 2 || q->used % 4 ||
	    !msg_range_ok(q->desc, 16ULL * q->size) ||
	    !msg_range_ok(q->avail, 6 + 2ULL * q->size) ||
	    !msg_range_ok(q->used, 6 + 8ULL * q->size))
		return -ERANGE;
	return 0;
}

static int check_activate(const void *body)
{
	const struct msg_device_activate *m = body;
	uint32_t i;
	int ret;

	if (m->pad)
		return -EBADMSG;
	if (m->nqueues < 1 || m->nqueues > MSG_DEVICE_MAX_QUEUES || m->nfds > MSG_DEVICE_MAX_FDS ||
	    !fd_index_ok(m->mem_fd, m->nfds) || !fd_index_ok(m->config_irq_fd, m->nfds))
		return -ERANGE;
	ret = check_regions(m);
	if (ret < 0)
		return ret;
	for (i = 0; i < m->nqueues; i++) {
		ret = check_queue(&m->queues[i], m->nfds);
		if (ret < 0)
			return ret;
	}
	return msg_is_zero(&m->queues[i], (MSG_DEVICE_MAX_QUEUES - i) * sizeof(m->queues[0]))
		   ? 0
		   : -EBADMSG;
}

static unsigned int activate_nfds(const void *body)
{
	const struct msg_device_activate *m = body;

	return m->nfds;
}

static int check_info(const void *body)
{
	const struct msg_device_info *m = body;
	uint32_t i;

	if (m->shm_size_mib > MSG_DEVICE_SHM_MAX_MIB || (m->shm_size_mib & (m->shm_size_mib - 1)))
		return -ERANGE;
	if (m->device_type < 1 || m->device_type > MSG_DEVICE_TYPE_MAX || m->nqueues < 1 ||
	    m->nqueues > MSG_DEVICE_MAX_QUEUES || m->config_size > MSG_DEVICE_CONFIG_MAX)
		return -ERANGE;
	for (i = 0; i < m->nqueues; i++) {
		if (!queue_size_ok(m->queue_max[i]))
			return -ERANGE;
	}
	return msg_is_zero(&m->queue_max[i], (MSG_DEVICE_MAX_QUEUES - i) * sizeof(m->queue_max[0]))
		   ? 0
		   : -EBADMSG;
}

static int check_config_data(const void *body)
{
	const struct msg_device_config_data *m = body;

	if (m->pad)
		return -EBADMSG;
	if (m->len < 1 || m->len > MSG_DEVICE_CONFIG_MAX)
		return -ERANGE;
	return msg_is_zero(m->data + m->len, sizeof(m->data) - m->len) ? 0 : -EBADMSG;
}

static int check_status(const void *body)
{
	const struct msg_device_status *m = body;

	return m->pad ? -EBADMSG : msg_check_status(m->status);
}

static void swap_trap(void *body)
{
	struct msg_device_seccomp_trap *m = body;

	msg_swap_s32(&m->nr);
	msg_swap32(&m->arch);
}

static int check_trap(const void *body)
{
	const struct msg_device_seccomp_trap *m = body;

	return m->nr < 0 || m->nr > 4095 ? -ERANGE : 0;
}

static void swap_command(void *body)
{
	struct msg_device_command *m = body;

	msg_swap32(&m->op);
	msg_swap64(&m->arg);
}

static int check_command(const void *body)
{
	const struct msg_device_command *m = body;

	if (m->pad)
		return -EBADMSG;
	switch (m->op) {
	case MSG_DEVICE_CMD_BALLOON_TARGET:
		return m->arg % 4096 ? -ERANGE : 0;
	case MSG_DEVICE_CMD_BALLOON_STATS:
		return m->arg ? -ERANGE : 0;
	case MSG_DEVICE_CMD_RESIZE:
		return !m->arg || m->arg % 512 ? -ERANGE : 0;
	default:
		return -ERANGE;
	}
}

static void swap_balloon_stats(void *body)
{
	struct msg_device_balloon_stats *m = body;

	msg_swap64(&m->actual);
	msg_swap32(&m->valid);
	for (size_t i = 0; i < MSG_DEVICE_BALLOON_NSTATS; i++)
		msg_swap64(&m->stats[i]);
}

static int check_balloon_stats(const void *body)
{
	const struct msg_device_balloon_stats *m = body;

	if (m->pad)
		return -EBADMSG;
	if (m->valid >> MSG_DEVICE_BALLOON_NSTATS || m->actual % 4096)
		return -ERANGE;
	for (size_t i = 0; i < MSG_DEVICE_BALLOON_NSTATS; i++)
		if (!(m->valid & (1u << i)) && m->stats[i])
			return -EBADMSG;
	return 0;
}

/* type, name, body size, fds, swap, check, fds named by the body */
static const struct msg_kind request_kinds[] = {
    {MSG_DEVICE_HELLO, "HELLO", 0, 0, NULL, NULL, NULL},
    {MSG_DEVICE_CONFIG_READ, "CONFIG_READ", sizeof(struct msg_device_config_read), 0,
     swap_config_read, check_config_read, NULL},
    {MSG_DEVICE_CONFIG_WRITE, "CONFIG_WRITE", sizeof(struct msg_device_config_write), 0,
     swap_config_write, check_config_write, NULL},
    {MSG_DEVICE_ACTIVATE, "ACTIVATE", sizeof(struct msg_device_activate), 0, swap_activate,
     check_activate, activate_nfds},
    {MSG_DEVICE_RESET, "RESET", 0, 0, NULL, NULL, NULL},
    {MSG_DEVICE_SLEEP, "SLEEP", 0, 0, NULL, NULL, NULL},
    {MSG_DEVICE_WAKE, "WAKE", 0, 0, NULL, NULL, NULL},
    {MSG_DEVICE_SHUTDOWN, "SHUTDOWN", 0, 0, NULL, NULL, NULL},
    {MSG_DEVICE_COMMAND, "COMMAND", sizeof(struct msg_device_command), 0, swap_command,
     check_command, NULL},
};

static const struct msg_kind response_kinds[] = {
    {MSG_DEVICE_INFO, "INFO", sizeof(struct msg_device_info), 0, swap_info, check_info, NULL},
    {MSG_DEVICE_CONFIG_DATA, "CONFIG_DATA", sizeof(struct msg_device_config_data), 0,
     swap_config_data, check_config_data, NULL},
    {MSG_DEVICE_RESPONSE, "RESPONSE", sizeof(struct msg_device_status), 0, swap_status,
     check_status, NULL},
    {MSG_DEVICE_SECCOMP_TRAP, "SECCOMP_TRAP", sizeof(struct msg_device_seccomp_trap), 0,
     swap_trap, check_trap, NULL},
    {MSG_DEVICE_SECCOMP_LISTENER, "SECCOMP_LISTENER", 0, 1, NULL, NULL, NULL},
    {MSG_DEVICE_BALLOON_STATS, "BALLOON_STATS", sizeof(struct msg_device_balloon_stats), 0,
     swap_balloon_stats, check_balloon_stats, NULL},
};

static const struct msg_catalogue requests = {request_kinds, ARRAY_SIZE(request_kinds)};
static const struct msg_catalogue responses = {response_kinds, ARRAY_SIZE(response_kinds)};

int msg_device_decode_request(const void *buf, size_t len, unsigned int nfds,
			      struct device_request *out)
{
	return msg_decode(&requests, buf, len, nfds, out, sizeof(*out));
}

int msg_device_encode_request(const struct device_request *m, unsigned int nfds, void *buf,
			      size_t cap, size_t *len)
{
	return msg_encode(&requests, m, nfds, buf, cap, len);
}

int msg_device_decode_response(const void *buf, size_t len, unsigned int nfds,
			       struct device_response *out)
{
	return msg_decode(&responses, buf, len, nfds, out, sizeof(*out));
}

int msg_device_encode_response(const struct device_response *m, unsigned int nfds, void *buf,
			       size_t cap, size_t *len)
{
	return msg_encode(&responses, m, nfds, buf, cap, len);
}

void msg_device_status(struct device_response *r, int err)
{
	*r = (struct device_response){.hdr.type = MSG_DEVICE_RESPONSE};
	r->status.status = msg_status(err);
}

const char *msg_device_name(uint32_t type)
{
	const char *name = msg_name(&requests, type);

	if (!name)
		name = msg_name(&responses, type);
	return name ? name : "unknown";
}
