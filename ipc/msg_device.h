/*
 * The ctrl tube (shared/DESIGN.md, "Tubes"): main asks, the device answers, one request at a time.
 * Main sends struct device_request, the device answers with struct device_response. Device-side
 * events (a config change, a failure) do not travel here. Wire format: msg.h.
 */
#ifndef VMM_IPC_MSG_DEVICE_H
#define VMM_IPC_MSG_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define MSG_DEVICE_MAX_QUEUES 16
#define MSG_DEVICE_MAX_REGIONS 4
/* Bytes of device-specific config space, and the most one read or write moves. */
#define MSG_DEVICE_CONFIG_MAX 256
/* Largest split virtqueue (virtio 1.2, 2.7). */
#define MSG_DEVICE_QUEUE_SIZE_MAX 32768
/* Device ids are those of virtio 1.2, 5; the transport adds them to 0x1040. */
#define MSG_DEVICE_TYPE_MAX 0xff
/* The largest shared memory window a device may ask for (it takes PCI MMIO hole space). */
#define MSG_DEVICE_SHM_MAX_MIB 256
/* An ACTIVATE's fds: a kick and an interrupt eventfd per queue, the config interrupt, memory. */
#define MSG_DEVICE_MAX_FDS (2 * MSG_DEVICE_MAX_QUEUES + 2)

/*
 * The fds a vmm-device process starts with, put there by whoever spawns it (main's
 * device_host.c, the device harness); nothing else is open but 0, 1 and 2.
 */
enum msg_device_fd {
	MSG_DEVICE_FD_CTRL = 3,	   /* ctrl tube: main asks, the device answers */
	MSG_DEVICE_FD_MEM = 4,	   /* mem tube: the device asks, main answers */
	MSG_DEVICE_FD_GUEST = 5,   /* guest memory memfd */
	MSG_DEVICE_FD_BACKEND = 6, /* the backend main opened (optional) */
	MSG_DEVICE_FD_SECCOMP = 7, /* a jailed device's compiled filter; closed by the jail */
	MSG_DEVICE_FD_END = 8,
};

enum msg_device_type {
	/* main -> device */
	MSG_DEVICE_HELLO = 0x0101,
	MSG_DEVICE_CONFIG_READ = 0x0102,
	MSG_DEVICE_CONFIG_WRITE = 0x0103,
	MSG_DEVICE_ACTIVATE = 0x0104,
	MSG_DEVICE_RESET = 0x0105,
	MSG_DEVICE_SLEEP = 0x0106,
	MSG_DEVICE_WAKE = 0x0107,
	MSG_DEVICE_SHUTDOWN = 0x0108,
	MSG_DEVICE_COMMAND = 0x0109, /* an operator's command for this device (vmm-ctl) */
	/* device -> main */
	MSG_DEVICE_INFO = 0x0181,	 /* answers HELLO */
	MSG_DEVICE_CONFIG_DATA = 0x0182, /* answers CONFIG_READ */
	MSG_DEVICE_RESPONSE = 0x0183,	 /* answers the rest, and any request that failed */
	/* device -> main, unasked: the last thing a device sends */
	MSG_DEVICE_SECCOMP_TRAP = 0x0184, /* its filter refused a syscall; it exits */
	/* device -> main, unasked, before HELLO when learning: the seccomp listener (1 fd) */
	MSG_DEVICE_SECCOMP_LISTENER = 0x0185,
	MSG_DEVICE_BALLOON_STATS = 0x0186, /* answers COMMAND BALLOON_STATS */
};

enum msg_device_command_op {
	/* balloon: the target size in bytes (a multiple of 4 KiB); the config interrupt tells the
	 * driver, which inflates or deflates; BalloonTargetReached on the mem tube when done */
	MSG_DEVICE_CMD_BALLOON_TARGET = 0,
	/* balloon: the driver's last statistics and the balloon's size: BALLOON_STATS */
	MSG_DEVICE_CMD_BALLOON_STATS = 1,
	/* block: the backend now has arg bytes (a multiple of 512; main resized it): capacity
	 * updated and the config interrupt raised */
	MSG_DEVICE_CMD_RESIZE = 2,
};

struct msg_device_command {
	uint32_t op; /* enum msg_device_command_op */
	uint32_t pad;
	uint64_t arg;
};
_Static_assert(sizeof(struct msg_device_command) == 16, "command");

#define MSG_DEVICE_BALLOON_NSTATS 10 /* virtio 1.2, 5.5.6.3: tags 0..9 */
struct msg_device_balloon_stats {
	uint64_t actual; /* bytes in the balloon (the driver's `actual`, in 4 KiB pages) */
	uint32_t valid;	 /* bit n: stats[n] was reported */
	uint32_t pad;
	uint64_t stats[MSG_DEVICE_BALLOON_NSTATS]; /* zero where not valid */
};
_Static_assert(sizeof(struct msg_device_balloon_stats) == 96, "balloon_stats");

struct msg_device_config_read {
	uint32_t offset; /* offset + len <= MSG_DEVICE_CONFIG_MAX */
	uint32_t len;	 /* 1..MSG_DEVICE_CONFIG_MAX */
};
_Static_assert(sizeof(struct msg_device_config_read) == 8, "config_read");

struct msg_device_config_write {
	uint32_t offset;
	uint32_t len;
	uint8_t data[MSG_DEVICE_CONFIG_MAX]; /* zero from len on */
};
_Static_assert(sizeof(struct msg_device_config_write) == 264, "config_write");

