/*
 * The control socket (shared/DESIGN.md, "Processes"): vmm-ctl asks, main answers, one request per
 * message in the tubes' framing. vmm-ctl sends struct vm_request (DESIGN's VmRequest), main
 * answers with struct vm_response. No fds travel here. Wire format: msg.h.
 */
#ifndef VMM_IPC_MSG_VM_H
#define VMM_IPC_MSG_VM_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define MSG_VM_IFNAMSIZ 16     /* IFNAMSIZ */
#define MSG_VM_SOCKET_PATH 108 /* sizeof(sockaddr_un.sun_path) */
#define MSG_VM_PATH_MAX 256    /* snapshot files */
#define MSG_VM_ERR_MESSAGE 128
#define MSG_VM_MAX_VCPUS 256
#define MSG_VM_MAX_DISKS 32
#define MSG_VM_MAX_NETS 32
#define MSG_VM_GPE_MAX 255
/* virtio balloon statistics, indexed by their tag (virtio 1.2, 5.5.6.3) */
#define MSG_VM_BALLOON_NSTATS 10
#define MSG_VM_DISK_SECTOR 512

enum msg_vm_type {
	/* vmm-ctl -> main; those without a body are marked */
	MSG_VM_EXIT = 0x0301,	       /* no body */
	MSG_VM_SUSPEND_VCPUS = 0x0302, /* no body */
	MSG_VM_RESUME_VCPUS = 0x0303,  /* no body */
	MSG_VM_SUSPEND_VM = 0x0304,    /* no body */
	MSG_VM_RESUME_VM = 0x0305,     /* no body */
	MSG_VM_BALLOON = 0x0306,
	MSG_VM_DISK = 0x0307,
	MSG_VM_HOTPLUG_NET = 0x0308,
	MSG_VM_REGISTER_LISTENER = 0x0309,
	MSG_VM_UNREGISTER_LISTENER = 0x030a,
	MSG_VM_UNREGISTER = 0x030b,
	MSG_VM_VCPU_PID_TID = 0x030c, /* no body */
	MSG_VM_POWERBTN = 0x030d,     /* no body */
	MSG_VM_SLEEPBTN = 0x030e,     /* no body */
	MSG_VM_GPE = 0x030f,
	MSG_VM_SNAPSHOT = 0x0310,
	MSG_VM_SWAP = 0x0311,
	MSG_VM_MAKE_RT = 0x0312, /* no body */
	MSG_VM_STATUS = 0x0313,	       /* no body; answered by RESP_STATUS */
	MSG_VM_CTRL_ALT_DEL = 0x0314,  /* no body: the i8042 key combination */
	/* main -> vmm-ctl */
	MSG_VM_RESP_OK = 0x0381, /* no body */
	MSG_VM_RESP_ERR = 0x0382,
	MSG_VM_RESP_VCPU_PID_TID = 0x0383,
	MSG_VM_RESP_BALLOON_STATS = 0x0384,
	MSG_VM_RESP_SWAP_STATUS = 0x0385,
	MSG_VM_RESP_STATUS = 0x0386,
	MSG_VM_RESP_HOTPLUG_NET = 0x0388,
	/* main -> a listener's datagram socket */
	MSG_VM_EVENT = 0x0387,
};

enum msg_vm_balloon_op {
	MSG_VM_BALLOON_ADJUST = 0, /* to target bytes */
	MSG_VM_BALLOON_STATS = 1,  /* answered by RESP_BALLOON_STATS */
};

struct msg_vm_balloon {
	uint32_t op;
	uint32_t pad;
	uint64_t target; /* bytes, page-aligned; 0 for STATS */
};
_Static_assert(sizeof(struct msg_vm_balloon) == 16, "balloon");

enum msg_vm_disk_op {
	MSG_VM_DISK_RESIZE = 0,	       /* grow only */
	MSG_VM_DISK_RESIZE_SHRINK = 1, /* grow or shrink (vmm-ctl disk resize --allow-shrink) */
};

