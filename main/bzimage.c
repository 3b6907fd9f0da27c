#include "bzimage.h"

#include <errno.h>
#include <string.h>

#include "boot.h"
#include "layout.h"
#include "util.h"

#define SECTOR_SIZE 512
#define SETUP_SECTS_DEFAULT 4 /* what setup_sects == 0 means */
/* We read the header up to init_size (protocol 2.10+, so present at 2.12). */
#define HEADER_END (SETUP_HEADER_OFFSET + offsetof(struct setup_header, init_size) + 4)

bool bzimage_probe(const uint8_t *k, size_t len)
{
	uint32_t magic;

	if (len < SETUP_HEADER_OFFSET + offsetof(struct setup_header, header) + sizeof(magic))
		return false;
	memcpy(&magic, k + SETUP_HEADER_OFFSET + offsetof(struct setup_header, header),
	       sizeof(magic));
	return magic == SETUP_HEADER_MAGIC;
}

/* Copies what the file has of the header; the rest stays zero. Needs len > 0x1f1. */
static void read_header(const uint8_t *k, size_t len, struct setup_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr, k + SETUP_HEADER_OFFSET, MIN(len - SETUP_HEADER_OFFSET, sizeof(*hdr)));
}

static uint64_t setup_len(const struct setup_header *hdr)
{
	unsigned int sects = hdr->setup_sects ? hdr->setup_sects : SETUP_SECTS_DEFAULT;

	return (uint64_t)(sects + 1) * SECTOR_SIZE;
}

static int check_version(const struct setup_header *hdr, char *err, size_t errlen)
{
	if (hdr->version < BZIMAGE_MIN_VERSION)
		return boot_error(err, errlen, -EINVAL,
				  "bzImage boot protocol %u.%02u is too old: the 64-bit entry "
				  "needs 2.12 or later",
				  hdr->version >> 8, hdr->version & 0xff);
	if (!(hdr->xloadflags & SETUP_XLF_KERNEL_64))
		return boot_error(err, errlen, -EINVAL,
				  "bzImage has no 64-bit entry point (XLF_KERNEL_64 is clear)");
	if (!(hdr->loadflags & SETUP_LOADED_HIGH))
		return boot_error(err, errlen, -EINVAL,
				  "bzImage is not loaded high (LOADED_HIGH is clear): a zImage");
	return 0;
}

int bzimage_check(const uint8_t *k, size_t len, char *err, size_t errlen)
{
	struct setup_header hdr;
	uint64_t setup;
	int ret;

	if (len < HEADER_END)
		return boot_error(err, errlen, -EINVAL,
				  "truncated bzImage: %zu bytes, its setup header alone needs %zu",
				  len, (size_t)HEADER_END);
	read_header(k, len, &hdr);
	if (hdr.header != SETUP_HEADER_MAGIC)
		return boot_error(err, errlen, -EINVAL, "not a bzImage: no \"HdrS\" at 0x202");
	if (hdr.boot_flag != SETUP_BOOT_FLAG)
		return boot_error(err, errlen, -EINVAL,
				  "bad bzImage: boot flag 0x%04x at 0x1fe, expected 0xaa55",
				  hdr.boot_flag);
	ret = check_version(&hdr, err, errlen);
	if (ret)
		return ret;
	setup = setup_len(&hdr);
	if (setup >= len)
		return boot_error(err, errlen, -EINVAL,
				  "truncated bzImage: %zu bytes, all of them setup (%llu bytes)",
				  len, (unsigned long long)setup);
	if (len - setup < (uint64_t)hdr.syssize * 16)
		return boot_error(err, errlen, -EINVAL,
				  "truncated bzImage: %llu bytes of kernel, the header says %llu",
				  (unsigned long long)(len - setup),
				  (unsigned long long)hdr.syssize * 16);
	return 0;
}

/* pref_address when the kernel and its decompression buffer fit there, else 1 MiB. */
static uint64_t load_addr(const struct guest_mem *m, const struct setup_header *hdr, uint64_t need)
{
	uint64_t pref = hdr->pref_address;

	if (pref >= HIMEM_START && pref < m->low_size && need <= m->low_size - pref)
		return pref;
	return HIMEM_START;
}

/*
 * Where the kernel runs once decompressed, as arch/x86/boot/compressed/head_64.S computes it:
 * a relocatable kernel aligns its load address up, but never goes below LOAD_PHYSICAL_ADDR
 * (which is pref_address); any other kernel runs at pref_address.
 */
static uint64_t runtime_start(const struct setup_header *hdr, uint64_t load)
{
	uint64_t align = hdr->kernel_alignment;
	uint64_t start = load;

	if (!hdr->relocatable_kernel)
		return hdr->pref_address ? hdr->pref_address : load;
	if (align && !(align & (align - 1)))
		start = ALIGN_UP(load, align);
	return MAX(start, hdr->pref_address);
}

static void fill_info(struct bzimage_info *info, const uint8_t *k, const struct setup_header *hdr,
		      uint64_t load, uint64_t end)
{
	/* The header ends at 0x202 + the byte at 0x201; we keep what we know of it. */
	size_t len = 0x202 + k[0x201] - SETUP_HEADER_OFFSET;

	info->hdr = *hdr;
	info->hdr.code32_start = (uint32_t)load;
	info->hdr_len = MIN(len, sizeof(info->hdr));
	info->load_addr = load;
	info->entry = load + BZIMAGE_ENTRY64_OFFSET;
	info->end = end;
	info->initrd_end = (uint64_t)hdr->initrd_addr_max + 1;
	info->cmdline_max = hdr->cmdline_size;
}

int bzimage_load(struct guest_mem *m, const uint8_t *k, size_t len, struct bzimage_info *info,
		 char *err, size_t errlen)
{
	struct setup_header hdr;
	uint64_t setup, payload, load, end;
	void *dst;
	int ret;

	ret = bzimage_check(k, len, err, errlen);
	if (ret)
		return ret;
	read_header(k, len, &hdr);
	setup = setup_len(&hdr);
	payload = len - setup;
	load = load_addr(m, &hdr, MAX(payload, (uint64_t)hdr.init_size));
	end = MAX(load + payload, runtime_start(&hdr, load) + hdr.init_size);
	dst = guest_mem_ptr(m, load, payload);
	if (!dst || end > m->low_size)
		return boot_error(err, errlen, -E2BIG,
				  "bzImage needs RAM up to %llu MiB to decompress, the guest has "
				  "%llu MiB below the PCI hole",
				  (unsigned long long)((end + MIB(1) - 1) >> 20),
				  (unsigned long long)(m->low_size >> 20));
	memcpy(dst, k + setup, payload);
	fill_info(info, k, &hdr, load, end);
	return 0;
}
