/* Control socket codecs (msg_vm.h): byte order and checks of each body, and the tables. */
#include "msg_vm.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/un.h>

#include "util.h"

_Static_assert(MSG_VM_IFNAMSIZ == IFNAMSIZ, "tap names as the kernel takes them");
_Static_assert(MSG_VM_SOCKET_PATH == sizeof(((struct sockaddr_un *)0)->sun_path), "sun_path");

static void swap_balloon(void *body)
{
	struct msg_vm_balloon *m = body;

	msg_swap32(&m->op);
	msg_swap64(&m->target);
}

static void swap_disk(void *body)
{
	struct msg_vm_disk *m = body;

	msg_swap32(&m->index);
	msg_swap32(&m->op);
	msg_swap64(&m->size);
}

static void swap_hotplug_net(void *body)
{
	struct msg_vm_hotplug_net *m = body;

	msg_swap32(&m->op);
	msg_swap32(&m->flags);
}

/* ADD hands the tap over. */
static unsigned int hotplug_net_fds(const void *body)
{
	const struct msg_vm_hotplug_net *m = body;

	return m->op == MSG_VM_NET_ADD ? 1 : 0;
}

static void swap_listener(void *body)
{
	struct msg_vm_listener *m = body;

	msg_swap32(&m->events);
}

static void swap_gpe(void *body)
{
	struct msg_vm_gpe *m = body;

	msg_swap32(&m->gpe);
}

static void swap_snapshot(void *body)
{
	struct msg_vm_snapshot *m = body;

	msg_swap32(&m->op);
	msg_swap32(&m->flags);
}

static void swap_swap(void *body)
{
	struct msg_vm_swap *m = body;

	msg_swap32(&m->op);
}

static void swap_err(void *body)
{
	struct msg_vm_err *m = body;

	msg_swap_s32(&m->error);
}

static void swap_pid_tid(void *body)
{
	struct msg_vm_pid_tid *m = body;
	size_t i;

	msg_swap32(&m->pid);
	msg_swap32(&m->nvcpus);
	for (i = 0; i < ARRAY_SIZE(m->tids); i++)
		msg_swap32(&m->tids[i]);
}

static void swap_balloon_stats(void *body)
{
	struct msg_vm_balloon_stats *m = body;
	size_t i;

	msg_swap64(&m->actual);
	msg_swap32(&m->valid);
	for (i = 0; i < ARRAY_SIZE(m->stats); i++)
		msg_swap64(&m->stats[i]);
}

static void swap_swap_status(void *body)
{
	struct msg_vm_swap_status *m = body;

	msg_swap32(&m->state);
	msg_swap64(&m->resident_bytes);
	msg_swap64(&m->swapped_bytes);
}

/* A string that must name something: terminated, zero-filled and not empty. */
static int check_name(const char *s, size_t size)
{
	int ret = msg_check_str(s, size);

	if (ret < 0)
		return ret;
	return s[0] ? 0 : -ERANGE;
}

static int check_balloon(const void *body)
{
	const struct msg_vm_balloon *m = body;

	if (m->pad)
		return -EBADMSG;
	if (m->op == MSG_VM_BALLOON_ADJUST)
		return msg_page_aligned(m->target) ? 0 : -ERANGE;
	return m->op == MSG_VM_BALLOON_STATS && m->target == 0 ? 0 : -ERANGE;
}

static int check_disk(const void *body)
{
	const struct msg_vm_disk *m = body;

	if (m->index >= MSG_VM_MAX_DISKS || m->op > MSG_VM_DISK_RESIZE_SHRINK || !m->size ||
	    m->size % MSG_VM_DISK_SECTOR)
		return -ERANGE;
	return 0;
}

static int check_hotplug_net(const void *body)
{
	const struct msg_vm_hotplug_net *m = body;
	int ret = msg_check_str(m->tap, sizeof(m->tap));

	if (ret < 0)
		return ret;
	if (!m->tap[0])
		return -ERANGE;
	if (m->op == MSG_VM_NET_ADD)
		return m->flags == 0 ? 0 : -ERANGE;
	if (m->op == MSG_VM_NET_REMOVE)
		return m->flags & ~MSG_VM_NET_FORCE ? -ERANGE : 0;
	return -ERANGE;
}

