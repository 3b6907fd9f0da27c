/*
 * bzImage: the Linux x86 boot protocol (Documentation/x86/boot.rst). We use its 64-bit entry,
 * so the real-mode setup code is skipped: only the setup header and the protected-mode kernel
 * that follows the setup sectors matter.
 */
#ifndef VMM_MAIN_BZIMAGE_H
#define VMM_MAIN_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "zeropage.h"

#define BZIMAGE_MIN_VERSION 0x020c /* 2.12: xloadflags, hence XLF_KERNEL_64 */
#define BZIMAGE_ENTRY64_OFFSET 0x200

struct bzimage_info {
	struct setup_header hdr; /* for the zero page: code32_start set to load_addr */
	size_t hdr_len;		 /* bytes of hdr the protocol says to copy */
	uint64_t load_addr;	 /* where the protected-mode kernel went */
	uint64_t entry;		 /* load_addr + 0x200 */
	uint64_t end;		 /* first byte above what the kernel may use while decompressing */
	uint64_t initrd_end;	 /* first byte above the initrd_addr_max limit */
	uint32_t cmdline_max;	 /* characters, without the NUL */
};

/* True when the image carries the "HdrS" setup header magic. */
bool bzimage_probe(const uint8_t *k, size_t len);
/* Validates the setup header. Returns 0, or -EINVAL with one line in err. */
int bzimage_check(const uint8_t *k, size_t len, char *err, size_t errlen);
/*
 * Checks, then copies the protected-mode kernel to its load address (pref_address when it fits,
 * else 1 MiB). Returns 0, -EINVAL for a bad image, -E2BIG when it does not fit in RAM.
 */
int bzimage_load(struct guest_mem *m, const uint8_t *k, size_t len, struct bzimage_info *info,
		 char *err, size_t errlen);

#endif
