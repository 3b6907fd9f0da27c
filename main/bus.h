/*
 * The PIO and MMIO buses: address ranges mapped to device handlers. Built before the vCPUs
 * start and read-only afterwards, so lookups need no lock; each device serialises itself.
 */
#ifndef VMM_MAIN_BUS_H
#define VMM_MAIN_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* off is relative to the region's base; len is 1, 2, 4 or 8. */
	void (*read)(void *ctx, uint64_t off, uint8_t *data, uint32_t len);
	void (*write)(void *ctx, uint64_t off, const uint8_t *data, uint32_t len);
};

struct bus_region {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *ctx;
	const char *name;
};

#define BUS_MAX_REGIONS 64

struct bus {
	const char *name; /* "pio" or "mmio" */
	struct bus_region regions[BUS_MAX_REGIONS];
	unsigned int nregions;
};

void bus_init(struct bus *b, const char *name);
/* Returns 0, -EEXIST when the range overlaps another, -ENOSPC when the bus is full. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *ctx,
	    const char *name);
const struct bus_region *bus_find(const struct bus *b, uint64_t addr, uint32_t len);
/* Dispatch an access. Returns false when no device claims it (reads then see all ones). */
bool bus_read(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len);
bool bus_write(const struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len);

#endif
