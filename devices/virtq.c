#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "util.h"

/*
 * Offsets inside the areas (virtio 1.x, 2.7): avail = {flags, idx, ring[size], used_event},
 * used = {flags, idx, ring[size] of {id, len}, avail_event}.
 */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING(i) (4 + 2 * (size_t)(i))
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING(i) (4 + 8 * (size_t)(i))

/*
 * A descriptor as the guest laid it out. Packed (alignment 1) because an indirect table may sit
 * at any address; read through a volatile pointer so that each field is loaded exactly once.
 */
struct desc_wire {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));
_Static_assert(sizeof(struct desc_wire) == 16, "virtq_desc is 16 bytes");

/* Our own copy of one descriptor: all checks run on this, never on guest memory. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Where a chain walk is: which table, how far, and what it has seen. */
struct walk {
	const uint8_t *table;
	uint32_t tsize; /* entries in table */
	bool in_indirect;
	bool seen_write;
	unsigned int steps; /* descriptors walked, indirect pointer excluded */
	unsigned int limit;
	uint64_t read_len;
	uint64_t write_len;
};

/* Ring fields are naturally aligned (virtq_init checked), so plain atomics work on them. */
static uint16_t load16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, order));
}

static void store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, htole16(v), order);
}

static void desc_read(const uint8_t *table, uint32_t i, struct desc *d)
{
	const volatile struct desc_wire *w = (const volatile struct desc_wire *)(table + 16 * i);

	d->addr = le64toh(w->addr);
	d->len = le32toh(w->len);
	d->flags = le16toh(w->flags);
	d->next = le16toh(w->next);
}

/* The guest broke the ring: say why once, then refuse all work until virtq_init(). */
static int fail(struct virtq *q, const char *why, uint64_t val)
{
	q->broken = true;
	log_warn("virtq: %s (0x%llx); queue stopped until reset", why, (unsigned long long)val);
	return -EIO;
}

static void *area(const struct gmem *g, const char *name, uint64_t gpa, uint64_t len,
		  unsigned int align)
{
	void *p = gmem_ptr(g, gpa, len);

	/* The host address is checked too: atomics need it aligned, not just the gpa. */
	if (gpa % align || !p || (uintptr_t)p % align) {
		log_warn("virtq: %s ring at 0x%llx (0x%llx bytes) is misaligned or not in RAM",
			 name, (unsigned long long)gpa, (unsigned long long)len);
		return NULL;
	}
	return p;
}

int virtq_init(struct virtq *q, const struct gmem *g, uint16_t size, uint64_t desc, uint64_t avail,
	       uint64_t used, uint64_t features)
{
	memset(q, 0, sizeof(*q));
	if (size == 0 || (size & (size - 1)) || size > VIRTQ_MAX_SIZE) {
		log_warn("virtq: bad queue size %u", size);
		return -EINVAL;
	}
	if (!(features & (1ULL << VIRTIO_F_VERSION_1))) {
		log_warn("virtq: VIRTIO_F_VERSION_1 not negotiated (legacy rings unsupported)");
		return -EINVAL;
	}
	q->desc = area(g, "descriptor", desc, VIRTQ_DESC_BYTES(size), 16);
	q->avail = area(g, "available", avail, VIRTQ_AVAIL_BYTES(size), 2);
	q->used = area(g, "used", used, VIRTQ_USED_BYTES(size), 4);
	if (!q->desc || !q->avail || !q->used) {
		memset(q, 0, sizeof(*q));
		return -EINVAL;
	}
	q->mem = g;
	q->size = size;
	q->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	q->ready = true;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

/* Switches the walk to the indirect table d points to (d is the last of the main chain). */
static int enter_indirect(struct virtq *q, struct walk *w, const struct desc *d)
{
	const uint8_t *table;

	if (!q->indirect)
		return fail(q, "INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC", d->addr);
	if (w->in_indirect)
		return fail(q, "nested INDIRECT descriptor", d->addr);
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return fail(q, "INDIRECT descriptor with NEXT", d->addr);
	if (d->len == 0 || d->len % 16 || d->len / 16 > w->limit)
		return fail(q, "bad indirect table length", d->len);
	/* The WRITE flag of an indirect pointer means nothing (spec 2.7.5.3.2): ignored. */
	table = gmem_ptr(q->mem, d->addr, d->len);
	if (!table)
		return fail(q, "indirect table outside guest RAM", d->addr);
	w->table = table;
	w->tsize = d->len / 16;
	w->in_indirect = true;
	return 0;
}

/* Checks one buffer descriptor and appends it to c. */
static int add_seg(struct virtq *q, struct walk *w, struct virtq_chain *c, const struct desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *ptr;

	/* Counting steps catches loops: a chain may not be longer than the queue. */
	if (++w->steps > w->limit)
		return fail(q, "descriptor chain longer than the queue (loop?)", w->steps);
	if (!write && w->seen_write)
		return fail(q, "device-readable descriptor after a device-writable one", d->addr);
	w->seen_write |= write;
	if (d->len == 0)
		return 0;
	ptr = gmem_ptr(q->mem, d->addr, d->len);
	if (!ptr)
		return fail(q, "buffer outside guest RAM", d->addr);
	/* At most VIRTQ_CHAIN_MAX u32 lengths: the u64 sums cannot wrap. */
	if (write)
		w->write_len += d->len;
	else
		w->read_len += d->len;
	if (w->read_len > UINT32_MAX || w->write_len > UINT32_MAX)
		return fail(q, "descriptor chain of 4 GiB or more", d->len);
	c->seg[c->nseg].ptr = ptr;
	c->seg[c->nseg].len = d->len;
	c->seg[c->nseg].write = write;
	c->nseg++;
	if (!write)
		c->nread++;
	return 0;
}

static int walk_chain(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	struct walk w = {
		.table = q->desc,
		.tsize = q->size,
		.limit = MIN(q->size, VIRTQ_CHAIN_MAX),
	};
	uint32_t i = head;
	struct desc d;
	int ret;

	c->head = head;
	c->nseg = c->nread = 0;
	/* Ends: each pass adds a step (bounded by limit) or enters the one allowed table. */
	for (;;) {
		desc_read(w.table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			ret = enter_indirect(q, &w, &d);
			if (ret < 0)
				return ret;
			i = 0;
			continue;
		}
		ret = add_seg(q, &w, c, &d);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= w.tsize)
			return fail(q, "next descriptor index out of range", d.next);
		i = d.next;
	}
	c->read_len = (uint32_t)w.read_len;
	c->write_len = (uint32_t)w.write_len;
	return 0;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail_idx, pending, head;
	int ret;

	if (q->broken)
		return -EIO;
	if (!q->ready)
		return 0;
	/* Acquire: the ring entry and descriptors written before avail idx are visible to us. */
	avail_idx = load16(q->avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending > q->size)
		return fail(q, "avail idx ahead of the device by more than the queue size",
			    pending);
	if (pending == 0)
		return 0;
	head = load16(q->avail + AVAIL_RING(q->last_avail & (q->size - 1)), __ATOMIC_RELAXED);
	if (head >= q->size)
		return fail(q, "chain head out of range", head);
	ret = walk_chain(q, head, c);
	if (ret < 0)
		return ret;
	q->last_avail++;
	return 1;
}

