/*
 * The PVH boot ABI (xen/interface/hvm/start_info.h): struct hvm_start_info, its module list
 * and memory map, handed to the 32-bit PVH entry point in %ebx.
 */
#ifndef VMM_MAIN_PVH_H
#define VMM_MAIN_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "memory.h"
#include "zeropage.h"

#define PVH_START_MAGIC 0x336ec578 /* "xEn3" with the 0x80 bit of the "E" set */
#define PVH_START_VERSION 1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* the e820 types */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");

/* The module list follows the start info, 64-byte aligned. */
#define PVH_MODLIST (BOOT_PVH_INFO + 64)

/* Writes the start info at BOOT_PVH_INFO, the module list, and the memory map at BOOT_PVH_MEMMAP.
 */
int pvh_write(struct guest_mem *m, const struct boot_handoff *h);

#endif
