/*
 * The Linux x86 boot protocol's wire structures (Documentation/x86/boot.rst, bootparam.h):
 * the setup header of a bzImage and the "zero page" (struct boot_params) handed to the 64-bit
 * entry point in %rsi. Our own definitions; offsets pinned against the kernel's.
 */
#ifndef VMM_MAIN_ZEROPAGE_H
#define VMM_MAIN_ZEROPAGE_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "memory.h"

#define SETUP_HEADER_OFFSET 0x1f1
#define SETUP_HEADER_MAGIC 0x53726448 /* "HdrS" at 0x202 */
#define SETUP_BOOT_FLAG 0xaa55
#define SETUP_LOADED_HIGH 0x01	    /* loadflags: protected-mode code at 1 MiB or above */
#define SETUP_XLF_KERNEL_64 0x0001  /* xloadflags: 64-bit entry at load address + 0x200 */
#define SETUP_LOADER_UNDEFINED 0xff /* type_of_loader for a boot loader without an id */

struct setup_header {
	uint8_t setup_sects; /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize; /* 0x1f4: protected-mode code in 16-byte paragraphs */
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag; /* 0x1fe */
	uint16_t jump;	    /* 0x200: its second byte is the header's length past 0x202 */
	uint32_t header;    /* 0x202 */
	uint16_t version;   /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader; /* 0x210 */
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start; /* 0x214 */
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;	  /* 0x228 */
	uint32_t initrd_addr_max; /* 0x22c: highest byte the initrd may occupy */
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;   /* 0x236 */
	uint32_t cmdline_size; /* 0x238: without the terminating NUL */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address; /* 0x258 */
	uint32_t init_size;    /* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

_Static_assert(sizeof(struct setup_header) == 0x26c - SETUP_HEADER_OFFSET, "setup_header size");
_Static_assert(offsetof(struct setup_header, header) == 0x202 - SETUP_HEADER_OFFSET, "header");
_Static_assert(offsetof(struct setup_header, cmd_line_ptr) == 0x228 - SETUP_HEADER_OFFSET,
	       "cmd_line_ptr");
_Static_assert(offsetof(struct setup_header, pref_address) == 0x258 - SETUP_HEADER_OFFSET,
	       "pref_address");

#define ZEROPAGE_E820_MAX 128

struct zeropage_e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct zeropage_e820) == 20, "boot_e820_entry size");

struct boot_params {
	uint8_t _pad0[0x1e8];
	uint8_t e820_entries; /* 0x1e8 */
	uint8_t _pad1[SETUP_HEADER_OFFSET - 0x1e9];
	struct setup_header hdr; /* 0x1f1 */
	uint8_t _pad2[0x2d0 - 0x26c];
	struct zeropage_e820 e820_table[ZEROPAGE_E820_MAX]; /* 0x2d0 */
	uint8_t _pad3[0x1000 - 0xcd0];
} __attribute__((packed));

_Static_assert(sizeof(struct boot_params) == 4096, "boot_params size");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, hdr) == SETUP_HEADER_OFFSET, "hdr");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");

/* What the kernel is told, in the zero page or the PVH start info. */
struct boot_handoff {
	uint64_t cmdline_addr;
	uint32_t cmdline_len; /* without the NUL */
	uint64_t initrd_addr; /* 0 when there is no initrd */
	uint64_t initrd_len;
	struct e820_entry e820[BOOT_E820_MAX];
	unsigned int ne820;
};

/*
 * Writes the zero page at BOOT_ZERO_PAGE. hdr is the bzImage's setup header (hdr_len bytes of
 * it are copied, as the protocol asks) or NULL for a vmlinux, which gets the minimal header
 * Firecracker gives one.
 */
int zeropage_write(struct guest_mem *m, const struct setup_header *hdr, size_t hdr_len,
		   const struct boot_handoff *h);

#endif
