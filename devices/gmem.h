/*
 * Guest memory as a device process sees it: the guest RAM memfd, mapped shared, laid out by main
 * as up to GMEM_MAX_REGIONS regions of guest-physical space, each backed by a range of the memfd.
 * gmem_ptr() is the one place where a guest-physical address becomes a host pointer.
 */
#ifndef VMM_DEVICES_GMEM_H
#define VMM_DEVICES_GMEM_H

#include <stdbool.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 4

/* One range of guest RAM: [gpa, gpa + size) is bytes [offset, offset + size) of the memfd. */
struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;
};

struct gmem_slot {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct gmem {
	struct gmem_slot slot[GMEM_MAX_REGIONS];
	unsigned int n; /* slots in use; 0 when nothing is mapped */
	void *map;	/* our mapping of the memfd, or NULL when wrapping a buffer */
	uint64_t map_len;
};

/*
 * Maps the span of memfd that regions r[0..n) need (MAP_SHARED) after checking them: 1 to
 * GMEM_MAX_REGIONS regions, each nonzero, without overflow, inside the memfd (fstat) and not
 * overlapping another in guest-physical space. Does not keep memfd (the caller closes it).
 * Returns 0, -EINVAL for a bad layout, or -errno from fstat/mmap.
 */
int gmem_map(struct gmem *g, int memfd, const struct gmem_region *r, unsigned int n);

/* For tests and tools: the same checks, offsets taken inside buf[0..len). buf stays the caller's.
 */
int gmem_init_buffer(struct gmem *g, void *buf, uint64_t len, const struct gmem_region *r,
		     unsigned int n);

/* Unmaps (if gmem_map mapped) and empties g; harmless on an empty or already unmapped g. */
void gmem_unmap(struct gmem *g);

/*
 * The host pointer for guest bytes [gpa, gpa + len), or NULL when any of them is not RAM or they
 * span two regions. len 0 asks only whether gpa itself is RAM. Overflow-safe for any input.
 */
void *gmem_ptr(const struct gmem *g, uint64_t gpa, uint64_t len);

#endif
