#include <criterion/criterion.h>
#include <string.h>

#include "console.h"

static struct console c;

static void setup(void)
{
	memset(&c, 0, sizeof(c));
	c.in_fd = -1;
	c.raw = true; /* the escape works only on a raw terminal */
}

TestSuite(console, .init = setup);

Test(console, plain_bytes_pass_through)
{
	uint8_t out[8];
	bool quit;

	cr_assert_eq(console_filter(&c, (const uint8_t *)"abc", 3, out, &quit), 3);
	cr_assert_eq(memcmp(out, "abc", 3), 0);
	cr_assert_not(quit);
}

Test(console, ctrl_a_x_quits)
{
	uint8_t out[8];
	bool quit;

	cr_assert_eq(console_filter(&c, (const uint8_t *)"ab\001x", 4, out, &quit), 2);
	cr_assert(quit);
}

Test(console, escape_split_across_reads)
{
	uint8_t out[8];
	bool quit;

	cr_assert_eq(console_filter(&c, (const uint8_t *)"\001", 1, out, &quit), 0);
	cr_assert_not(quit);
	cr_assert_eq(console_filter(&c, (const uint8_t *)"x", 1, out, &quit), 0);
	cr_assert(quit);
}

Test(console, double_escape_sends_one)
{
	uint8_t out[8];
	bool quit;

	cr_assert_eq(console_filter(&c, (const uint8_t *)"\001\001z", 3, out, &quit), 2);
	cr_assert_eq(out[0], 1);
	cr_assert_eq(out[1], 'z');
}

Test(console, escape_then_other_byte_sends_both)
{
	uint8_t out[8];
	bool quit;

	cr_assert_eq(console_filter(&c, (const uint8_t *)"\001", 1, out, &quit), 0);
	cr_assert_eq(console_filter(&c, (const uint8_t *)"c", 1, out, &quit), 2);
	cr_assert_eq(out[0], 1);
	cr_assert_eq(out[1], 'c');
}

Test(console, no_escape_when_input_is_not_a_terminal)
{
	uint8_t out[8];
	bool quit;

	c.raw = false;
	cr_assert_eq(console_filter(&c, (const uint8_t *)"\001x", 2, out, &quit), 2);
	cr_assert_not(quit);
}