static int check_listener(const void *body)
{
	const struct msg_vm_listener *m = body;

	if (m->pad)
		return -EBADMSG;
	if (!m->events || (m->events & ~MSG_VM_EVENT_ALL))
		return -ERANGE;
	return check_name(m->path, sizeof(m->path));
}

static int check_unregister(const void *body)
{
	const struct msg_vm_unregister *m = body;

	return check_name(m->path, sizeof(m->path));
}

static int check_gpe(const void *body)
{
	const struct msg_vm_gpe *m = body;

	if (m->pad)
		return -EBADMSG;
	return m->gpe <= MSG_VM_GPE_MAX ? 0 : -ERANGE;
}

static int check_snapshot(const void *body)
{
	const struct msg_vm_snapshot *m = body;

	if (m->op > MSG_VM_SNAPSHOT_RESTORE || (m->flags & ~MSG_VM_SNAPSHOT_COMPRESS))
		return -ERANGE;
	return check_name(m->path, sizeof(m->path));
}

static int check_swap(const void *body)
{
	const struct msg_vm_swap *m = body;

	if (m->pad)
		return -EBADMSG;
	return m->op <= MSG_VM_SWAP_STATUS ? 0 : -ERANGE;
}

static int check_err(const void *body)
{
	const struct msg_vm_err *m = body;

	if (m->pad)
		return -EBADMSG;
	if (!m->error || msg_check_status(m->error) < 0)
		return -ERANGE;
	return msg_check_str(m->message, sizeof(m->message));
}

static int check_pid_tid(const void *body)
{
	const struct msg_vm_pid_tid *m = body;
	uint32_t i;

	if (!m->pid || m->nvcpus < 1 || m->nvcpus > MSG_VM_MAX_VCPUS)
		return -ERANGE;
	for (i = 0; i < m->nvcpus; i++) {
		if (!m->tids[i])
			return -ERANGE;
	}
	return msg_is_zero(&m->tids[i], (MSG_VM_MAX_VCPUS - i) * sizeof(m->tids[0])) ? 0 : -EBADMSG;
}

static int check_balloon_stats(const void *body)
{
	const struct msg_vm_balloon_stats *m = body;
	size_t i;

	if (m->pad)
		return -EBADMSG;
	if (m->valid >> MSG_VM_BALLOON_NSTATS)
		return -ERANGE;
	for (i = 0; i < ARRAY_SIZE(m->stats); i++) {
		if (!(m->valid & (1u << i)) && m->stats[i])
			return -EBADMSG;
	}
	return 0;
}

static int check_swap_status(const void *body)
{
	const struct msg_vm_swap_status *m = body;

	if (m->pad)
		return -EBADMSG;
	return m->state <= MSG_VM_SWAP_FAILED ? 0 : -ERANGE;
}

/* type, name, body size, fds, swap, check, fds named by the body */
static void swap_status(void *body)
{
	struct msg_vm_status *m = body;

	msg_swap32(&m->state);
	msg_swap32(&m->pid);
	msg_swap64(&m->uptime_ms);
	msg_swap64(&m->memory_bytes);
	msg_swap32(&m->nvcpus);
	msg_swap32(&m->ndevices);
	for (size_t i = 0; i < MSG_VM_MAX_DEVICES; i++) {
		struct msg_vm_device_status *d = &m->devices[i];

		msg_swap32(&d->pid);
		msg_swap32(&d->flags);
		msg_swap64(&d->features);
		msg_swap32(&d->pci_addr);
		msg_swap32(&d->virtio_type);
	}
}

