#include "bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *ctx,
	    const char *name)
{
	struct bus_region *r;

	if (len == 0 || base + len < base)
		return -EINVAL;
	if (b->nregions == BUS_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned int i = 0; i < b->nregions; i++) {
		r = &b->regions[i];
		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	r = &b->regions[b->nregions++];
	r->base = base;
	r->len = len;
	r->ops = ops;
	r->ctx = ctx;
	r->name = name;
	return 0;
}

const struct bus_region *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	for (unsigned int i = 0; i < b->nregions; i++) {
		const struct bus_region *r = &b->regions[i];
		/* The whole access must fall inside one region. */
		if (addr >= r->base && addr - r->base < r->len && len <= r->len - (addr - r->base))
			return r;
	}
	return NULL;
}

bool bus_read(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_region *r = bus_find(b, addr, len);

	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	r->ops->read(r->ctx, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_region *r = bus_find(b, addr, len);

	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->ctx, addr - r->base, data, len);
	return true;
}
