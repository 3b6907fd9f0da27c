#include <criterion/criterion.h>

#include "rtc.h"

static time_t fixed_now(void)
{
	return 1796319125; /* 2026-12-03 17:32:05 UTC, a Thursday */
}

static struct rtc r;

static void setup(void)
{
	rtc_init(&r, 512ULL << 20);
	r.now = fixed_now;
}

static void teardown(void)
{
	rtc_destroy(&r);
}

static uint8_t get(uint8_t idx)
{
	uint8_t v;
	rtc_ops.write(&r, 0, &idx, 1);
	rtc_ops.read(&r, 1, &v, 1);
	return v;
}

static void put(uint8_t idx, uint8_t v)
{
	rtc_ops.write(&r, 0, &idx, 1);
	rtc_ops.write(&r, 1, &v, 1);
}

TestSuite(rtc, .init = setup, .fini = teardown);

Test(rtc, time_is_the_host_clock_in_bcd)
{
	cr_assert_eq(get(0x00), 0x05);
	cr_assert_eq(get(0x02), 0x32);
	cr_assert_eq(get(0x04), 0x17);
	cr_assert_eq(get(0x06), 0x05, "Thursday is day 5");
	cr_assert_eq(get(0x07), 0x03);
	cr_assert_eq(get(0x08), 0x12);
	cr_assert_eq(get(0x09), 0x26);
	cr_assert_eq(get(0x32), 0x20);
}

Test(rtc, binary_mode_when_the_guest_asks)
{
	put(0x0b, 0x06);
	cr_assert_eq(get(0x09), 26);
	cr_assert_eq(get(0x04), 17);
}

Test(rtc, status_registers)
{
	cr_assert_eq(get(0x0a) & 0x80, 0, "never update-in-progress");
	cr_assert_eq(get(0x0d), 0x80, "battery good");
	cr_assert(get(0x0b) & 0x02, "24-hour mode");
}

Test(rtc, nmi_bit_is_not_part_of_the_index)
{
	cr_assert_eq(get(0x80 | 0x09), 0x26);
}

Test(rtc, cmos_ram_keeps_writes_but_the_clock_ignores_them)
{
	put(0x40, 0xab);
	cr_assert_eq(get(0x40), 0xab);
	put(0x00, 0x59);
	cr_assert_eq(get(0x00), 0x05);
}

Test(rtc, extended_memory_size_is_reported)
{
	/* 512 MiB - 1 MiB = 523264 KiB, capped at 0xffff. */
	cr_assert_eq(get(0x30) | (get(0x31) << 8), 0xffff);
	/* (512 - 16) MiB in 64 KiB blocks = 7936 */
	cr_assert_eq(get(0x34) | (get(0x35) << 8), 7936);
}
