/*
 * i8042 keyboard controller with a PS/2 keyboard on its first port and an empty second (AUX)
 * port: enough for Linux's i8042 and atkbd drivers, its `reboot=k` (command 0xfe pulses the
 * reset line), and for the operator's Ctrl+Alt+Delete.
 */
#ifndef VMM_MAIN_I8042_H
#define VMM_MAIN_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12
/* Bytes the keyboard holds until the guest reads them; more are dropped (an overrun). */
#define I8042_KBD_QUEUE 64

/* Output sources: who put the byte in the output buffer (port 0x60). */
enum i8042_src {
	I8042_SRC_CTL, /* a reply to a controller command: polled, no interrupt */
	I8042_SRC_KBD, /* the keyboard, or command 0xd2: IRQ 1 */
	I8042_SRC_AUX, /* the AUX port, or command 0xd3: IRQ 12 */
};

struct i8042_kbd {
	uint8_t queue[I8042_KBD_QUEUE]; /* what the guest will read, translated if CTR bit 6 */
	unsigned int head, count;
	uint8_t pending;  /* command awaiting its parameter byte, or 0 */
	uint8_t set;	  /* scan code set 1, 2 or 3 */
	uint8_t scanning; /* 0 after 0xf5 until 0xf4 or 0xff */
	uint8_t last;	  /* last byte sent, untranslated, for 0xfe (resend) */
	uint8_t leds;
	uint8_t typematic;
};

struct i8042 {
	pthread_mutex_t lock;
	struct vm_stopper stopper;
	struct irq_line irq;
	uint8_t ctr;	/* controller configuration byte */
	uint8_t outbuf; /* byte waiting at port 0x60 */
	uint8_t has_output;
	uint8_t out_src;	      /* enum i8042_src of outbuf */
	uint8_t out_timeout;	      /* outbuf reports a timeout (status bit 6) */
	uint8_t pending_cmd;	      /* command awaiting its data byte, or 0 */
	uint8_t xlate_break;	      /* translation saw 0xf0: the next byte is a break code */
	uint8_t kbd_level, aux_level; /* interrupt lines as a level chip would drive them */
	struct i8042_kbd kbd;
};

/*
 * One region from 0x60 to 0x64 (off = port - 0x60): 0 is data, 4 is status/command; 0x61 is
 * KVM's PIT speaker port and never reaches us, 0x62 and 0x63 read as zero.
 */
#define I8042_PORTS_LEN 5
extern const struct bus_ops i8042_ops;

/* `irq` pulses I8042_KBD_IRQ and I8042_AUX_IRQ; its pulse may be NULL (no interrupts). */
void i8042_init(struct i8042 *k, struct vm_stopper stopper, struct irq_line irq);
void i8042_destroy(struct i8042 *k);

/*
 * Presses and releases Ctrl+Alt+Delete (left Ctrl, left Alt, Delete; released in reverse) in
 * the keyboard's current scan code set, translated to set 1 when the guest turned translation
 * on; raises IRQ 1. Safe from any thread. Returns -ENODEV while no guest driver listens (the
 * keyboard interface is disabled or its interrupt off in the configuration byte, or scanning
 * was disabled with 0xf5), -EAGAIN if the queue has no room for the whole sequence.
 */
int i8042_ctrl_alt_del(struct i8042 *k);

#endif
