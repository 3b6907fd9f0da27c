#include "pvh.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

_Static_assert(PVH_MODLIST + sizeof(struct hvm_modlist_entry) <= BOOT_PVH_MEMMAP,
	       "the module list runs into the PVH memory map");
_Static_assert(BOOT_PVH_MEMMAP + BOOT_E820_MAX * sizeof(struct hvm_memmap_table_entry) <=
		   BOOT_ZERO_PAGE,
	       "the PVH memory map runs into the zero page");

static int write_memmap(struct guest_mem *m, const struct boot_handoff *h)
{
	struct hvm_memmap_table_entry *mm;
	unsigned int i;

	mm = guest_mem_ptr(m, BOOT_PVH_MEMMAP, (uint64_t)h->ne820 * sizeof(*mm));
	if (!mm || h->ne820 > BOOT_E820_MAX)
		return -EFAULT;
	for (i = 0; i < h->ne820; i++) {
		mm[i] = (struct hvm_memmap_table_entry){
		    .addr = h->e820[i].addr,
		    .size = h->e820[i].size,
		    .type = h->e820[i].type,
		};
	}
	return 0;
}

int pvh_write(struct guest_mem *m, const struct boot_handoff *h)
{
	struct hvm_start_info *si = guest_mem_ptr(m, BOOT_PVH_INFO, sizeof(*si));
	struct hvm_modlist_entry *mod = guest_mem_ptr(m, PVH_MODLIST, sizeof(*mod));

	if (!si || !mod)
		return -EFAULT;
	*si = (struct hvm_start_info){
	    .magic = PVH_START_MAGIC,
	    .version = PVH_START_VERSION,
	    .cmdline_paddr = h->cmdline_addr,
	    .memmap_paddr = BOOT_PVH_MEMMAP,
	    .memmap_entries = h->ne820,
	};
	memset(mod, 0, sizeof(*mod));
	if (h->initrd_len) {
		*mod = (struct hvm_modlist_entry){.paddr = h->initrd_addr, .size = h->initrd_len};
		si->nr_modules = 1;
		si->modlist_paddr = PVH_MODLIST;
	}
	return write_memmap(m, h);
}
