/*
 * The device harness (shared/DESIGN.md, "How it is tested"): plays main and the guest driver
 * against a real vmm-device process, without KVM.
 *
 * As main it creates the guest memory (a sealed memfd), spawns vmm-device with its tubes, memory
 * and backend at the fds of devices/vdev.h, says HELLO, ACTIVATEs, RESETs, and serves the
 * device's mem tube from a thread (every request answered with status 0 and recorded). As the
 * guest driver it lays out split rings in that memory, writes descriptors and avail entries,
 * kicks, and takes used elements back, waking on the interrupt eventfd.
 *
 * Guest memory layout (one region, gpa 0 = memfd offset 0):
 *   HARNESS_RING_BASE + q * HARNESS_RING_STRIDE   queue q's descriptor table, avail, used
 *   HARNESS_IND_BASE + q * HARNESS_IND_STRIDE     queue q's indirect tables, one slot per head
 *   HARNESS_DATA_BASE ..                         buffers handed out by harness_alloc()
 *
 * Every wait is bounded (HARNESS_TIMEOUT_MS unless the call takes a timeout). Functions return
 * 0 or a negative errno like the rest of the tree. One struct harness per device; not
 * thread-safe apart from the mem tube thread it runs itself.
 */
#ifndef VMM_TESTS_HARNESS_H
#define VMM_TESTS_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "msg_device.h"
#include "msg_vm_memory.h"
#include "tube.h"

#define HARNESS_TIMEOUT_MS 5000
#define HARNESS_MEM_SIZE (64ULL << 20)
#define HARNESS_QUEUE_MAX 1024 /* largest ring the harness lays out */
#define HARNESS_QUEUE_DEFAULT 256
#define HARNESS_RING_BASE 0x100000ULL
#define HARNESS_RING_STRIDE 0x10000ULL /* 16 KiB table + avail at +0x4000 + used at +0x8000 */
#define HARNESS_IND_BASE 0x200000ULL
#define HARNESS_IND_STRIDE 0x40000ULL /* divided evenly among the queue's heads */
#define HARNESS_DATA_BASE 0x800000ULL
#define HARNESS_RANGES_MAX 256 /* free and reclaim ranges recorded */

/* Feature bits the tests name (virtio 1.2, 6 and 5.2.3). */
#define HARNESS_F(bit) (1ULL << (bit))

/* One guest buffer of a chain. */
struct harness_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

struct harness_used {
	uint32_t id;
	uint32_t len;
};

struct harness_queue {
	bool enabled;
	uint16_t size;
	uint64_t desc, avail, used; /* guest-physical */
	int kick_fd;		    /* ours: we write it; a copy went to the device */
	int irq_fd;		    /* ours: we read it */
	uint16_t avail_idx;	    /* the next avail idx we publish */
	uint16_t kicked_idx;	    /* avail idx at the last kick decision */
	uint16_t used_seen;	    /* used elements taken back */
	uint16_t free_head;	    /* free descriptors, linked through chain_next */
	uint16_t nfree;
	uint16_t chain_next[HARNESS_QUEUE_MAX]; /* our record of each chain we built */
	uint16_t chain_len[HARNESS_QUEUE_MAX];	/* descriptors in the chain at this head */
	bool always_kick;			/* ignore the device's kick suppression */
	bool manual_irq; /* leave used_event alone (EVENT_IDX tests set it themselves) */
	uint64_t irqs;	 /* interrupt eventfd counts read so far */
	uint64_t kicks;	 /* kicks written */
};

struct harness_spec {
	const char *type;	 /* "rng", "block" */
	const char *name;	 /* instance name; NULL: "<type>0" */
	int backend_fd;		 /* handed over at fd 6, or -1; stays the caller's */
	const char *const *args; /* device options after "--", NULL-terminated; NULL: none */
	uint64_t mem_size;	 /* 0: HARNESS_MEM_SIZE */
};

