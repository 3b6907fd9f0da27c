#include "cpuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

enum cpuid_reg { REG_EAX, REG_EBX, REG_ECX, REG_EDX };

struct cpuid_feature {
	const char *name;
	unsigned int function;
	unsigned int index;
	enum cpuid_reg reg;
	unsigned int bit;
};

/* Names as /proc/cpuinfo spells them. */
static const struct cpuid_feature features[] = {
	{"sse3", 1, 0, REG_ECX, 0},	    {"pclmulqdq", 1, 0, REG_ECX, 1},
	{"ssse3", 1, 0, REG_ECX, 9},	    {"fma", 1, 0, REG_ECX, 12},
	{"cx16", 1, 0, REG_ECX, 13},	    {"pcid", 1, 0, REG_ECX, 17},
	{"sse4_1", 1, 0, REG_ECX, 19},	    {"sse4_2", 1, 0, REG_ECX, 20},
	{"x2apic", 1, 0, REG_ECX, 21},	    {"movbe", 1, 0, REG_ECX, 22},
	{"popcnt", 1, 0, REG_ECX, 23},	    {"tsc_deadline_timer", 1, 0, REG_ECX, 24},
	{"aes", 1, 0, REG_ECX, 25},	    {"xsave", 1, 0, REG_ECX, 26},
	{"avx", 1, 0, REG_ECX, 28},	    {"f16c", 1, 0, REG_ECX, 29},
	{"rdrand", 1, 0, REG_ECX, 30},	    {"mce", 1, 0, REG_EDX, 7},
	{"mtrr", 1, 0, REG_EDX, 12},	    {"pge", 1, 0, REG_EDX, 13},
	{"mca", 1, 0, REG_EDX, 14},	    {"pat", 1, 0, REG_EDX, 16},
	{"pse36", 1, 0, REG_EDX, 17},	    {"clflush", 1, 0, REG_EDX, 19},
	{"fsgsbase", 7, 0, REG_EBX, 0},	    {"bmi1", 7, 0, REG_EBX, 3},
	{"hle", 7, 0, REG_EBX, 4},	    {"avx2", 7, 0, REG_EBX, 5},
	{"smep", 7, 0, REG_EBX, 7},	    {"bmi2", 7, 0, REG_EBX, 8},
	{"erms", 7, 0, REG_EBX, 9},	    {"invpcid", 7, 0, REG_EBX, 10},
	{"rtm", 7, 0, REG_EBX, 11},	    {"avx512f", 7, 0, REG_EBX, 16},
	{"avx512dq", 7, 0, REG_EBX, 17},    {"rdseed", 7, 0, REG_EBX, 18},
	{"adx", 7, 0, REG_EBX, 19},	    {"smap", 7, 0, REG_EBX, 20},
	{"avx512ifma", 7, 0, REG_EBX, 21},  {"clflushopt", 7, 0, REG_EBX, 23},
	{"clwb", 7, 0, REG_EBX, 24},	    {"avx512cd", 7, 0, REG_EBX, 28},
	{"sha_ni", 7, 0, REG_EBX, 29},	    {"avx512bw", 7, 0, REG_EBX, 30},
	{"avx512vl", 7, 0, REG_EBX, 31},    {"avx512vbmi", 7, 0, REG_ECX, 1},
	{"umip", 7, 0, REG_ECX, 2},	    {"pku", 7, 0, REG_ECX, 3},
	{"waitpkg", 7, 0, REG_ECX, 5},	    {"avx512_vbmi2", 7, 0, REG_ECX, 6},
	{"gfni", 7, 0, REG_ECX, 8},	    {"vaes", 7, 0, REG_ECX, 9},
	{"vpclmulqdq", 7, 0, REG_ECX, 10},  {"avx512_vnni", 7, 0, REG_ECX, 11},
	{"la57", 7, 0, REG_ECX, 16},	    {"rdpid", 7, 0, REG_ECX, 22},
	{"md_clear", 7, 0, REG_EDX, 10},    {"arch_capabilities", 7, 0, REG_EDX, 29},
	{"xsaveopt", 0xd, 1, REG_EAX, 0},   {"xsavec", 0xd, 1, REG_EAX, 1},
	{"xsaves", 0xd, 1, REG_EAX, 3},	    {"lahf_lm", 0x80000001, 0, REG_ECX, 0},
	{"abm", 0x80000001, 0, REG_ECX, 5}, {"sse4a", 0x80000001, 0, REG_ECX, 6},
	{"3dnowprefetch", 0x80000001, 0, REG_ECX, 8},
	{"topoext", 0x80000001, 0, REG_ECX, 22},
	{"pdpe1gb", 0x80000001, 0, REG_EDX, 26},
	{"rdtscp", 0x80000001, 0, REG_EDX, 27},
};