static int check_status(const void *body)
{
	const struct msg_vm_status *m = body;
	uint32_t i;

	if (m->state > MSG_VM_STATE_STOPPING || !m->pid || m->nvcpus < 1 ||
	    m->nvcpus > MSG_VM_MAX_VCPUS || m->ndevices > MSG_VM_MAX_DEVICES)
		return -ERANGE;
	if (msg_check_str(m->name, sizeof(m->name)) < 0)
		return -EBADMSG;
	for (i = 0; i < m->ndevices; i++) {
		const struct msg_vm_device_status *d = &m->devices[i];

		if (d->flags & ~MSG_VM_DEV_FLAGS)
			return -ERANGE;
		if (msg_check_str(d->name, sizeof(d->name)) < 0 ||
		    msg_check_str(d->type, sizeof(d->type)) < 0 ||
		    msg_check_str(d->backend, sizeof(d->backend)) < 0)
			return -EBADMSG;
	}
	return msg_is_zero(&m->devices[i], (MSG_VM_MAX_DEVICES - i) * sizeof(m->devices[0]))
		       ? 0
		       : -EBADMSG;
}

static void swap_event(void *body)
{
	struct msg_vm_event *m = body;

	msg_swap32(&m->event);
	msg_swap64(&m->time_ms);
	msg_swap32(&m->pid);
	msg_swap_s32(&m->status);
	msg_swap64(&m->value);
}

static int check_event(const void *body)
{
	const struct msg_vm_event *m = body;

	if (m->pad)
		return -EBADMSG;
	/* exactly one known event */
	if (!m->event || (m->event & (m->event - 1)) || (m->event & ~MSG_VM_EVENT_ALL))
		return -ERANGE;
	if (msg_check_str(m->device, sizeof(m->device)) < 0 ||
	    msg_check_str(m->text, sizeof(m->text)) < 0)
		return -EBADMSG;
	return 0;
}

static void swap_hotplug_net_done(void *body)
{
	struct msg_vm_hotplug_net_done *m = body;

	msg_swap32(&m->pci_addr);
}

static int check_hotplug_net_done(const void *body)
{
	const struct msg_vm_hotplug_net_done *m = body;

	if (m->pad || msg_check_str(m->device, sizeof(m->device)) < 0 || !m->device[0])
		return -EBADMSG;
	return m->pci_addr > 0xffff ? -ERANGE : 0;
}

static const struct msg_kind request_kinds[] = {
    {MSG_VM_EXIT, "EXIT", 0, 0, NULL, NULL, NULL},
    {MSG_VM_SUSPEND_VCPUS, "SUSPEND_VCPUS", 0, 0, NULL, NULL, NULL},
    {MSG_VM_RESUME_VCPUS, "RESUME_VCPUS", 0, 0, NULL, NULL, NULL},
    {MSG_VM_SUSPEND_VM, "SUSPEND_VM", 0, 0, NULL, NULL, NULL},
    {MSG_VM_RESUME_VM, "RESUME_VM", 0, 0, NULL, NULL, NULL},
    {MSG_VM_BALLOON, "BALLOON", sizeof(struct msg_vm_balloon), 0, swap_balloon, check_balloon,
     NULL},
    {MSG_VM_DISK, "DISK", sizeof(struct msg_vm_disk), 0, swap_disk, check_disk, NULL},
    {MSG_VM_HOTPLUG_NET, "HOTPLUG_NET", sizeof(struct msg_vm_hotplug_net), 0, swap_hotplug_net,
     check_hotplug_net, hotplug_net_fds},
    {MSG_VM_REGISTER_LISTENER, "REGISTER_LISTENER", sizeof(struct msg_vm_listener), 0,
     swap_listener, check_listener, NULL},
    {MSG_VM_UNREGISTER_LISTENER, "UNREGISTER_LISTENER", sizeof(struct msg_vm_listener), 0,
     swap_listener, check_listener, NULL},
    {MSG_VM_UNREGISTER, "UNREGISTER", sizeof(struct msg_vm_unregister), 0, NULL, check_unregister,
     NULL},
    {MSG_VM_VCPU_PID_TID, "VCPU_PID_TID", 0, 0, NULL, NULL, NULL},
    {MSG_VM_POWERBTN, "POWERBTN", 0, 0, NULL, NULL, NULL},
    {MSG_VM_SLEEPBTN, "SLEEPBTN", 0, 0, NULL, NULL, NULL},
    {MSG_VM_GPE, "GPE", sizeof(struct msg_vm_gpe), 0, swap_gpe, check_gpe, NULL},
    {MSG_VM_SNAPSHOT, "SNAPSHOT", sizeof(struct msg_vm_snapshot), 0, swap_snapshot, check_snapshot,
     NULL},
    {MSG_VM_SWAP, "SWAP", sizeof(struct msg_vm_swap), 0, swap_swap, check_swap, NULL},
    {MSG_VM_MAKE_RT, "MAKE_RT", 0, 0, NULL, NULL, NULL},
    {MSG_VM_STATUS, "STATUS", 0, 0, NULL, NULL, NULL},
    {MSG_VM_CTRL_ALT_DEL, "CTRL_ALT_DEL", 0, 0, NULL, NULL, NULL},
};