struct harness {
	bool inited;
	pid_t pid;	 /* the device, until reaped */
	int exit_status; /* waitpid status once reaped, else -1 */
	struct tube ctrl;
	struct tube mem;
	int memfd;
	uint8_t *ram;
	uint64_t mem_size;
	uint64_t data_next; /* harness_alloc()'s cursor */
	struct msg_device_info info;
	uint64_t features; /* acked at the last ACTIVATE */
	int config_irq_fd;
	unsigned int nqueues; /* laid out by harness_layout() */
	struct harness_queue q[MSG_DEVICE_MAX_QUEUES];

	/* The mem tube server (a thread: the device blocks on it while we may be in a ctrl call).
	 */
	pthread_t mem_thread;
	bool mem_running;
	int mem_stop_fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int mem_requests;  /* every request received */
	unsigned int mem_bad;	    /* requests that did not decode */
	unsigned int needs_reset;   /* NEEDS_RESET notices */
	uint32_t needs_reset_queue; /* the queue the last one named */
	uint32_t last_mem_type;
	/*
	 * Balloon notices: FREE_RANGES and RECLAIM_RANGES requests and the ranges they named, in
	 * order (the first HARNESS_RANGES_MAX kept, all counted), and BALLOON_TARGET_REACHED with
	 * the size it told. Read them with lock held.
	 */
	unsigned int free_requests;
	unsigned int nfreed;
	struct msg_vm_memory_range freed[HARNESS_RANGES_MAX];
	unsigned int reclaim_requests;
	unsigned int nreclaimed;
	struct msg_vm_memory_range reclaimed[HARNESS_RANGES_MAX];
	unsigned int target_reached;
	uint64_t target_bytes;
	struct jail_learn *learn; /* VMM_HARNESS_LEARN */
};

/* The vmm-device to run: $VMM_DEVICE_BIN, else the one CMake built. */
const char *harness_device_bin(void);

/*
 * Creates the guest memory, spawns the device like main's device_host.c does and starts the mem
 * tube thread. On failure everything is undone. harness_start() adds HELLO: -ENODEV when the
 * device exited before answering (an unknown type, bad options, a backend it refused).
 */
int harness_spawn(struct harness *h, const struct harness_spec *s);
int harness_hello(struct harness *h);
int harness_start(struct harness *h, const struct harness_spec *s);
/* SIGKILL, reap, stop the thread, close and unmap everything. Harmless on a zeroed or stopped h. */
void harness_stop(struct harness *h);
/* waitpid(WNOHANG): true while the device runs (a reaped status lands in exit_status). */
bool harness_alive(struct harness *h);

/* ---- ctrl tube (main's side) ---- */

/* Encodes q, sends it with fds and decodes the answer into r. */
int harness_call(struct harness *h, const struct device_request *q, const int *fds,
		 unsigned int nfds, struct device_response *r);
/* Sends raw bytes (anything at all) and decodes the answer. */
int harness_call_raw(struct harness *h, const void *buf, size_t len, const int *fds,
		     unsigned int nfds, struct device_response *r);
/* A RESPONSE's status, or -EPROTO when r is some other type than want (0: RESPONSE only). */
int harness_status(const struct device_response *r, uint32_t want);
int harness_config_read(struct harness *h, uint32_t off, void *buf, uint32_t len);
/* RESET: returns the device's status; the harness forgets its queues and eventfds too. */
int harness_reset(struct harness *h);

/*
 * Lays out queues 0..nqueues-1 (size entries, 0: min(device max, HARNESS_QUEUE_DEFAULT)) at the
 * default addresses and zeroes their rings. The addresses may be changed before activating.
 */
int harness_layout(struct harness *h, unsigned int nqueues, uint16_t size);
/* Makes the eventfds and sends ACTIVATE for the laid-out queues; the device's status. */
int harness_send_activate(struct harness *h, uint64_t features);
/* Both, for every queue the device has. */
int harness_activate(struct harness *h, uint64_t features);

