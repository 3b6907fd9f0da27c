/*
 * 8250/16550A UART (COM1): enough of the chip for Linux's 8250 driver and earlyprintk.
 * Output goes to an fd; input is pushed in by the console thread.
 */
#ifndef VMM_MAIN_UART8250_H
#define VMM_MAIN_UART8250_H

#include <pthread.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define UART_FIFO_SIZE 64

struct uart8250 {
	pthread_mutex_t lock;
	int out_fd; /* borrowed; -1 discards output */
	struct irq_line irq;
	uint32_t irq_no;
	uint8_t ier, iir_pending_thre, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t rx[UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;
};

extern const struct bus_ops uart8250_ops;

void uart8250_init(struct uart8250 *u, int out_fd, struct irq_line irq, uint32_t irq_no);
void uart8250_destroy(struct uart8250 *u);
/* Queues input bytes; returns how many fit. Raises the receive interrupt if enabled. */
size_t uart8250_input(struct uart8250 *u, const uint8_t *buf, size_t len);

#endif
