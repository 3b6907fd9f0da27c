#include <criterion/criterion.h>

#include "i8042.h"

static enum vm_stop_reason stopped;

static void on_stop(void *ctx, enum vm_stop_reason why)
{
	(void)ctx;
	stopped = why;
}

static struct i8042 k;

static void setup(void)
{
	stopped = VM_STOP_NONE;
	i8042_init(&k, (struct vm_stopper){.stop = on_stop});
}

static void teardown(void)
{
	i8042_destroy(&k);
}

static uint8_t rd(uint64_t off)
{
	uint8_t v;
	i8042_ops.read(&k, off, &v, 1);
	return v;
}

static void wr(uint64_t off, uint8_t v)
{
	i8042_ops.write(&k, off, &v, 1);
}

TestSuite(i8042, .init = setup, .fini = teardown);

Test(i8042, reset_command_stops_the_vm_with_reset)
{
	cr_assert_eq(rd(4) & 0x02, 0, "input buffer empty: Linux's kb_wait passes");
	wr(4, 0xfe);
	cr_assert_eq(stopped, VM_STOP_RESET);
}

Test(i8042, output_port_write_with_bit0_clear_resets)
{
	wr(4, 0xd1);
	wr(0, 0xfe);
	cr_assert_eq(stopped, VM_STOP_RESET);
}

Test(i8042, self_test_answers_0x55)
{
	wr(4, 0xaa);
	cr_assert(rd(4) & 0x01, "output buffer full");
	cr_assert_eq(rd(0), 0x55);
	cr_assert_eq(rd(4) & 0x01, 0);
}

Test(i8042, configuration_byte_round_trips)
{
	wr(4, 0x60);
	wr(0, 0x47);
	wr(4, 0x20);
	cr_assert_eq(rd(0), 0x47);
	cr_assert_eq(stopped, VM_STOP_NONE);
}

Test(i8042, other_pulse_commands_do_not_reset)
{
	wr(4, 0xff);
	cr_assert_eq(stopped, VM_STOP_NONE);
}

Test(i8042, ports_between_data_and_command_do_nothing)
{
	wr(2, 0xfe);
	wr(3, 0xfe);
	cr_assert_eq(stopped, VM_STOP_NONE);
	cr_assert_eq(rd(2), 0);
}
