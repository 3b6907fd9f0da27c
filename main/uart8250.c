#include "uart8250.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Register offsets (DLAB=0 unless noted). */
enum {
	UART_RBR_THR = 0, /* DLAB=1: DLL */
	UART_IER = 1,	  /* DLAB=1: DLM */
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO_ENABLED 0xc0
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DCD 0x80
#define MSR_DSR 0x20
#define MSR_CTS 0x10

void uart8250_init(struct uart8250 *u, int out_fd, struct irq_line irq, uint32_t irq_no)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->irq = irq;
	u->irq_no = irq_no;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	u->mcr = 0x08; /* OUT2 */
	u->dll = 0x0c; /* 9600 baud */
}

void uart8250_destroy(struct uart8250 *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t iir(const struct uart8250 *u)
{
	uint8_t fifo = (u->fcr & 1) ? IIR_FIFO_ENABLED : 0;

	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->iir_pending_thre)
		return IIR_THRI | fifo;
	return IIR_NO_INT | fifo;
}

/* Called with the lock held after any state change that may have raised an interrupt. */
static void update_irq(struct uart8250 *u, uint8_t before)
{
	uint8_t now = iir(u);

	/* Edge-triggered ISA line: pulse when a new cause appears. */
	if (!(now & IIR_NO_INT) && (before & IIR_NO_INT || (now & 0x0f) != (before & 0x0f)))
		u->irq.pulse(u->irq.ctx, u->irq_no);
}

static void emit(struct uart8250 *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP) {
		if (u->rx_count < UART_FIFO_SIZE) {
			u->rx[(u->rx_head + u->rx_count++) % UART_FIFO_SIZE] = c;
			u->lsr |= LSR_DR;
		}
		return;
	}
	if (u->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(u->out_fd, &c, 1);
		if (n == 1 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return; /* a console that went away must not stop the guest */
	}
}

static uint8_t read_reg(struct uart8250 *u, uint64_t reg)
{
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
			if (--u->rx_count == 0)
				u->lsr &= (uint8_t)~LSR_DR;
		}
		return v;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR:
		v = iir(u);
		/* Reading IIR with THRE as the cause acknowledges it. */
		if ((v & 0x0f) == IIR_THRI)
			u->iir_pending_thre = 0;
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return u->lsr;
	case UART_MSR:
		if (u->mcr & MCR_LOOP)
			return (uint8_t)((u->mcr & 0x0f) << 4);
		return u->msr;
	default:
		return u->scr;
	}
}

static void write_reg(struct uart8250 *u, uint64_t reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			return;
		}
		emit(u, v);
		/* The byte left at once: the holding register is empty again. */
		u->iir_pending_thre = 1;
		return;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			return;
		}
		/* Enabling THRI while the holder is empty raises THRE at once, as on the chip. */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->iir_pending_thre = 1;
		u->ier = v & 0x0f;
		return;
	case UART_IIR_FCR:
		u->fcr = v;
		if (v & 0x02) { /* clear the receive FIFO */
			u->rx_count = 0;
			u->lsr &= (uint8_t)~LSR_DR;
		}
		return;
	case UART_LCR:
		u->lcr = v;
		return;
	case UART_MCR:
		u->mcr = v & 0x1f;
		return;
	case UART_SCR:
		u->scr = v;
		return;
	default:
		return; /* LSR and MSR are read-only */
	}
}

static void uart_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct uart8250 *u = ctx;
	uint8_t before;

	memset(data, 0, len);
	pthread_mutex_lock(&u->lock);
	before = iir(u);
	data[0] = read_reg(u, off);
	update_irq(u, before);
	pthread_mutex_unlock(&u->lock);
}

static void uart_write(void *ctx, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct uart8250 *u = ctx;
	uint8_t before;

	(void)len;
	pthread_mutex_lock(&u->lock);
	before = iir(u);
	write_reg(u, off, data[0]);
	update_irq(u, before);
	pthread_mutex_unlock(&u->lock);
}

const struct bus_ops uart8250_ops = {
	.read = uart_read,
	.write = uart_write,
};

size_t uart8250_input(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	uint8_t before;

	pthread_mutex_lock(&u->lock);
	before = iir(u);
	while (n < len && u->rx_count < UART_FIFO_SIZE) {
		u->rx[(u->rx_head + u->rx_count++) % UART_FIFO_SIZE] = buf[n++];
		u->lsr |= LSR_DR;
	}
	update_irq(u, before);
	pthread_mutex_unlock(&u->lock);
	return n;
}