struct msg_vm_disk {
	uint32_t index; /* < MSG_VM_MAX_DISKS */
	uint32_t op;
	uint64_t size; /* bytes, a non-zero multiple of MSG_VM_DISK_SECTOR */
};
_Static_assert(sizeof(struct msg_vm_disk) == 16, "disk");

enum msg_vm_net_op {
	MSG_VM_NET_ADD = 0,    /* carries one fd: the tap, opened by the caller; answered by
				  RESP_HOTPLUG_NET */
	MSG_VM_NET_REMOVE = 1, /* no fd; answered by RESP_OK once the device is gone */
};

/* How long vmm waits for the guest to release a NIC on REMOVE (Linux: 5 s after the button);
 * a client waits longer than that for the answer. */
#define HOTPLUG_RELEASE_WAIT_MS 60000
/* REMOVE's flags: remove even when the guest does not release the device in time. */
#define MSG_VM_NET_FORCE 0x1u

struct msg_vm_hotplug_net {
	uint32_t op;
	uint32_t flags; /* ADD: 0; REMOVE: MSG_VM_NET_FORCE or 0 */
	char tap[MSG_VM_IFNAMSIZ]; /* the NIC's tap, non-empty */
};
_Static_assert(sizeof(struct msg_vm_hotplug_net) == 24, "hotplug_net");

/* Events a listener hears */
#define MSG_VM_EVENT_BALLOON_RESIZE 0x1u
#define MSG_VM_EVENT_BALLOON_OOM_DEFLATION 0x2u
#define MSG_VM_EVENT_BALLOON_WS_REPORT 0x4u
#define MSG_VM_EVENT_DEVICE_EXIT 0x8u	/* a device process exited or was killed */
#define MSG_VM_EVENT_VM_STATE 0x10u	/* running, vCPUs suspended, VM suspended, stopping */
#define MSG_VM_EVENT_DISK_RESIZE 0x20u	/* a disk got its new size */
#define MSG_VM_EVENT_NET_HOTPLUG 0x40u	/* a NIC was hot-plugged or removed */
#define MSG_VM_EVENT_ALL 0x7fu

/* REGISTER_LISTENER's and UNREGISTER_LISTENER's body. */
struct msg_vm_listener {
	uint32_t events; /* non-empty subset of MSG_VM_EVENT_ALL */
	uint32_t pad;
	char path[MSG_VM_SOCKET_PATH]; /* the listener's socket, non-empty */
};
_Static_assert(sizeof(struct msg_vm_listener) == 116, "listener");

/* Drops the listener at path from every event. */
struct msg_vm_unregister {
	char path[MSG_VM_SOCKET_PATH];
};
_Static_assert(sizeof(struct msg_vm_unregister) == 108, "unregister");

struct msg_vm_gpe {
	uint32_t gpe; /* 0..MSG_VM_GPE_MAX */
	uint32_t pad;
};
_Static_assert(sizeof(struct msg_vm_gpe) == 8, "gpe");

enum msg_vm_snapshot_op {
	MSG_VM_SNAPSHOT_TAKE = 0,
	MSG_VM_SNAPSHOT_RESTORE = 1,
};

#define MSG_VM_SNAPSHOT_COMPRESS 0x1u

struct msg_vm_snapshot {
	uint32_t op;
	uint32_t flags;		    /* MSG_VM_SNAPSHOT_* */
	char path[MSG_VM_PATH_MAX]; /* non-empty */
};
_Static_assert(sizeof(struct msg_vm_snapshot) == 264, "snapshot");

enum msg_vm_swap_op {
	MSG_VM_SWAP_ENABLE = 0,
	MSG_VM_SWAP_TRIM = 1,
	MSG_VM_SWAP_OUT = 2,
	MSG_VM_SWAP_DISABLE = 3,
	MSG_VM_SWAP_STATUS = 4, /* answered by RESP_SWAP_STATUS */
};

