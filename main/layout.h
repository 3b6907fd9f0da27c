/*
 * The guest physical address map. One place, so that the boot tables, the e820 map and the
 * KVM setup agree.
 *
 *   0x0000_0000  real-mode IVT/BDA (RAM, left zeroed)
 *   0x0000_0500  GDT (BOOT_GDT): null, unused, code 0x10, data 0x18, 16-byte TSS 0x20
 *   0x0000_0530  IDT (one empty gate, BOOT_IDT)
 *   0x0000_6000  PVH hvm_start_info + module list (BOOT_PVH_INFO)
 *   0x0000_6800  PVH memory map (BOOT_PVH_MEMMAP)
 *   0x0000_7000  Linux zero page / struct boot_params (BOOT_ZERO_PAGE)
 *   0x0000_8ff0  initial stack top (BOOT_STACK)
 *   0x0000_9000  PML4, PDPT, 4 page directories: identity map of the first 4 GiB (BOOT_PML4)
 *   0x0002_0000  kernel command line (BOOT_CMDLINE, BOOT_CMDLINE_MAX bytes)
 *   0x0009_e000  MP configuration table (MPTABLE_START): 5312 bytes with 255 vCPUs, so it
 *                cannot sit in the 1 KiB EBDA; reserved in e820 from here to 1 MiB
 *   0x0009_fc00  MP floating pointer (MPTABLE_FLOAT): in the last KiB of 639 KiB, where Linux
 *                looks for it (mpparse.c), pointing down at the configuration table
 *   0x000a_0000  .. 0x0010_0000: legacy VGA/ROM hole, reserved
 *   0x0010_0000  kernel (loaded at its physical address, >= 1 MiB)
 *   ...          RAM up to min(memory, MEM_HOLE_START)
 *   0xc000_0000  32-bit MMIO hole (PCI BARs, IOAPIC, LAPIC, KVM TSS), never RAM
 *   0x1_0000_0000 RAM above the hole, when memory > 3 GiB
 */
#ifndef VMM_MAIN_LAYOUT_H
#define VMM_MAIN_LAYOUT_H

#include <stdint.h>

#define BOOT_GDT 0x500ULL
#define BOOT_IDT 0x530ULL
#define BOOT_PVH_INFO 0x6000ULL
#define BOOT_PVH_MEMMAP 0x6800ULL
#define BOOT_ZERO_PAGE 0x7000ULL
#define BOOT_STACK 0x8ff0ULL
#define BOOT_PML4 0x9000ULL /* PML4 0x9000, PDPT 0xa000, PDs 0xb000..0xefff */
#define BOOT_CMDLINE 0x20000ULL
#define BOOT_CMDLINE_MAX 0x10000ULL
#define MPTABLE_START 0x9e000ULL
#define MPTABLE_FLOAT 0x9fc00ULL
#define EBDA_START 0x9fc00ULL
#define LEGACY_HOLE_END 0x100000ULL
#define HIMEM_START 0x100000ULL

#define MEM_HOLE_START 0xc0000000ULL /* 3 GiB */
#define MEM_HOLE_END 0x100000000ULL /* 4 GiB */
#define PCI_MMIO_START 0xc0000000ULL
#define PCI_MMIO_END 0xfebfffffULL
#define IOAPIC_ADDR 0xfec00000ULL
#define LAPIC_ADDR 0xfee00000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL
#define KVM_TSS_ADDR 0xfeffd000ULL /* three pages */

#define MEM_MIN_MIB 64

#endif