/* A slice of guest RAM and where it sits in the guest memory fd; all page-aligned. */
struct msg_device_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;
};
_Static_assert(sizeof(struct msg_device_region) == 24, "region");

struct msg_device_queue {
	uint64_t desc; /* guest physical addresses of the split ring's three parts */
	uint64_t avail;
	uint64_t used;
	uint16_t size;	 /* a power of two up to MSG_DEVICE_QUEUE_SIZE_MAX, if enabled */
	uint8_t enabled; /* 0 or 1; a disabled queue is not checked further */
	uint8_t pad0;
	uint32_t kick_fd; /* index into the message's fds, or MSG_FD_NONE */
	uint32_t irq_fd;
	uint32_t pad1;
};
_Static_assert(sizeof(struct msg_device_queue) == 40, "queue");

struct msg_device_activate {
	uint64_t features; /* negotiated */
	uint32_t nregions; /* 1..MSG_DEVICE_MAX_REGIONS, sorted by gpa, not overlapping */
	uint32_t nqueues;  /* 1..MSG_DEVICE_MAX_QUEUES */
	uint32_t nfds;	   /* fds riding along, up to MSG_DEVICE_MAX_FDS */
	uint32_t mem_fd;   /* index of the guest memory fd, or MSG_FD_NONE: handed over at spawn */
	uint32_t config_irq_fd; /* index, or MSG_FD_NONE */
	uint32_t pad;
	struct msg_device_region regions[MSG_DEVICE_MAX_REGIONS]; /* zero from nregions on */
	struct msg_device_queue queues[MSG_DEVICE_MAX_QUEUES];	  /* zero from nqueues on */
};
_Static_assert(sizeof(struct msg_device_activate) == 768, "activate");

struct msg_device_info {
	uint32_t device_type; /* virtio device id, 1..MSG_DEVICE_TYPE_MAX */
	uint32_t nqueues;     /* 1..MSG_DEVICE_MAX_QUEUES */
	uint64_t features;
	uint32_t config_size; /* 0..MSG_DEVICE_CONFIG_MAX */
	/* the device's shared memory window (virtio shmid 0) in MiB: 0 (none) or a power of two
	 * up to MSG_DEVICE_SHM_MAX_MIB; main puts it in a BAR and maps into it on request */
	uint32_t shm_size_mib;
	uint16_t queue_max[MSG_DEVICE_MAX_QUEUES]; /* powers of two; zero from nqueues on */
};
_Static_assert(sizeof(struct msg_device_info) == 56, "info");

struct msg_device_config_data {
	uint32_t len; /* 1..MSG_DEVICE_CONFIG_MAX */
	uint32_t pad;
	uint8_t data[MSG_DEVICE_CONFIG_MAX]; /* zero from len on */
};
_Static_assert(sizeof(struct msg_device_config_data) == 264, "config_data");

struct msg_device_status {
	int32_t status; /* 0, or -errno */
	uint32_t pad;
};
_Static_assert(sizeof(struct msg_device_status) == 8, "status");

struct msg_device_seccomp_trap {
	int32_t nr;    /* the x86_64 syscall number */
	uint32_t arch; /* AUDIT_ARCH_* it was made with */
};
_Static_assert(sizeof(struct msg_device_seccomp_trap) == 8, "seccomp_trap");

/* HELLO, RESET, SLEEP, WAKE and SHUTDOWN have no body. */
struct device_request {
	struct msg_hdr hdr;
	union {
		struct msg_device_config_read config_read;
		struct msg_device_config_write config_write;
		struct msg_device_activate activate;
		struct msg_device_command command;
	};
};
_Static_assert(offsetof(struct device_request, activate) == sizeof(struct msg_hdr), "body");
_Static_assert(sizeof(struct device_request) <= MSG_MAX_SIZE, "request size");

struct device_response {
	struct msg_hdr hdr;
	union {
		struct msg_device_info info;
		struct msg_device_config_data config_data;
		struct msg_device_status status;
		struct msg_device_seccomp_trap trap;
		struct msg_device_balloon_stats balloon_stats;
	};
};
_Static_assert(offsetof(struct device_response, info) == sizeof(struct msg_hdr), "body");
_Static_assert(sizeof(struct device_response) <= MSG_MAX_SIZE, "response size");

/* Codecs: see msg_decode() and msg_encode() for the errors. */
int msg_device_decode_request(const void *buf, size_t len, unsigned int nfds,
			      struct device_request *out);
int msg_device_encode_request(const struct device_request *m, unsigned int nfds, void *buf,
			      size_t cap, size_t *len);
int msg_device_decode_response(const void *buf, size_t len, unsigned int nfds,
			       struct device_response *out);
int msg_device_encode_response(const struct device_response *m, unsigned int nfds, void *buf,
			       size_t cap, size_t *len);
/* Makes r a RESPONSE carrying err: 0, or -errno (anything else becomes -EIO). */
void msg_device_status(struct device_response *r, int err);
/* The type's name for logs. */
const char *msg_device_name(uint32_t type);

struct tube;
/*
 * Main's side of a learning device's first message: its SECCOMP_LISTENER, within timeout_ms.
 * 0 and the listener in *fd (the caller's to close), or -errno (-EPROTO for another message).
 */
int msg_device_recv_listener(struct tube *t, int timeout_ms, int *fd);

#endif
