#include <criterion/criterion.h>
#include <errno.h>

#include "pci.h"

static enum vm_stop_reason stopped;

static void on_stop(void *ctx, enum vm_stop_reason why)
{
	(void)ctx;
	stopped = why;
}

static struct pci_root p;

static void setup(void)
{
	stopped = VM_STOP_NONE;
	pci_root_init(&p, (struct vm_stopper){.stop = on_stop});
}

static void teardown(void)
{
	pci_root_destroy(&p);
}

static void out32(uint64_t off, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	pci_root_ops.write(&p, off, b, 4);
}

static uint32_t in(uint64_t off, uint32_t len)
{
	uint8_t b[4] = {0};
	pci_root_ops.read(&p, off, b, len);
	return b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
}

static uint32_t cfg(unsigned int slot, unsigned int fn, unsigned int reg, unsigned int len)
{
	out32(0, 0x80000000u | (slot << 11) | (fn << 8) | (reg & 0xfc));
	return in(4 + (reg & 3), len);
}

TestSuite(pci, .init = setup, .fini = teardown);

Test(pci, address_register_reads_back)
{
	/* Linux's pci_check_type1() */
	out32(0, 0x80000000u);
	cr_assert_eq(in(0, 4), 0x80000000u);
}

Test(pci, host_bridge_identity)
{
	cr_assert_eq(cfg(0, 0, 0, 4), 0x00081b36);
	cr_assert_eq(cfg(0, 0, 0x0a, 2), 0x0600, "class: host bridge");
	cr_assert_eq(cfg(0, 0, 0x0e, 1), 0x00, "header type 0, single function");
}

Test(pci, empty_slots_functions_and_buses_read_all_ones)
{
	cr_assert_eq(cfg(1, 0, 0, 4), 0xffffffffu);
	cr_assert_eq(cfg(0, 1, 0, 4), 0xffffffffu);
	out32(0, 0x80010000u);
	cr_assert_eq(in(4, 4), 0xffffffffu);
	out32(0, 0x00000000u); /* enable bit clear */
	cr_assert_eq(in(4, 4), 0xffffffffu);
}

Test(pci, read_only_fields_ignore_writes)
{
	out32(0, 0x80000000u);
	out32(4, 0x12345678u);
	cr_assert_eq(cfg(0, 0, 0, 4), 0x00081b36);
}

Test(pci, command_register_is_writable_where_masked)
{
	out32(0, 0x80000004u);
	uint8_t w[2] = {0xff, 0xff};
	pci_root_ops.write(&p, 4, w, 2);
	cr_assert_eq(cfg(0, 0, 4, 2), 0x0006);
}

Test(pci, reset_control_register_resets)
{
	uint8_t v = 0x02;
	pci_root_ops.write(&p, 1, &v, 1);
	cr_assert_eq(stopped, VM_STOP_NONE);
	v = 0x06;
	pci_root_ops.write(&p, 1, &v, 1);
	cr_assert_eq(stopped, VM_STOP_RESET);
}

Test(pci, add_rejects_taken_and_bad_slots)
{
	static struct pci_device d;
	cr_assert_eq(pci_root_add(&p, 0, &d), -EBUSY);
	cr_assert_eq(pci_root_add(&p, 32, &d), -EINVAL);
	cr_assert_eq(pci_root_add(&p, 3, &d), 0);
}