int virtq_fill(struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *elem;

	if (!q->ready || q->broken)
		return -EINVAL;
	if (head >= q->size) {
		log_err("virtq: push of head %u on a queue of %u", head, q->size);
		return -EINVAL;
	}
	if (q->filled == q->size) {
		log_err("virtq: %u used elements filled and not flushed", q->filled);
		return -ENOSPC;
	}
	elem = q->used + USED_RING((uint16_t)(q->used_idx + q->filled) & (q->size - 1));
	__atomic_store_n((uint32_t *)elem, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(elem + 4), htole32(written), __ATOMIC_RELAXED);
	q->filled++;
	return 0;
}

void virtq_flush(struct virtq *q)
{
	if (!q->ready || q->broken || q->filled == 0)
		return;
	q->used_idx = (uint16_t)(q->used_idx + q->filled);
	q->filled = 0;
	/* Release: the elements and the data written into the buffers land before used idx. */
	store16(q->used + USED_IDX, q->used_idx, __ATOMIC_RELEASE);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	if (virtq_fill(q, head, written) == 0)
		virtq_flush(q);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx, event;

	if (!q->ready || q->broken)
		return false;
	/*
	 * Full barrier: our used idx store must be visible before we read the guest's suppression
	 * fields, or the guest could re-enable interrupts after our read and never see the update.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = now;
	if (now == old)
		return false;
	if (!q->event_idx)
		return !(load16(q->avail + AVAIL_FLAGS, __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = load16(q->avail + AVAIL_RING(q->size), __ATOMIC_RELAXED);
	/* vring_need_event(): did used idx move past used_event since the last interrupt? */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void virtq_disable_notify(struct virtq *q)
{
	/* With EVENT_IDX a stale avail_event already stops kicks until it is moved again. */
	if (!q->ready || q->broken || q->event_idx)
		return;
	store16(q->used + USED_FLAGS, VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	if (q->event_idx)
		store16(q->used + USED_RING(q->size), q->last_avail, __ATOMIC_RELAXED);
	else
		store16(q->used + USED_FLAGS, 0, __ATOMIC_RELAXED);
	/*
	 * Full barrier: the store above must be visible before we re-read avail idx. Otherwise the
	 * guest may add a buffer, see notifications still off and not kick, while we miss it.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(q->avail + AVAIL_IDX, __ATOMIC_ACQUIRE) != q->last_avail;
}

/*
 * Copies len bytes at byte off of segments seg[0..n): into out (from the guest) when out is set,
 * else from in (to the guest). Never touches a byte outside a segment.
 */
static size_t chain_copy(const struct virtq_seg *seg, unsigned int n, size_t off, uint8_t *out,
			 const uint8_t *in, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		uint8_t *p = seg[i].ptr;
		size_t chunk;

		if (off >= seg[i].len) {
			off -= seg[i].len;
			continue;
		}
		chunk = MIN(seg[i].len - off, len - done);
		if (out)
			memcpy(out + done, p + off, chunk);
		else
			memcpy(p + off, in + done, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *buf, size_t len)
{
	return chain_copy(c->seg, c->nread, off, buf, NULL, len);
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *buf, size_t len)
{
	return chain_copy(c->seg + c->nread, c->nseg - c->nread, off, NULL, buf, len);
}
