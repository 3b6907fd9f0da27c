/*
 * Virtio 1.x split virtqueues, device side: the only code that reads or writes rings. Everything
 * in a ring is the guest's and may change under us, so each value is read once into a local and
 * checked there. A malformed ring breaks the queue: virtq_pop() returns -EIO, the device sets
 * DEVICE_NEEDS_RESET and the queue does nothing more until virtq_init() runs again.
 */
#ifndef VMM_DEVICES_VIRTQ_H
#define VMM_DEVICES_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* Feature bit numbers this file implements. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTQ_MAX_SIZE 32768
/*
 * Segments one chain may have (IOV_MAX, so a chain always fits one preadv/pwritev). The spec
 * bounds a chain by the queue size, so a device that advertises a max queue size of at most
 * this never rejects a valid chain; longer chains are treated as malformed.
 */
#define VIRTQ_CHAIN_MAX 1024

/* Ring sizes in bytes for a queue of size entries, event fields included. */
#define VIRTQ_DESC_BYTES(size) (16ULL * (size))
#define VIRTQ_AVAIL_BYTES(size) (6ULL + 2ULL * (size))
#define VIRTQ_USED_BYTES(size) (6ULL + 8ULL * (size))

/* One guest buffer of a chain, already checked to lie in guest RAM. */
struct virtq_seg {
	void *ptr;
	uint32_t len;
	bool write; /* device-writable */
};

/*
 * A descriptor chain taken from the avail ring: seg[0..nread) are device-readable,
 * seg[nread..nseg) device-writable. Zero-length descriptors are checked and counted against
 * the chain length but produce no segment. 16 KiB: keep it off small stacks.
 */
struct virtq_chain {
	uint16_t head; /* give back to virtq_push() */
	unsigned int nseg;
	unsigned int nread;
	uint32_t read_len;  /* total device-readable bytes */
	uint32_t write_len; /* total device-writable bytes */
	struct virtq_seg seg[VIRTQ_CHAIN_MAX];
};

struct virtq {
	const struct gmem *mem;
	uint8_t *desc; /* host pointers to the three areas, checked by virtq_init() */
	uint8_t *avail;
	uint8_t *used;
	uint16_t size;
	uint16_t last_avail;	 /* next avail ring entry to take */
	uint16_t used_idx;	 /* next used ring entry to publish (our copy of used->idx) */
	uint16_t filled;	 /* entries written past used_idx by virtq_fill(), unpublished */
	uint16_t signalled_used; /* used_idx when virtq_should_notify() last ran */
	bool event_idx;
	bool indirect;
	bool ready;  /* virtq_init() succeeded */
	bool broken; /* the guest broke the ring; refuse work until virtq_init() */
};

/*
 * Sets q up for the ring at guest addresses desc/avail/used (16/2/4-aligned, fully in RAM, each
 * in one region) of size entries (a power of two up to VIRTQ_MAX_SIZE), with the negotiated
 * features (VIRTIO_F_VERSION_1 required). Indices start at 0. g must outlive q.
 * Returns 0 or -EINVAL (q is then not ready).
 */
int virtq_init(struct virtq *q, const struct gmem *g, uint16_t size, uint64_t desc, uint64_t avail,
	       uint64_t used, uint64_t features);
/* Forgets the ring (device reset): q does nothing until virtq_init(). */
void virtq_reset(struct virtq *q);

/*
 * Takes the next available chain into c. Returns 1 when it did, 0 when the ring is empty (or q
 * is not ready), -EIO when the ring is malformed: q is then broken and the caller must set
 * DEVICE_NEEDS_RESET. Logs once when it breaks.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/*
 * Returns chain head to the guest with written bytes written (at most the chain's write_len),
 * publishing the used element before the used index: virtq_fill() then virtq_flush(), so it
 * publishes whatever was filled before it too. Does nothing on a broken queue.
 */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/*
 * Fill then flush, for one completion spread over several chains (a mergeable rx frame):
 * virtq_fill() writes the next used element but leaves used idx alone, virtq_flush() publishes
 * every filled element with one used idx update, so the guest never sees some of them without
 * the others. virtq_fill() returns 0, -EINVAL (head out of range, or q not ready or broken) or
 * -ENOSPC when the whole ring is already filled (the guest cannot have more chains out).
 */
int virtq_fill(struct virtq *q, uint16_t head, uint32_t written);
void virtq_flush(struct virtq *q);

/* After one or more pushes: true when the guest wants an interrupt (EVENT_IDX or flags). */
bool virtq_should_notify(struct virtq *q);

/*
 * Kick suppression. Typical loop, so that no kick is lost:
 *   do { virtq_disable_notify(q); while (virtq_pop(q, c) > 0) ...; } while
 * (virtq_enable_notify(q)); virtq_enable_notify() returns true when buffers arrived meanwhile (pop
 * again), else false.
 */
void virtq_disable_notify(struct virtq *q);
bool virtq_enable_notify(struct virtq *q);

/*
 * Copy between buf and the readable (read) or writable (write) bytes of c starting at byte off
 * of that part; stops at the end of the last segment. Returns the bytes copied.
 */
size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *buf, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *buf, size_t len);

#endif