struct msg_vm_swap {
	uint32_t op;
	uint32_t pad;
};
_Static_assert(sizeof(struct msg_vm_swap) == 8, "swap");

struct msg_vm_err {
	int32_t error; /* -errno, never 0 */
	uint32_t pad;
	char message[MSG_VM_ERR_MESSAGE]; /* for a person; may be empty */
};
_Static_assert(sizeof(struct msg_vm_err) == 136, "err");

struct msg_vm_pid_tid {
	uint32_t pid;			 /* > 0 */
	uint32_t nvcpus;		 /* 1..MSG_VM_MAX_VCPUS */
	uint32_t tids[MSG_VM_MAX_VCPUS]; /* > 0; zero from nvcpus on */
};
_Static_assert(sizeof(struct msg_vm_pid_tid) == 1032, "pid_tid");

struct msg_vm_balloon_stats {
	uint64_t actual; /* the balloon's size in bytes */
	uint32_t valid;	 /* bit n: stats[n] was reported */
	uint32_t pad;
	uint64_t stats[MSG_VM_BALLOON_NSTATS]; /* zero where not valid */
};
_Static_assert(sizeof(struct msg_vm_balloon_stats) == 96, "balloon_stats");

enum msg_vm_swap_state {
	MSG_VM_SWAP_DISABLED = 0,
	MSG_VM_SWAP_READY = 1,
	MSG_VM_SWAP_PENDING = 2,
	MSG_VM_SWAP_ACTIVE = 3,
	MSG_VM_SWAP_FAILED = 4,
};

struct msg_vm_swap_status {
	uint32_t state; /* enum msg_vm_swap_state */
	uint32_t pad;
	uint64_t resident_bytes;
	uint64_t swapped_bytes;
};
_Static_assert(sizeof(struct msg_vm_swap_status) == 24, "swap_status");

#define MSG_VM_NAME_MAX 64
#define MSG_VM_DEVICE_NAME 16
#define MSG_VM_MAX_DEVICES 24

enum msg_vm_state {
	MSG_VM_STATE_RUNNING = 0,
	MSG_VM_STATE_VCPUS_SUSPENDED = 1, /* SUSPEND_VCPUS */
	MSG_VM_STATE_SUSPENDED = 2,	  /* SUSPEND_VM: vCPUs and devices asleep */
	MSG_VM_STATE_STOPPING = 3,
};

#define MSG_VM_DEV_JAILED 0x1u
#define MSG_VM_DEV_ALIVE 0x2u
#define MSG_VM_DEV_DRIVER_OK 0x4u   /* the guest driver set DRIVER_OK */
#define MSG_VM_DEV_NEEDS_RESET 0x8u /* DEVICE_NEEDS_RESET is set */
#define MSG_VM_DEV_FLAGS 0xfu

/* A PCI address as one number: bus << 8 | device << 3 | function. */
#define MSG_VM_PCI_ADDR(bus, dev) ((uint32_t)(bus) << 8 | (uint32_t)(dev) << 3)

struct msg_vm_device_status {
	char name[MSG_VM_DEVICE_NAME];	  /* "blk0" */
	char type[MSG_VM_DEVICE_NAME];	  /* "block" */
	char backend[MSG_VM_DEVICE_NAME]; /* a NIC's tap ("tap0"); empty for others */
	uint32_t pid;			  /* 0 once reaped */
	uint32_t flags;			  /* MSG_VM_DEV_* */
	uint64_t features;		  /* negotiated with the driver; 0 before */
	uint32_t pci_addr;		  /* MSG_VM_PCI_ADDR(), the bus as the guest numbered it */
	uint32_t virtio_type;
};
_Static_assert(sizeof(struct msg_vm_device_status) == 72, "device_status");