static const struct msg_kind response_kinds[] = {
    {MSG_VM_RESP_OK, "OK", 0, 0, NULL, NULL, NULL},
    {MSG_VM_RESP_ERR, "ERR", sizeof(struct msg_vm_err), 0, swap_err, check_err, NULL},
    {MSG_VM_RESP_VCPU_PID_TID, "VCPU_PID_TID", sizeof(struct msg_vm_pid_tid), 0, swap_pid_tid,
     check_pid_tid, NULL},
    {MSG_VM_RESP_BALLOON_STATS, "BALLOON_STATS", sizeof(struct msg_vm_balloon_stats), 0,
     swap_balloon_stats, check_balloon_stats, NULL},
    {MSG_VM_RESP_SWAP_STATUS, "SWAP_STATUS", sizeof(struct msg_vm_swap_status), 0, swap_swap_status,
     check_swap_status, NULL},
    {MSG_VM_RESP_STATUS, "STATUS", sizeof(struct msg_vm_status), 0, swap_status, check_status, NULL},
    {MSG_VM_EVENT, "EVENT", sizeof(struct msg_vm_event), 0, swap_event, check_event, NULL},
    {MSG_VM_RESP_HOTPLUG_NET, "HOTPLUG_NET", sizeof(struct msg_vm_hotplug_net_done), 0,
     swap_hotplug_net_done, check_hotplug_net_done, NULL},
};

static const struct msg_catalogue requests = {request_kinds, ARRAY_SIZE(request_kinds)};
static const struct msg_catalogue responses = {response_kinds, ARRAY_SIZE(response_kinds)};

int msg_vm_decode_request(const void *buf, size_t len, unsigned int nfds, struct vm_request *out)
{
	return msg_decode(&requests, buf, len, nfds, out, sizeof(*out));
}

int msg_vm_encode_request(const struct vm_request *m, unsigned int nfds, void *buf, size_t cap,
			  size_t *len)
{
	return msg_encode(&requests, m, nfds, buf, cap, len);
}

int msg_vm_decode_response(const void *buf, size_t len, unsigned int nfds, struct vm_response *out)
{
	return msg_decode(&responses, buf, len, nfds, out, sizeof(*out));
}

int msg_vm_encode_response(const struct vm_response *m, unsigned int nfds, void *buf, size_t cap,
			   size_t *len)
{
	return msg_encode(&responses, m, nfds, buf, cap, len);
}

void msg_vm_error(struct vm_response *r, int err, const char *fmt, ...)
{
	va_list ap;

	*r = (struct vm_response){.hdr.type = MSG_VM_RESP_ERR};
	r->err.error = err ? msg_status(err) : -EIO;
	/* the struct is zeroed, so the message's tail is too, as the decoder wants */
	va_start(ap, fmt);
	vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
	va_end(ap);
}

const char *msg_vm_name(uint32_t type)
{
	const char *name = msg_name(&requests, type);

	if (!name)
		name = msg_name(&responses, type);
	return name ? name : "unknown";
}
