/* MP table: what Linux's mpparse.c would find and accept. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_fixtures.h"
#include "layout.h"
#include "memory.h"
#include "mptable.h"

#define MEM_SIZE (2ULL << 20)

struct mp_counts {
	unsigned int cpus, bsps, buses, ioapics, intsrcs, lints;
	unsigned int ioapic_id;
	unsigned int bad_apicid;
};

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* As smp_scan_config(639 * 0x400, 0x400) does it: 16-byte steps, "_MP_", length 1, checksum. */
static const uint8_t *find_floating(const uint8_t *mem)
{
	uint64_t a;

	for (a = 639 * 0x400; a < 640 * 0x400; a += 16) {
		const uint8_t *p = mem + a;

		if (!memcmp(p, "_MP_", 4) && p[8] == 1 && sum(p, 16) == 0 &&
		    (p[9] == 1 || p[9] == 4))
			return p;
	}
	return NULL;
}

static void count_entry(const uint8_t *e, unsigned int idx, struct mp_counts *c)
{
	switch (e[0]) {
	case MP_PROCESSOR:
		c->bad_apicid += e[1] != c->cpus;
		c->cpus++;
		c->bsps += !!(e[3] & MP_CPU_BSP);
		cr_assert(e[3] & MP_CPU_ENABLED);
		cr_assert_eq(e[2], 0x14);
		if (e[3] & MP_CPU_BSP)
			cr_assert_eq(e[1], 0, "BSP flag on cpu %u", idx);
		break;
	case MP_BUS:
		cr_assert(!memcmp(e + 2, c->buses ? "ISA   " : "PCI   ", 6));
		cr_assert_eq(e[1], c->buses);
		c->buses++;
		break;
	case MP_IOAPIC:
		c->ioapics++;
		c->ioapic_id = e[1];
		cr_assert_eq(e[2], 0x11);
		cr_assert_eq(e[3], 1);
		cr_assert_eq(get32(e, 4), IOAPIC_ADDR);
		break;
	case MP_INTSRC:
		cr_assert_eq(e[1], MP_IRQ_INT);
		cr_assert_eq(e[4], MPTABLE_BUS_ISA);
		cr_assert_eq(e[5], c->intsrcs);
		cr_assert_eq(e[6], c->ioapic_id);
		cr_assert_eq(e[7], c->intsrcs, "IRQ %u -> pin %u", e[5], e[7]);
		c->intsrcs++;
		break;
	case MP_LINTSRC:
		cr_assert_eq(e[1], c->lints ? MP_IRQ_NMI : MP_IRQ_EXTINT);
		cr_assert_eq(e[6], 0xff);
		cr_assert_eq(e[7], c->lints);
		c->lints++;
		break;
	default:
		cr_assert_fail("unknown entry type %u", e[0]);
	}
}

/* Walks the configuration table as smp_read_mpc does; checks headers on the way. */
static void read_tables(const uint8_t *mem, struct mp_counts *c)
{
	const uint8_t *mpf = find_floating(mem), *cfg, *e;
	unsigned int i, count;
	uint16_t len;

	cr_assert_not_null(mpf, "no MP floating pointer in the last KiB below 640 KiB");
	cr_assert_eq(get32(mpf, 4), MPTABLE_START);
	cfg = mem + get32(mpf, 4);
	len = get16(cfg, 4);
	cr_assert(!memcmp(cfg, "PCMP", 4));
	cr_assert_eq(sum(cfg, len), 0, "configuration table checksum");
	cr_assert_eq(cfg[6], 4);
	cr_assert_eq(get32(cfg, 36), LAPIC_ADDR);
	cr_assert_leq(MPTABLE_START + len, (const uint8_t *)mpf - mem);
	count = get16(cfg, 34);
	memset(c, 0, sizeof(*c));
	for (i = 0, e = cfg + 44; i < count; i++) {
		count_entry(e, i, c);
		e += e[0] == MP_PROCESSOR ? 20 : 8;
	}
	cr_assert_eq(e - cfg, len);
}

ParameterizedTestParameters(mptable, cpu_counts)
{
	static unsigned int n[] = {1, 2, 64, 255};

	return cr_make_param_array(unsigned int, n, sizeof(n) / sizeof(n[0]));
}

ParameterizedTest(unsigned int *n, mptable, cpu_counts)
{
	struct guest_mem m;
	struct mp_counts c;
	uint8_t *mem = calloc(1, MEM_SIZE);

	guest_mem_wrap(&m, mem, MEM_SIZE);
	cr_assert_eq(mptable_write(&m, *n), 0);
	read_tables(mem, &c);
	cr_assert_eq(c.cpus, *n);
	cr_assert_eq(c.bad_apicid, 0);
	cr_assert_eq(c.bsps, 1);
	cr_assert_eq(c.buses, 2);
	cr_assert_eq(c.ioapics, 1);
	cr_assert_eq(c.ioapic_id, *n);
	cr_assert_eq(c.intsrcs, 16);
	cr_assert_eq(c.lints, 2);
	free(mem);
}

Test(mptable, floating_pointer_fields)
{
	struct guest_mem m;
	uint8_t *mem = calloc(1, MEM_SIZE);
	const uint8_t *mpf;

	guest_mem_wrap(&m, mem, MEM_SIZE);
	cr_assert_eq(mptable_write(&m, 4), 0);
	mpf = mem + MPTABLE_FLOAT;
	cr_assert(!memcmp(mpf, "_MP_", 4));
	cr_assert_eq(mpf[8], 1);
	cr_assert_eq(mpf[9], 4);
	cr_assert_eq(mptable_checksum(mpf, 16), 0);
	cr_assert_eq(mpf[11], 0, "feature byte 1: a configuration table follows");
	free(mem);
}

Test(mptable, bad_cpu_counts)
{
	struct guest_mem m;
	uint8_t *mem = calloc(1, MEM_SIZE);

	guest_mem_wrap(&m, mem, MEM_SIZE);
	cr_assert_eq(mptable_write(&m, 0), -EINVAL);
	cr_assert_eq(mptable_write(&m, 256), -EINVAL);
	free(mem);
}

Test(mptable, memory_too_small)
{
	struct guest_mem m;
	uint8_t *mem = calloc(1, 0x9f000);

	guest_mem_wrap(&m, mem, 0x9f000);
	cr_assert_eq(mptable_write(&m, 1), -EFAULT);
	free(mem);
}

Test(mptable, worst_case_fits)
{
	cr_assert_eq(MPTABLE_CONFIG_SIZE(255), 5312);
	cr_assert_leq(MPTABLE_START + MPTABLE_CONFIG_SIZE(255), MPTABLE_FLOAT);
}