struct msg_vm_status {
	char name[MSG_VM_NAME_MAX];
	uint32_t state; /* enum msg_vm_state */
	uint32_t pid;	/* vmm's */
	uint64_t uptime_ms;
	uint64_t memory_bytes;
	uint32_t nvcpus;   /* 1..MSG_VM_MAX_VCPUS */
	uint32_t ndevices; /* 0..MSG_VM_MAX_DEVICES */
	struct msg_vm_device_status devices[MSG_VM_MAX_DEVICES]; /* zero from ndevices on */
};
_Static_assert(sizeof(struct msg_vm_status) == 96 + 72 * MSG_VM_MAX_DEVICES, "status");

/* RESP_HOTPLUG_NET: where an added NIC went. */
struct msg_vm_hotplug_net_done {
	char device[MSG_VM_DEVICE_NAME]; /* "net1" */
	uint32_t pci_addr;		 /* MSG_VM_PCI_ADDR() */
	uint32_t pad;
};
_Static_assert(sizeof(struct msg_vm_hotplug_net_done) == 24, "hotplug_net_done");

/* One event, as a datagram to a listener. */
struct msg_vm_event {
	uint32_t event;	  /* one MSG_VM_EVENT_* bit */
	uint32_t pad;
	uint64_t time_ms; /* since the VM started */
	char device[MSG_VM_DEVICE_NAME]; /* the device it is about, or empty */
	uint32_t pid;	  /* DEVICE_EXIT: its pid */
	int32_t status;	  /* DEVICE_EXIT: exit status, or -signal */
	uint64_t value;	  /* BALLOON_RESIZE: bytes; VM_STATE: enum msg_vm_state; DISK_RESIZE:
			     bytes; NET_HOTPLUG: 1 added, 0 removed */
	char text[MSG_VM_ERR_MESSAGE]; /* for a person; may be empty */
};
_Static_assert(sizeof(struct msg_vm_event) == 176, "event");

struct vm_request {
	struct msg_hdr hdr;
	union {
		struct msg_vm_balloon balloon;
		struct msg_vm_disk disk;
		struct msg_vm_hotplug_net hotplug_net;
		struct msg_vm_listener listener; /* REGISTER_ and UNREGISTER_LISTENER */
		struct msg_vm_unregister unregister;
		struct msg_vm_gpe gpe;
		struct msg_vm_snapshot snapshot;
		struct msg_vm_swap swap;
	};
};
_Static_assert(offsetof(struct vm_request, balloon) == sizeof(struct msg_hdr), "body");
_Static_assert(sizeof(struct vm_request) <= MSG_MAX_SIZE, "request size");

struct vm_response {
	struct msg_hdr hdr;
	union {
		struct msg_vm_err err;
		struct msg_vm_pid_tid pid_tid;
		struct msg_vm_balloon_stats balloon_stats;
		struct msg_vm_swap_status swap_status;
		struct msg_vm_status status;
		struct msg_vm_event event;
		struct msg_vm_hotplug_net_done hotplug_net_done;
	};
};
_Static_assert(offsetof(struct vm_response, err) == sizeof(struct msg_hdr), "body");
_Static_assert(sizeof(struct vm_response) <= MSG_MAX_SIZE, "response size");

/* Codecs: see msg_decode() and msg_encode() for the errors. Only HOTPLUG_NET ADD carries an fd
 * (the tap); every other message none. */
int msg_vm_decode_request(const void *buf, size_t len, unsigned int nfds, struct vm_request *out);
int msg_vm_encode_request(const struct vm_request *m, unsigned int nfds, void *buf, size_t cap,
			  size_t *len);
int msg_vm_decode_response(const void *buf, size_t len, unsigned int nfds, struct vm_response *out);
int msg_vm_encode_response(const struct vm_response *m, unsigned int nfds, void *buf, size_t cap,
			   size_t *len);
/* Makes r a RESP_ERR: err is -errno (anything else becomes -EIO), the message is cut to fit. */
void msg_vm_error(struct vm_response *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *msg_vm_name(uint32_t type);

#endif
