#include "mptable.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

_Static_assert(MPTABLE_START + MPTABLE_CONFIG_SIZE(MPTABLE_MAX_CPUS) <= MPTABLE_FLOAT,
	       "the MP configuration table for 255 CPUs runs into the floating pointer");
_Static_assert(MPTABLE_FLOAT >= 639 * 1024 && MPTABLE_FLOAT + 16 <= 640 * 1024,
	       "Linux only looks for the floating pointer in the last KiB of base memory");

/* Family 6, and CPUID 1 edx FPU | APIC, as Firecracker and kvmtool describe their vCPUs. */
#define CPU_SIGNATURE 0x600
#define CPU_FEATURES 0x201

static const struct mp_bus buses[MPTABLE_NBUSES] = {
    {.type = MP_BUS, .id = MPTABLE_BUS_PCI, .name = {'P', 'C', 'I', ' ', ' ', ' '}},
    {.type = MP_BUS, .id = MPTABLE_BUS_ISA, .name = {'I', 'S', 'A', ' ', ' ', ' '}},
};

/* The PIC's output on LINT0 (virtual wire mode until the I/O APIC is set up), NMI on LINT1. */
static const struct mp_irq lints[MPTABLE_NLINTS] = {
    {.type = MP_LINTSRC,
     .irqtype = MP_IRQ_EXTINT,
     .src_bus = MPTABLE_BUS_ISA,
     .dst_apic = MP_APIC_ALL,
     .dst_pin = 0},
    {.type = MP_LINTSRC,
     .irqtype = MP_IRQ_NMI,
     .src_bus = MPTABLE_BUS_ISA,
     .dst_apic = MP_APIC_ALL,
     .dst_pin = 1},
};

uint8_t mptable_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

/* Appends entries to the configuration table and counts them. */
struct mp_cursor {
	uint8_t *p;
	uint16_t count;
};

static void put(struct mp_cursor *c, const void *entry, size_t len)
{
	memcpy(c->p, entry, len);
	c->p += len;
	c->count++;
}

static void put_cpus(struct mp_cursor *c, unsigned int ncpus)
{
	unsigned int i;

	for (i = 0; i < ncpus; i++) {
		struct mp_cpu cpu = {
		    .type = MP_PROCESSOR,
		    .apicid = (uint8_t)i,
		    .apicver = MPTABLE_APIC_VERSION,
		    .flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .signature = CPU_SIGNATURE,
		    .features = CPU_FEATURES,
		};

		put(c, &cpu, sizeof(cpu));
	}
}

/*
 * ISA IRQ i goes to I/O APIC pin i, IRQ 0 included. A real PC wires the PIT to pin 2, but
 * KVM's default GSI routing connects GSI i to both PIC line i and I/O APIC pin i, and its
 * in-kernel PIT raises GSI 0: pin 2 would never fire. Firecracker does the same and Linux's
 * check_timer() is happy with it.
 */
static void put_irqs(struct mp_cursor *c, uint8_t ioapic_id)
{
	unsigned int i;

	for (i = 0; i < MPTABLE_ISA_IRQS; i++) {
		struct mp_irq irq = {
		    .type = MP_INTSRC,
		    .irqtype = MP_IRQ_INT,
		    .src_bus = MPTABLE_BUS_ISA,
		    .src_irq = (uint8_t)i,
		    .dst_apic = ioapic_id,
		    .dst_pin = (uint8_t)i,
		};

		put(c, &irq, sizeof(irq));
	}
	for (i = 0; i < MPTABLE_NLINTS; i++)
		put(c, &lints[i], sizeof(lints[i]));
}

static void write_config(struct mp_config *cfg, unsigned int ncpus)
{
	struct mp_cursor c = {.p = (uint8_t *)(cfg + 1)};
	struct mp_ioapic ioapic = {
	    .type = MP_IOAPIC,
	    .id = (uint8_t)ncpus, /* the first id after the CPUs' */
	    .version = MPTABLE_IOAPIC_VERSION,
	    .flags = MP_IOAPIC_ENABLED,
	    .addr = (uint32_t)IOAPIC_ADDR,
	};
	unsigned int i;

	put_cpus(&c, ncpus);
	for (i = 0; i < MPTABLE_NBUSES; i++)
		put(&c, &buses[i], sizeof(buses[i]));
	put(&c, &ioapic, sizeof(ioapic));
	put_irqs(&c, ioapic.id);

	*cfg = (struct mp_config){
	    .signature = {'P', 'C', 'M', 'P'},
	    .length = (uint16_t)MPTABLE_CONFIG_SIZE(ncpus),
	    .spec = MPTABLE_SPEC_REV,
	    .oem = {'V', 'M', 'M', ' ', ' ', ' ', ' ', ' '},
	    .product = {'V', 'M', 'M', '-', 'K', 'V', 'M', ' ', ' ', ' ', ' ', ' '},
	    .count = c.count,
	    .lapic = (uint32_t)LAPIC_ADDR,
	};
	cfg->checksum = (uint8_t)-mptable_checksum(cfg, cfg->length);
}

int mptable_write(struct guest_mem *m, unsigned int ncpus)
{
	struct mp_floating *mpf;
	struct mp_config *cfg;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	cfg = guest_mem_ptr(m, MPTABLE_START, MPTABLE_CONFIG_SIZE(ncpus));
	mpf = guest_mem_ptr(m, MPTABLE_FLOAT, sizeof(*mpf));
	if (!cfg || !mpf)
		return -EFAULT;
	write_config(cfg, ncpus);
	*mpf = (struct mp_floating){
	    .signature = {'_', 'M', 'P', '_'},
	    .physptr = (uint32_t)MPTABLE_START,
	    .length = 1,
	    .spec = MPTABLE_SPEC_REV,
	};
	mpf->checksum = (uint8_t)-mptable_checksum(mpf, sizeof(*mpf));
	return 0;
}
