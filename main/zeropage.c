#include "zeropage.h"

#include <errno.h>
#include <string.h>

#include "layout.h"
#include "util.h"

/* vmlinux has no setup header of its own: say what a bzImage of this protocol would say. */
static void fake_header(struct setup_header *hdr)
{
	hdr->boot_flag = SETUP_BOOT_FLAG;
	hdr->header = SETUP_HEADER_MAGIC;
	hdr->kernel_alignment = 0x1000000;
}

int zeropage_write(struct guest_mem *m, const struct setup_header *hdr, size_t hdr_len,
		   const struct boot_handoff *h)
{
	struct boot_params *bp = guest_mem_ptr(m, BOOT_ZERO_PAGE, sizeof(*bp));
	unsigned int i;

	if (!bp || h->ne820 > ZEROPAGE_E820_MAX)
		return -EFAULT;
	memset(bp, 0, sizeof(*bp));
	if (hdr)
		memcpy(&bp->hdr, hdr, MIN(hdr_len, sizeof(bp->hdr)));
	else
		fake_header(&bp->hdr);
	bp->hdr.type_of_loader = SETUP_LOADER_UNDEFINED;
	bp->hdr.cmd_line_ptr = (uint32_t)h->cmdline_addr;
	if (!hdr)
		bp->hdr.cmdline_size = h->cmdline_len;
	bp->hdr.ramdisk_image = (uint32_t)h->initrd_addr;
	bp->hdr.ramdisk_size = (uint32_t)h->initrd_len;
	for (i = 0; i < h->ne820; i++) {
		bp->e820_table[i].addr = h->e820[i].addr;
		bp->e820_table[i].size = h->e820[i].size;
		bp->e820_table[i].type = h->e820[i].type;
	}
	bp->e820_entries = (uint8_t)h->ne820;
	return 0;
}
