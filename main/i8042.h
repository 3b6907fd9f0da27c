/*
 * i8042 keyboard controller: enough for Linux's `reboot=k` (command 0xfe pulses the reset
 * line) and its probe. No keyboard or mouse is attached.
 */
#ifndef VMM_MAIN_I8042_H
#define VMM_MAIN_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64

struct i8042 {
	pthread_mutex_t lock;
	struct vm_stopper stopper;
	uint8_t ctr;	     /* controller configuration byte */
	uint8_t outbuf;	     /* byte waiting at port 0x60 */
	uint8_t has_output;
	uint8_t pending_cmd; /* command awaiting its data byte, or 0 */
};

/*
 * One region from 0x60 to 0x64 (off = port - 0x60): 0 is data, 4 is status/command; 0x61 is
 * KVM's PIT speaker port and never reaches us, 0x62 and 0x63 read as zero.
 */
#define I8042_PORTS_LEN 5
extern const struct bus_ops i8042_ops;

void i8042_init(struct i8042 *k, struct vm_stopper stopper);
void i8042_destroy(struct i8042 *k);

#endif
