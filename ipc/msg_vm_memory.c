/* mem tube codecs (msg_vm_memory.h): byte order and checks of each body, and the tables. */
#include "msg_vm_memory.h"

#include <errno.h>

#include "util.h"

static void swap_prepare(void *body)
{
	struct msg_vm_memory_prepare *m = body;

	msg_swap32(&m->shmid);
	msg_swap32(&m->cache);
	msg_swap64(&m->size);
}

static void swap_register(void *body)
{
	struct msg_vm_memory_register *m = body;

	msg_swap64(&m->dest);
	msg_swap64(&m->size);
	msg_swap64(&m->fd_offset);
	msg_swap32(&m->shmid);
	msg_swap32(&m->prot);
}

static void swap_mmap(void *body)
{
	struct msg_vm_memory_mmap *m = body;

	msg_swap64(&m->dest);
	msg_swap64(&m->size);
	msg_swap32(&m->shmid);
	msg_swap32(&m->prot);
}

static void swap_ranges(void *body)
{
	struct msg_vm_memory_ranges *m = body;
	size_t i;

	msg_swap32(&m->nranges);
	for (i = 0; i < ARRAY_SIZE(m->ranges); i++) {
		msg_swap64(&m->ranges[i].gpa);
		msg_swap64(&m->ranges[i].len);
	}
}

static void swap_balloon(void *body)
{
	struct msg_vm_memory_balloon *m = body;

	msg_swap64(&m->bytes);
}

static void swap_slot(void *body)
{
	struct msg_vm_memory_slot *m = body;

	msg_swap32(&m->slot);
}

static void swap_ioevent(void *body)
{
	struct msg_vm_memory_ioevent *m = body;

	msg_swap64(&m->addr);
	msg_swap64(&m->datamatch);
	msg_swap32(&m->len);
}

static void swap_status(void *body)
{
	struct msg_vm_memory_status *m = body;

	msg_swap_s32(&m->status);
}

static bool prot_ok(uint32_t prot)
{
	return prot && !(prot & ~(MSG_VM_MEMORY_PROT_READ | MSG_VM_MEMORY_PROT_WRITE));
}

static int check_prepare(const void *body)
{
	const struct msg_vm_memory_prepare *m = body;

	if (m->shmid > MSG_VM_MEMORY_SHMID_MAX || m->cache > MSG_VM_MEMORY_CACHE_NONCOHERENT ||
	    !m->size || !msg_page_aligned(m->size))
		return -ERANGE;
	return 0;
}

static int check_register(const void *body)
{
	const struct msg_vm_memory_register *m = body;

	if (m->shmid > MSG_VM_MEMORY_SHMID_MAX || !prot_ok(m->prot) ||
	    !msg_page_aligned(m->dest | m->size | m->fd_offset) ||
	    !msg_range_ok(m->dest, m->size) || !msg_range_ok(m->fd_offset, m->size))
		return -ERANGE;
	return 0;
}

static int check_mmap(const void *body)
{
	const struct msg_vm_memory_mmap *m = body;

	if (m->shmid > MSG_VM_MEMORY_SHMID_MAX || !prot_ok(m->prot) ||
	    !msg_page_aligned(m->dest | m->size) || !msg_range_ok(m->dest, m->size))
		return -ERANGE;
	return 0;
}

static int check_ranges(const void *body)
{
	const struct msg_vm_memory_ranges *m = body;
	uint32_t i;

	if (m->pad)
		return -EBADMSG;
	if (m->nranges < 1 || m->nranges > MSG_VM_MEMORY_MAX_RANGES)
		return -ERANGE;
	for (i = 0; i < m->nranges; i++) {
		const struct msg_vm_memory_range *r = &m->ranges[i];

		if (!msg_page_aligned(r->gpa | r->len) || !msg_range_ok(r->gpa, r->len))
			return -ERANGE;
	}
	return msg_is_zero(&m->ranges[i], (MSG_VM_MEMORY_MAX_RANGES - i) * sizeof(m->ranges[0]))
		   ? 0
		   : -EBADMSG;
}

static int check_balloon(const void *body)
{
	const struct msg_vm_memory_balloon *m = body;

	return msg_page_aligned(m->bytes) ? 0 : -ERANGE;
}

static int check_slot(const void *body)
{
	const struct msg_vm_memory_slot *m = body;

	return m->pad ? -EBADMSG : 0;
}

