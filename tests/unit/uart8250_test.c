#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "uart8250.h"

struct pulses {
	int count;
	uint32_t last;
};

static void count_pulse(void *ctx, uint32_t irq)
{
	struct pulses *p = ctx;
	p->count++;
	p->last = irq;
}

static struct uart8250 u;
static struct pulses pulses;
static int pipefd[2];

static void setup(void)
{
	memset(&pulses, 0, sizeof(pulses));
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
	uart8250_init(&u, pipefd[1], (struct irq_line){.pulse = count_pulse, .ctx = &pulses}, 4);
}

static void teardown(void)
{
	uart8250_destroy(&u);
	close(pipefd[0]);
	close(pipefd[1]);
}

static uint8_t rd(uint64_t reg)
{
	uint8_t v;
	uart8250_ops.read(&u, reg, &v, 1);
	return v;
}

static void wr(uint64_t reg, uint8_t v)
{
	uart8250_ops.write(&u, reg, &v, 1);
}

TestSuite(uart8250, .init = setup, .fini = teardown);

Test(uart8250, transmit_reaches_the_output_fd)
{
	char buf[8] = {0};
	wr(0, 'h');
	wr(0, 'i');
	cr_assert_eq(read(pipefd[0], buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "hi");
	cr_assert(rd(5) & 0x20, "THRE set: the transmitter is always ready");
}

Test(uart8250, divisor_latch_hides_data_registers)
{
	wr(3, 0x80); /* DLAB */
	wr(0, 0x01);
	wr(1, 0x00);
	cr_assert_eq(rd(0), 0x01);
	cr_assert_eq(rd(1), 0x00);
	wr(3, 0x03);
	char buf[4];
	cr_assert_eq(read(pipefd[0], buf, sizeof(buf)), -1, "divisor writes are not output");
}

Test(uart8250, received_bytes_are_read_in_order_and_interrupt)
{
	wr(1, 0x01); /* receive interrupt */
	cr_assert_eq(uart8250_input(&u, (const uint8_t *)"ab", 2), 2);
	cr_assert_eq(pulses.count, 1);
	cr_assert_eq(pulses.last, 4);
	cr_assert_eq(rd(2) & 0x0f, 0x04, "IIR says received data");
	cr_assert(rd(5) & 0x01, "LSR data ready");
	cr_assert_eq(rd(0), 'a');
	cr_assert_eq(rd(0), 'b');
	cr_assert_eq(rd(5) & 0x01, 0, "nothing left");
	cr_assert_eq(rd(2) & 0x0f, 0x01, "no interrupt pending");
}

Test(uart8250, fifo_overflow_drops_input)
{
	uint8_t big[UART_FIFO_SIZE + 10];
	memset(big, 'x', sizeof(big));
	cr_assert_eq(uart8250_input(&u, big, sizeof(big)), UART_FIFO_SIZE);
}

Test(uart8250, thre_interrupt_on_enable_and_after_each_byte)
{
	wr(1, 0x02);
	cr_assert_eq(pulses.count, 1, "enabling THRI with an empty holder interrupts");
	cr_assert_eq(rd(2) & 0x0f, 0x02);
	cr_assert_eq(rd(2) & 0x0f, 0x01, "reading IIR acknowledged THRE");
	wr(0, 'z');
	cr_assert_eq(pulses.count, 2);
}

Test(uart8250, loopback_returns_output_as_input)
{
	wr(4, 0x10);
	wr(0, 'q');
	cr_assert_eq(rd(0), 'q');
	char buf[4];
	cr_assert_eq(read(pipefd[0], buf, sizeof(buf)), -1);
}

Test(uart8250, scratch_register_holds_a_byte)
{
	wr(7, 0x5a);
	cr_assert_eq(rd(7), 0x5a);
}