static const struct cpuid_feature *lookup(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(features); i++)
		if (strcmp(features[i].name, name) == 0)
			return &features[i];
	return NULL;
}

bool cpuid_feature_known(const char *name)
{
	return lookup(name) != NULL;
}

const char *cpuid_feature_names(void)
{
	static char list[1024];

	if (!list[0]) {
		size_t off = 0;
		for (size_t i = 0; i < ARRAY_SIZE(features) && off < sizeof(list); i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						i ? ", " : "", features[i].name);
	}
	return list;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, size_t n, unsigned int function,
				    unsigned int index)
{
	for (size_t i = 0; i < n; i++) {
		bool indexed = e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		if (e[i].function == function && (!indexed || e[i].index == index))
			return &e[i];
	}
	return NULL;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum cpuid_reg r)
{
	switch (r) {
	case REG_EAX:
		return &e->eax;
	case REG_EBX:
		return &e->ebx;
	case REG_ECX:
		return &e->ecx;
	case REG_EDX:
		return &e->edx;
	}
	return &e->eax;
}

int cpuid_hide(struct kvm_cpuid_entry2 *e, size_t n, const char *const *names, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++) {
		const struct cpuid_feature *f = lookup(names[i]);
		struct kvm_cpuid_entry2 *ent;

		if (!f)
			return -EINVAL;
		ent = cpuid_find(e, n, f->function, f->index);
		if (ent)
			*reg_of(ent, f->reg) &= ~(1u << f->bit);
	}
	return 0;
}

static unsigned int bits_for(unsigned int count)
{
	unsigned int b = 0;

	while ((1u << b) < count)
		b++;
	return b;
}

static void set_extended_topology(struct kvm_cpuid_entry2 *e, unsigned int id, unsigned int ncpus)
{
	/* Level 0: SMT, one thread per core. Level 1: cores, ncpus per package. Then invalid. */
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | 0;
		break;
	case 1:
		e->eax = bits_for(ncpus);
		e->ebx = ncpus;
		e->ecx = (2u << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index & 0xff;
		break;
	}
	e->edx = id;
}

void cpuid_set_topology(struct kvm_cpuid_entry2 *e, size_t n, unsigned int id, unsigned int ncpus)
{
	for (size_t i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *ent = &e[i];

		switch (ent->function) {
		case 1:
			/* EBX[31:24] initial APIC id, EBX[23:16] logical processors per package. */
			ent->ebx = (ent->ebx & 0xffffu) | (id << 24) | ((ncpus & 0xff) << 16);
			if (ncpus > 1)
				ent->edx |= 1u << 28; /* HTT: the count field is valid */
			else
				ent->edx &= ~(1u << 28);
			/* We are a hypervisor: let the guest know. */
			ent->ecx |= 1u << 31;
			break;
		case 4:
			/* EAX[31:26]: cores per package - 1; EAX[25:14]: threads sharing - 1. */
			ent->eax &= 0x3fff;
			ent->eax |= ((ncpus - 1) & 0x3f) << 26;
			break;
		case 0xb:
		case 0x1f:
			set_extended_topology(ent, id, ncpus);
			break;
		case 0x80000008:
			/* ECX[7:0]: cores - 1; ECX[15:12]: APIC id bits. */
			ent->ecx = (ent->ecx & ~0xf0ffu) | ((ncpus - 1) & 0xff) |
				   (bits_for(ncpus) << 12);
			break;
		case 0x8000001e:
			ent->eax = id;
			ent->ebx = id & 0xff; /* core id, one thread per core */
			ent->ecx = 0;	      /* node 0 */
			break;
		default:
			break;
		}
	}
}