/* KVM_IOEVENTFD's rules: a length of 0 matches any access and cannot match data. */
static int check_ioevent(const void *body)
{
	const struct msg_vm_memory_ioevent *m = body;

	if (m->pad)
		return -EBADMSG;
	if ((m->len & (m->len - 1)) || m->len > 8 || m->has_datamatch > 1 || m->assign > 1 ||
	    !msg_range_ok(m->addr, m->len ? m->len : 1))
		return -ERANGE;
	if (!m->has_datamatch)
		return m->datamatch ? -ERANGE : 0;
	if (!m->len || (m->len < 8 && m->datamatch >> (8 * m->len)))
		return -ERANGE;
	return 0;
}

static int check_needs_reset(const void *body)
{
	const struct msg_vm_memory_needs_reset *m = body;

	if (m->pad)
		return -EBADMSG;
	return m->queue < 16 ? 0 : -ERANGE;
}

static int check_status(const void *body)
{
	const struct msg_vm_memory_status *m = body;

	return m->pad ? -EBADMSG : msg_check_status(m->status);
}

/* type, name, body size, fds, swap, check, fds named by the body */
static const struct msg_kind request_kinds[] = {
    {MSG_VM_MEMORY_PREPARE_SHARED_REGION, "PREPARE_SHARED_REGION",
     sizeof(struct msg_vm_memory_prepare), 0, swap_prepare, check_prepare, NULL},
    {MSG_VM_MEMORY_REGISTER, "REGISTER", sizeof(struct msg_vm_memory_register), 1, swap_register,
     check_register, NULL},
    {MSG_VM_MEMORY_MMAP_AND_REGISTER, "MMAP_AND_REGISTER", sizeof(struct msg_vm_memory_mmap), 1,
     swap_mmap, check_mmap, NULL},
    {MSG_VM_MEMORY_FREE_RANGES, "FREE_RANGES", sizeof(struct msg_vm_memory_ranges), 0, swap_ranges,
     check_ranges, NULL},
    {MSG_VM_MEMORY_RECLAIM_RANGES, "RECLAIM_RANGES", sizeof(struct msg_vm_memory_ranges), 0,
     swap_ranges, check_ranges, NULL},
    {MSG_VM_MEMORY_BALLOON_TARGET_REACHED, "BALLOON_TARGET_REACHED",
     sizeof(struct msg_vm_memory_balloon), 0, swap_balloon, check_balloon, NULL},
    {MSG_VM_MEMORY_UNREGISTER, "UNREGISTER", sizeof(struct msg_vm_memory_slot), 0, swap_slot,
     check_slot, NULL},
    {MSG_VM_MEMORY_IOEVENT_RAW, "IOEVENT_RAW", sizeof(struct msg_vm_memory_ioevent), 1,
     swap_ioevent, check_ioevent, NULL},
    {MSG_VM_MEMORY_NEEDS_RESET, "NEEDS_RESET", sizeof(struct msg_vm_memory_needs_reset), 0,
     swap_slot /* same layout: one u32, then pad */, check_needs_reset, NULL},
};

static const struct msg_kind response_kinds[] = {
    {MSG_VM_MEMORY_RESPONSE, "RESPONSE", sizeof(struct msg_vm_memory_status), 0, swap_status,
     check_status, NULL},
    {MSG_VM_MEMORY_REGISTERED, "REGISTERED", sizeof(struct msg_vm_memory_slot), 0, swap_slot,
     check_slot, NULL},
};

static const struct msg_catalogue requests = {request_kinds, ARRAY_SIZE(request_kinds)};
static const struct msg_catalogue responses = {response_kinds, ARRAY_SIZE(response_kinds)};

int msg_vm_memory_decode_request(const void *buf, size_t len, unsigned int nfds,
				 struct vm_memory_request *out)
{
	return msg_decode(&requests, buf, len, nfds, out, sizeof(*out));
}

int msg_vm_memory_encode_request(const struct vm_memory_request *m, unsigned int nfds, void *buf,
				 size_t cap, size_t *len)
{
	return msg_encode(&requests, m, nfds, buf, cap, len);
}

int msg_vm_memory_decode_response(const void *buf, size_t len, unsigned int nfds,
				  struct vm_memory_response *out)
{
	return msg_decode(&responses, buf, len, nfds, out, sizeof(*out));
}

int msg_vm_memory_encode_response(const struct vm_memory_response *m, unsigned int nfds, void *buf,
				  size_t cap, size_t *len)
{
	return msg_encode(&responses, m, nfds, buf, cap, len);
}

void msg_vm_memory_status(struct vm_memory_response *r, int err)
{
	*r = (struct vm_memory_response){.hdr.type = MSG_VM_MEMORY_RESPONSE};
	r->status.status = msg_status(err);
}

const char *msg_vm_memory_name(uint32_t type)
{
	const char *name = msg_name(&requests, type);

	if (!name)
		name = msg_name(&responses, type);
	return name ? name : "unknown";
}
