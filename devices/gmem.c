#include "gmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"

static bool region_ok(const struct gmem_region *r, uint64_t backing_len)
{
	if (r->size == 0)
		return false;
	if (r->gpa + r->size < r->gpa || r->offset + r->size < r->offset)
		return false;
	return r->offset + r->size <= backing_len;
}

static bool regions_overlap(const struct gmem_region *a, const struct gmem_region *b)
{
	/* Both ends are known not to wrap (region_ok ran first). */
	return a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size;
}

/* Checks a layout against a backing object of backing_len bytes. Returns 0 or -EINVAL. */
static int check_regions(const struct gmem_region *r, unsigned int n, uint64_t backing_len)
{
	unsigned int i, j;

	if (n == 0 || n > GMEM_MAX_REGIONS) {
		log_err("guest memory: %u regions (1 to %d allowed)", n, GMEM_MAX_REGIONS);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (!region_ok(&r[i], backing_len)) {
			log_err("guest memory: bad region %u: gpa 0x%llx size 0x%llx offset 0x%llx "
				"(backing 0x%llx bytes)",
				i, (unsigned long long)r[i].gpa, (unsigned long long)r[i].size,
				(unsigned long long)r[i].offset, (unsigned long long)backing_len);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (regions_overlap(&r[i], &r[j])) {
				log_err("guest memory: regions %u and %u overlap", j, i);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Fills the slots of g from r, base being the host address of backing offset base_off. */
static void fill_slots(struct gmem *g, uint8_t *base, uint64_t base_off,
		       const struct gmem_region *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		g->slot[i].gpa = r[i].gpa;
		g->slot[i].size = r[i].size;
		g->slot[i].host = base + (r[i].offset - base_off);
	}
	g->n = n;
}

int gmem_map(struct gmem *g, int memfd, const struct gmem_region *r, unsigned int n)
{
	uint64_t lo = UINT64_MAX, hi = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct stat st;
	unsigned int i;
	void *p;
	int ret;

	memset(g, 0, sizeof(*g));
	if (fstat(memfd, &st) < 0) {
		ret = -errno;
		log_err_errno("guest memory: fstat of fd %d", memfd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("guest memory: fd %d is not a memfd", memfd);
		return -EINVAL;
	}
	ret = check_regions(r, n, (uint64_t)st.st_size);
	if (ret < 0)
		return ret;
	/* Map only the span the regions use; mmap wants a page-aligned file offset. */
	for (i = 0; i < n; i++) {
		lo = MIN(lo, r[i].offset);
		hi = MAX(hi, r[i].offset + r[i].size);
	}
	lo = ALIGN_DOWN(lo, page);
	p = mmap(NULL, hi - lo, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memfd,
		 (off_t)lo);
	if (p == MAP_FAILED) {
		ret = -errno;
		log_err_errno("guest memory: cannot map 0x%llx bytes",
			      (unsigned long long)(hi - lo));
		return ret;
	}
	g->map = p;
	g->map_len = hi - lo;
	fill_slots(g, p, lo, r, n);
	return 0;
}

int gmem_init_buffer(struct gmem *g, void *buf, uint64_t len, const struct gmem_region *r,
		     unsigned int n)
{
	int ret;

	memset(g, 0, sizeof(*g));
	ret = check_regions(r, n, len);
	if (ret < 0)
		return ret;
	fill_slots(g, buf, 0, r, n);
	return 0;
}

void gmem_unmap(struct gmem *g)
{
	if (g->map)
		munmap(g->map, g->map_len);
	memset(g, 0, sizeof(*g));
}

void *gmem_ptr(const struct gmem *g, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < g->n; i++) {
		const struct gmem_slot *s = &g->slot[i];
		uint64_t off;

		if (gpa < s->gpa || gpa - s->gpa >= s->size)
			continue;
		/* Subtractions only: gpa + len may wrap, size - off cannot. */
		off = gpa - s->gpa;
		if (len > s->size - off)
			return NULL;
		return s->host + off;
	}
	return NULL;
}