/* ---- guest memory ---- */

/* Host pointer to guest bytes [gpa, gpa + len), or NULL outside guest memory. */
void *harness_ptr(struct harness *h, uint64_t gpa, uint64_t len);
/* len bytes of the data area, page-aligned and zeroed; 0 when it is used up. */
uint64_t harness_alloc(struct harness *h, uint64_t len);

/* ---- the guest driver ---- */

/*
 * Writes the chain bufs[0..n) (readable ones first) into free descriptors, or into one
 * descriptor pointing at an indirect table when indirect is set, and puts its head in the avail
 * ring without publishing it. Returns the head, -ENOSPC (no free descriptors), -E2BIG.
 */
int harness_add(struct harness *h, unsigned int qi, const struct harness_buf *bufs, unsigned int n,
		bool indirect);
/* Publishes what harness_add() queued and kicks unless the device suppressed kicks. */
void harness_kick(struct harness *h, unsigned int qi);
/* harness_add() + harness_kick(). */
int harness_submit(struct harness *h, unsigned int qi, const struct harness_buf *bufs,
		   unsigned int n, bool indirect);
/* Takes the next used element if there is one: 1, or 0. Frees its descriptors. */
int harness_poll_used(struct harness *h, unsigned int qi, struct harness_used *u);
/*
 * Waits up to timeout_ms for the next used element, waking on the interrupt eventfd and
 * re-reading used idx. 0, -ETIMEDOUT, or -ECHILD when the device died.
 */
int harness_wait_used(struct harness *h, unsigned int qi, struct harness_used *u, int timeout_ms);
/* One chain submitted and waited for; -EPROTO if another head came back. */
int harness_run(struct harness *h, unsigned int qi, const struct harness_buf *bufs, unsigned int n,
		bool indirect, struct harness_used *u);
/* Reads what the interrupt eventfd counted since the last look; returns the running total. */
uint64_t harness_irqs(struct harness *h, unsigned int qi);
/*
 * The interrupts of every used entry seen so far, counted: a device signals just after it
 * publishes, so used idx can show an entry whose interrupt is still on its way (slow devices:
 * ASan, the learning run). A round trip through the device's event loop (a config read) comes
 * after that signal (the devices are single-threaded). Returns harness_irqs(), or UINT64_MAX
 * when the device did not answer.
 */
uint64_t harness_irqs_settled(struct harness *h, unsigned int qi);

/* Interrupt suppression fields the driver owns. */
void harness_set_avail_flags(struct harness *h, unsigned int qi, uint16_t flags);
void harness_set_used_event(struct harness *h, unsigned int qi, uint16_t idx);

/* ---- raw ring access, for hostile tests ---- */

void harness_put_desc(struct harness *h, unsigned int qi, uint32_t idx, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next);
/* Puts head into the avail ring at our avail idx and publishes idx + 1. */
void harness_put_avail(struct harness *h, unsigned int qi, uint16_t head);
/* Publishes any avail idx at all. */
void harness_set_avail_idx(struct harness *h, unsigned int qi, uint16_t idx);
/* Writes the kick eventfd, whatever the device asked. */
void harness_notify(struct harness *h, unsigned int qi);
uint16_t harness_used_idx(struct harness *h, unsigned int qi);

/* ---- what the device told "main" ---- */

/* Waits until at least count NEEDS_RESET notices arrived: 0 or -ETIMEDOUT. */
int harness_wait_needs_reset(struct harness *h, unsigned int count, int timeout_ms);
/* Waits until *counter (one of the mem tube counts above) reaches count: 0 or -ETIMEDOUT. */
int harness_wait_count(struct harness *h, const unsigned int *counter, unsigned int count,
		       int timeout_ms);
/* Waits for eventfd fd to be signalled and reads it: its count, or -ETIMEDOUT. */
int64_t harness_wait_eventfd(int fd, int timeout_ms);

#endif
