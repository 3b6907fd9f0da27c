#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cpuid.h"

static struct kvm_cpuid_entry2 e[8];

static void setup(void)
{
	memset(e, 0, sizeof(e));
	e[0].function = 1;
	e[0].ecx = 0xffffffffu;
	e[0].ebx = 0x00000800; /* clflush size */
	e[1].function = 7;
	e[1].index = 0;
	e[1].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e[1].ebx = 0xffffffffu;
	e[2].function = 0xb;
	e[2].index = 0;
	e[2].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e[3].function = 0xb;
	e[3].index = 1;
	e[3].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e[4].function = 0xd;
	e[4].index = 1;
	e[4].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e[4].eax = 0xf;
	e[5].function = 4;
	e[5].eax = 0xffffffffu;
	e[6].function = 0x80000008;
	e[7].function = 0xb;
	e[7].index = 2;
	e[7].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
}

TestSuite(cpuid, .init = setup);

Test(cpuid, hide_clears_exactly_the_named_bits)
{
	const char *names[] = {"xsave", "popcnt", "smap", "xsaves"};

	cr_assert_eq(cpuid_hide(e, 8, names, 4), 0);
	cr_assert_eq(e[0].ecx, 0xffffffffu & ~(1u << 26) & ~(1u << 23));
	cr_assert_eq(e[1].ebx, 0xffffffffu & ~(1u << 20));
	cr_assert_eq(e[4].eax, 0x7);
}

Test(cpuid, unknown_names_are_refused)
{
	const char *names[] = {"xsave", "warp_drive"};

	cr_assert_not(cpuid_feature_known("warp_drive"));
	cr_assert(cpuid_feature_known("avx2"));
	cr_assert_eq(cpuid_hide(e, 8, names, 2), -EINVAL);
	cr_assert(strstr(cpuid_feature_names(), "xsave"));
}

Test(cpuid, find_honours_significant_index)
{
	cr_assert_eq(cpuid_find(e, 8, 0xb, 1), &e[3]);
	cr_assert_eq(cpuid_find(e, 8, 1, 5), &e[0], "leaf 1 has no index");
	cr_assert_null(cpuid_find(e, 8, 0x12, 0));
}

Test(cpuid, topology_gives_each_vcpu_its_apic_id)
{
	cpuid_set_topology(e, 8, 5, 8);
	cr_assert_eq(e[0].ebx >> 24, 5, "initial APIC id");
	cr_assert_eq((e[0].ebx >> 16) & 0xff, 8, "logical processors");
	cr_assert_eq(e[0].ebx & 0xffff, 0x0800, "the rest of EBX kept");
	cr_assert(e[0].edx & (1u << 28), "HTT");
	cr_assert(e[0].ecx & (1u << 31), "hypervisor bit");
	cr_assert_eq(e[2].edx, 5, "x2APIC id, SMT level");
	cr_assert_eq(e[2].ebx, 1, "one thread per core");
	cr_assert_eq(e[3].ebx, 8, "8 cores");
	cr_assert_eq(e[3].eax, 3, "APIC id shift for 8 cores");
	cr_assert_eq((e[3].ecx >> 8) & 0xff, 2, "core level");
	cr_assert_eq((e[7].ecx >> 8) & 0xff, 0, "level 2 invalid");
	cr_assert_eq(e[5].eax >> 26, 7, "leaf 4: cores - 1");
	cr_assert_eq(e[6].ecx & 0xff, 7, "AMD: cores - 1");
}

Test(cpuid, single_vcpu_has_no_htt)
{
	e[0].edx = 1u << 28;
	cpuid_set_topology(e, 8, 0, 1);
	cr_assert_eq(e[0].edx & (1u << 28), 0);
	cr_assert_eq(e[0].ebx >> 24, 0);
}
