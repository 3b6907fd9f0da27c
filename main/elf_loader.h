/*
 * Uncompressed vmlinux: an ELF64 x86-64 executable whose PT_LOAD segments go to their physical
 * addresses. A kernel built with CONFIG_PVH carries a Xen note (XEN_ELFNOTE_PHYS32_ENTRY) naming
 * its 32-bit PVH entry point; without it we use the 64-bit entry at e_entry, as Firecracker does.
 */
#ifndef VMM_MAIN_ELF_LOADER_H
#define VMM_MAIN_ELF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

#define ELF_NOTE_PHYS32_ENTRY 18 /* XEN_ELFNOTE_PHYS32_ENTRY, in a note named "Xen" */

struct elf_kernel {
	uint64_t entry;	    /* 64-bit entry point, physical */
	uint64_t pvh_entry; /* 32-bit PVH entry point, or 0 without the note */
	uint64_t start;	    /* lowest physical byte loaded */
	uint64_t end;	    /* first physical byte above the image, bss included */
};

/* True when the image starts with the ELF magic. */
bool elf_loader_probe(const uint8_t *k, size_t len);
/* Validates the ELF and program headers. Returns 0, or -EINVAL with one line in err. */
int elf_loader_check(const uint8_t *k, size_t len, char *err, size_t errlen);
/*
 * Finds the PVH entry in the PT_NOTE segments. Returns 0 and sets *entry, or -ENOENT when there
 * is none (or the ELF is not one elf_loader_check accepts).
 */
int elf_loader_pvh_entry(const uint8_t *k, size_t len, uint64_t *entry);
/*
 * Checks, then loads every PT_LOAD segment at p_paddr and zeroes its bss. Returns 0, -EINVAL
 * for a bad image or a segment below 1 MiB, -E2BIG for a segment beyond RAM.
 */
int elf_loader_load(struct guest_mem *m, const uint8_t *k, size_t len, struct elf_kernel *out,
		    char *err, size_t errlen);

#endif
