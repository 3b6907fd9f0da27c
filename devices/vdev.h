/*
 * A virtio device as the vmm-device process sees it: what entry.c does for every device, and
 * the table of what each device (rng.c, blk.c, ...) adds. Modelled after devices/rng.c.
 */
#ifndef VMM_DEVICES_VDEV_H
#define VMM_DEVICES_VDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"
#include "msg_device.h"
#include "tube.h"
#include "virtq.h"

#define VDEV_MAX_QUEUES MSG_DEVICE_MAX_QUEUES

/* The fds a device process starts with: ipc/msg_device.h. */
#define VDEV_FD_CTRL MSG_DEVICE_FD_CTRL
#define VDEV_FD_MEM MSG_DEVICE_FD_MEM
#define VDEV_FD_GUEST MSG_DEVICE_FD_GUEST
#define VDEV_FD_BACKEND MSG_DEVICE_FD_BACKEND

struct vdev;
struct vm_memory_request; /* ipc/msg_vm_memory.h */

struct vdev_ops {
	const char *name; /* the type name on vmm-device's command line: "rng", "block" */
	uint32_t virtio_type;
	unsigned int nqueues;
	uint16_t queue_max;
	uint64_t features; /* device-specific; entry.c adds VERSION_1, INDIRECT_DESC, EVENT_IDX */
	uint32_t config_size;
	/* Parses the device's own options (argv after the name) and checks the backend fd. */
	int (*init)(struct vdev *d, int argc, char **argv);
	/* Optional: the default writes nothing (config space is read-only). */
	int (*config_write)(struct vdev *d, uint32_t off, const void *buf, uint32_t len);
	/* Optional: after the queues are set up. */
	int (*activate)(struct vdev *d);
	/* Optional: after the queues are forgotten. */
	void (*reset)(struct vdev *d);
	/* The guest kicked queue q. */
	void (*notify)(struct vdev *d, unsigned int q);
	/* Optional: frees what init allocated; called once before exit, after init failed too. */
	void (*destroy)(struct vdev *d);
	/*
	 * Optional: an operator's command (MSG_DEVICE_COMMAND). Fills r (a RESPONSE with a status
	 * by default, or e.g. BALLOON_STATS). Without it every command is refused (-EOPNOTSUPP).
	 */
	void (*command)(struct vdev *d, const struct msg_device_command *c,
			struct device_response *r);
	/*
	 * Optional: runs at every turn of the loop, before it waits, so after main's requests of
	 * the last turn were answered: the place for timed work and for notices to main on the mem
	 * tube that a ctrl request caused (main may hold locks until it has its answer). Returns
	 * how many ms the loop may wait for events before the next turn, -1 for no limit.
	 */
	int (*tick)(struct vdev *d);
	/*
	 * Optional: the backend fd is readable. Called only while the device watches it
	 * (vdev_watch_backend()) and is active, not broken, not asleep; otherwise entry.c stops
	 * watching and the device starts again (e.g. from notify) when it wants to.
	 */
	void (*backend_ready)(struct vdev *d);
};

struct vdev {
	const struct vdev_ops *ops;
	const char *name; /* instance name, e.g. "rng0" */
	int backend_fd;
	int mem_fd;
	struct tube ctrl;
	struct tube mem_tube;
	struct gmem mem;
	bool mapped;
	uint64_t features; /* offered */
	uint64_t acked;	   /* negotiated, from ACTIVATE */
	uint8_t config[MSG_DEVICE_CONFIG_MAX]; /* what config reads return */
	unsigned int nqueues;
	struct virtq q[VDEV_MAX_QUEUES];
	int kick_fd[VDEV_MAX_QUEUES];
	int irq_fd[VDEV_MAX_QUEUES];
	int config_irq_fd;
	bool active;
	bool sleeping;
	bool broken; /* the guest broke a ring: DEVICE_NEEDS_RESET until reset */
	struct virtq_chain *chain; /* scratch for the device's loop (16 KiB: not on the stack) */
	void *priv;		   /* the device's own state */
	int epfd;		   /* entry.c's loop, for vdev_watch_backend() */
	bool backend_watched;
};

/* After pushes on queue q: interrupts the guest if it wants one. */
void vdev_interrupt(struct vdev *d, unsigned int q);
/* The config space changed: the config interrupt (none before ACTIVATE; the driver reads it). */
void vdev_config_changed(struct vdev *d);
/*
 * One request to main on the mem tube and its answer, within the tube timeout: main's status
 * (0 or -errno), or -errno when the tube failed. Not while main waits for a ctrl answer: see
 * vdev_ops.tick.
 */
int vdev_mem_call(struct vdev *d, const struct vm_memory_request *m);
/* A malformed ring on queue q: the device stops and needs a reset (logged once). */
void vdev_broken(struct vdev *d, unsigned int q);

/* Starts or stops watching the backend fd for input (ops->backend_ready). Idempotent. */
void vdev_watch_backend(struct vdev *d, bool on);

/* devices/device_table.c */
const struct vdev_ops *device_table_find(const char *name);

#endif
