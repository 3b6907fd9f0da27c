/*
 * The Intel MultiProcessor Specification 1.4 tables, which tell a guest without ACPI about its
 * CPUs, the I/O APIC and how the ISA interrupts reach it. Linux finds the floating pointer by
 * scanning the last KiB of base memory (arch/x86/kernel/mpparse.c); it points at the
 * configuration table below it (see layout.h).
 */
#ifndef VMM_MAIN_MPTABLE_H
#define VMM_MAIN_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "memory.h"

#define MPTABLE_MAX_CPUS 255
#define MPTABLE_SPEC_REV 4
#define MPTABLE_APIC_VERSION 0x14   /* what KVM's local APIC reports */
#define MPTABLE_IOAPIC_VERSION 0x11 /* KVM's I/O APIC */
#define MPTABLE_ISA_IRQS 16
#define MPTABLE_BUS_PCI 0
#define MPTABLE_BUS_ISA 1

/* entry types */
enum mp_entry_type {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_INTSRC = 3,
	MP_LINTSRC = 4,
};

/* interrupt types of MP_INTSRC and MP_LINTSRC entries */
enum mp_irq_type {
	MP_IRQ_INT = 0,
	MP_IRQ_NMI = 1,
	MP_IRQ_SMI = 2,
	MP_IRQ_EXTINT = 3,
};

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01
#define MP_APIC_ALL 0xff

struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* the configuration table */
	uint8_t length;	   /* in 16-byte paragraphs: 1 */
	uint8_t spec;
	uint8_t checksum;
	uint8_t feature[5]; /* feature[0] == 0: a configuration table is present */
} __attribute__((packed));

struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* header and entries */
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t count; /* entries */
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t signature; /* CPUID 1 eax: family, model, stepping */
	uint32_t features;  /* CPUID 1 edx */
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type;
	uint8_t id;
	char name[6]; /* blank padded */
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type;
	uint8_t id;
	uint8_t version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

/* Both I/O interrupt assignment (MP_INTSRC) and local interrupt (MP_LINTSRC) entries. */
struct mp_irq {
	uint8_t type;
	uint8_t irqtype;
	uint16_t flags; /* polarity and trigger: 0 = as the bus says */
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin; /* I/O APIC pin, or LINT0/LINT1 */
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating) == 16, "mp_floating size");
_Static_assert(sizeof(struct mp_config) == 44, "mp_config size");
_Static_assert(sizeof(struct mp_cpu) == 20, "mp_cpu size");
_Static_assert(sizeof(struct mp_bus) == 8, "mp_bus size");
_Static_assert(sizeof(struct mp_ioapic) == 8, "mp_ioapic size");
_Static_assert(sizeof(struct mp_irq) == 8, "mp_irq size");

#define MPTABLE_NBUSES 2
#define MPTABLE_NLINTS 2
/* Bytes of the configuration table for n CPUs. */
#define MPTABLE_CONFIG_SIZE(n)                                                                     \
	(sizeof(struct mp_config) + (n) * sizeof(struct mp_cpu) +                                  \
	 MPTABLE_NBUSES * sizeof(struct mp_bus) + sizeof(struct mp_ioapic) +                       \
	 (MPTABLE_ISA_IRQS + MPTABLE_NLINTS) * sizeof(struct mp_irq))

/*
 * Writes the configuration table at MPTABLE_START and the floating pointer at MPTABLE_FLOAT.
 * Returns 0, -EINVAL for a CPU count outside 1..255, -EFAULT when that memory is not RAM.
 */
int mptable_write(struct guest_mem *m, unsigned int ncpus);

/* Sum of len bytes, mod 256: zero for a valid table. */
uint8_t mptable_checksum(const void *p, size_t len);

#endif
