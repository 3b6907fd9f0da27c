/*
 * Loading a kernel into guest memory and building the boot structures around it: zero page
 * (Linux boot protocol) or PVH start info, command line, initrd, e820 map, MP table, GDT and
 * identity page tables. Pure functions over struct guest_mem: no KVM, unit-tested.
 *
 * The kernel loaders live in bzimage.c and elf_loader.c, the hand-off structures in
 * zeropage.c and pvh.c, the MP table in mptable.c; this file orders them.
 */
#ifndef VMM_MAIN_BOOT_H
#define VMM_MAIN_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "memory.h"

enum kernel_format {
	KERNEL_UNKNOWN,
	KERNEL_BZIMAGE, /* Linux x86 boot protocol, 64-bit entry at the load address + 0x200 */
	KERNEL_ELF_PVH, /* ELF with a XEN_ELFNOTE_PHYS32_ENTRY note: 32-bit PVH entry */
	KERNEL_ELF_64,	/* ELF vmlinux without PVH note: 64-bit entry with a zero page */
};

enum boot_cpu_mode {
	BOOT_MODE_PROTECTED32, /* flat 32-bit protected mode, paging off (PVH) */
	BOOT_MODE_LONG64,      /* 64-bit long mode, identity paging of the first 4 GiB */
};

/* GDT selectors; __BOOT_CS and __BOOT_DS of the Linux 64-bit boot protocol. */
#define BOOT_SEL_CODE 0x10
#define BOOT_SEL_DATA 0x18
#define BOOT_SEL_TSS 0x20

/* A segment register as KVM wants it: the fields of struct kvm_segment, decoded from the GDT. */
struct boot_segment {
	uint64_t base;
	uint32_t limit; /* in bytes, granularity already applied */
	uint16_t selector;
	uint8_t type;
	uint8_t present, dpl, db, s, l, g, avl;
};

/*
 * What the boot CPU needs to start the loaded kernel. Copy every field into the vCPU: regs
 * (rip, rsp, rsi, rbx, rflags), sregs (cr0, cr3, cr4, efer, gdt, idt, cs, ds into ds/es/fs/gs/ss,
 * tr). The LDT stays unusable. Interrupts are off (rflags = 0x2).
 */
struct boot_entry {
	enum boot_cpu_mode mode;
	uint64_t rip;
	uint64_t rsp;
	uint64_t rsi; /* LONG64: address of the zero page, else 0 */
	uint64_t rbx; /* PROTECTED32: address of hvm_start_info, else 0 */
	uint64_t rflags;
	uint64_t cr0;
	uint64_t cr3; /* LONG64: BOOT_PML4, else 0 */
	uint64_t cr4;
	uint64_t efer;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint64_t idt_base;
	uint16_t idt_limit;
	struct boot_segment cs;
	struct boot_segment ds; /* also es, fs, gs, ss */
	struct boot_segment tr;
};

struct boot_config {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	const char *cmdline; /* may be NULL: empty */
	unsigned int ncpus;  /* 1 .. BOOT_MAX_CPUS */
};

#define BOOT_MAX_CPUS 255

/* e820 entry types */
#define E820_RAM 1
#define E820_RESERVED 2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define BOOT_E820_MAX 8

/* Detects the kernel format from its content. */
enum kernel_format boot_detect(const uint8_t *kernel, size_t len);
const char *boot_format_name(enum kernel_format f);

/*
 * Loads kernel, initrd and command line and builds every boot table. On bad input returns
 * -EINVAL (or -E2BIG when something does not fit) and writes one human-readable reason into
 * err ("initrd of 300 MiB does not fit in 256 MiB of RAM", "truncated bzImage: ...").
 */
int boot_load(struct guest_mem *m, const struct boot_config *cfg, struct boot_entry *entry,
	      char *err, size_t errlen);

/*
 * Builders, exposed for the unit tests.
 * boot_e820_build returns the number of entries written (> 0) or -E2BIG; the others 0 or
 * -errno (-EFAULT when the guest memory is too small for the table).
 */
int boot_e820_build(const struct guest_mem *m, struct e820_entry *e, unsigned int max);
int boot_mptable_write(struct guest_mem *m, unsigned int ncpus);
int boot_pagetables_write(struct guest_mem *m);
/* Writes the GDT and IDT for entry->mode and fills entry's gdt, idt, cs, ds and tr. */
int boot_gdt_write(struct guest_mem *m, struct boot_entry *entry);

/* For the loaders: formats one line into err (if errlen > 0) and returns code. */
int boot_error(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
