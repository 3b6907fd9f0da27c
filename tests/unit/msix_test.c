#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "msix.h"

static struct pci_device d;
static struct msix m;

static void setup(void)
{
	memset(&d, 0, sizeof(d));
	cr_assert_eq(msix_init(&m, &d, 3, 0, 0x4000, 0x5000), 0);
}

TestSuite(msix, .init = setup);

static int wr32(uint64_t off, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return msix_table_write(&m, off, b, 4);
}

static uint32_t rd32(uint64_t off)
{
	uint8_t b[4];
	msix_table_read(&m, off, b, 4);
	return b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
}

static void set_ctrl(uint16_t ctrl)
{
	pci_cfg_write(&d, m.cap + 2, 2, ctrl);
	msix_cfg_written(&m, &d, m.cap + 2, 2);
}

Test(msix, capability_layout)
{
	cr_assert_eq(m.cap, PCI_CAP_START);
	cr_assert_eq(d.cfg[PCI_CAPABILITY_LIST], PCI_CAP_START);
	cr_assert(pci_cfg_read(&d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	cr_assert_eq(d.cfg[m.cap], MSIX_CAP_ID);
	cr_assert_eq(d.cfg[m.cap + 1], 0, "last in the chain");
	cr_assert_eq(pci_cfg_read(&d, m.cap + 2, 2), 2, "table size is N - 1, disabled");
	cr_assert_eq(pci_cfg_read(&d, m.cap + 4, 4), 0x4000, "table: BIR 0, offset");
	cr_assert_eq(pci_cfg_read(&d, m.cap + 8, 4), 0x5000, "PBA");
}

Test(msix, init_rejects_bad_arguments)
{
	struct msix x;
	cr_assert_eq(msix_init(&x, &d, 0, 0, 0, 0x800), -EINVAL);
	cr_assert_eq(msix_init(&x, &d, MSIX_MAX_VECTORS + 1, 0, 0, 0x800), -EINVAL);
	cr_assert_eq(msix_init(&x, &d, 1, 6, 0, 0x800), -EINVAL);
	cr_assert_eq(msix_init(&x, &d, 1, 0, 4, 0x800), -EINVAL);
}

Test(msix, vectors_start_masked_and_msix_disabled)
{
	uint64_t a;
	uint32_t v;
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(rd32(i * 16 + 12), MSIX_ENTRY_MASKED);
	cr_assert_not(msix_vector_live(&m, 0, &a, &v));
}

Test(msix, only_enable_and_function_mask_are_writable)
{
	pci_cfg_write(&d, m.cap + 2, 2, 0xffff);
	cr_assert_eq(pci_cfg_read(&d, m.cap + 2, 2), 0xc002);
	cr_assert(msix_cfg_written(&m, &d, m.cap, 4));
	cr_assert(m.enabled && m.masked);
	cr_assert_not(msix_cfg_written(&m, &d, m.cap + 2, 2), "no change the second time");
	cr_assert_not(msix_cfg_written(&m, &d, m.cap + 4, 4), "not the control word");
}

Test(msix, live_needs_enable_no_function_mask_and_entry_unmasked)
{
	uint64_t a = 0;
	uint32_t v = 0;

	cr_assert_eq(wr32(16, 0xfee00000), 1);
	cr_assert_eq(wr32(20, 0x1), 1);
	cr_assert_eq(wr32(24, 0x4041), 1);
	cr_assert_eq(wr32(28, 0), 1, "unmask");
	cr_assert_not(msix_vector_live(&m, 1, &a, &v), "MSI-X disabled");
	set_ctrl(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	cr_assert_not(msix_vector_live(&m, 1, &a, &v), "function masked");
	set_ctrl(MSIX_CTRL_ENABLE);
	cr_assert(msix_vector_live(&m, 1, &a, &v));
	cr_assert_eq(a, 0x1fee00000ull);
	cr_assert_eq(v, 0x4041);
	cr_assert_not(msix_vector_live(&m, 0, &a, &v), "vector 0 still masked");
	cr_assert_not(msix_vector_live(&m, 3, &a, &v), "no such vector");
}

Test(msix, table_write_reports_changes_only)
{
	cr_assert_eq(wr32(32, 0xfee01000), 2);
	cr_assert_eq(wr32(32, 0xfee01000), -1, "same value");
	cr_assert_eq(wr32(44, MSIX_ENTRY_MASKED), -1, "already masked");
	cr_assert_eq(wr32(44, 0xfffffffe), 2, "reserved bits dropped, unmasked");
	cr_assert_eq(rd32(44), 0);
	cr_assert_eq(wr32(0, 0xfee00003), 0);
	cr_assert_eq(rd32(0), 0xfee00000, "address bits 1:0 are zero");
}

Test(msix, table_ignores_bad_accesses)
{
	uint8_t b[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	cr_assert_eq(msix_table_write(&m, 0, b, 2), -1, "not a dword");
	cr_assert_eq(msix_table_write(&m, 2, b, 4), -1, "unaligned");
	cr_assert_eq(msix_table_write(&m, 4, b, 8), -1, "unaligned qword");
	cr_assert_eq(msix_table_write(&m, 48, b, 4), -1, "past the table");
	cr_assert_eq(rd32(0), 0);
	cr_assert_eq(rd32(48), 0, "past the table reads zero");
}

Test(msix, qword_write_sets_the_address)
{
	uint8_t b[8] = {0x00, 0x20, 0xe0, 0xfe, 0x02, 0, 0, 0};
	uint8_t r[8];
	cr_assert_eq(msix_table_write(&m, 16, b, 8), 1);
	cr_assert_eq(m.table[1].addr_lo, 0xfee02000);
	cr_assert_eq(m.table[1].addr_hi, 2);
	msix_table_read(&m, 16, r, 8);
	cr_assert_arr_eq(r, b, 8);
	msix_table_read(&m, 18, r, 2);
	cr_assert_eq(r[0], 0xe0);
	cr_assert_eq(r[1], 0xfe);
}

Test(msix, pba_bits)
{
	uint8_t b[8];
	msix_set_pending(&m, 2, true);
	msix_set_pending(&m, 7, true); /* beyond nvec: ignored */
	msix_pba_read(&m, 0, b, 8);
	cr_assert_eq(b[0], 0x04);
	cr_assert_eq(b[1], 0);
	msix_set_pending(&m, 2, false);
	msix_pba_read(&m, 0, b, 4);
	cr_assert_eq(b[0], 0);
	msix_pba_read(&m, 8, b, 4);
	cr_assert_eq(b[0] | b[1] | b[2] | b[3], 0, "past the PBA");
}
