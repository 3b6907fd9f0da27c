#include "i8042.h"

#include <string.h>

#include "log.h"

#define STATUS_OBF 0x01
#define STATUS_SYS 0x04
#define STATUS_CMD 0x08

enum i8042_cmd {
	CMD_READ_CTR = 0x20,
	CMD_WRITE_CTR = 0x60,
	CMD_DISABLE_AUX = 0xa7,
	CMD_ENABLE_AUX = 0xa8,
	CMD_AUX_TEST = 0xa9,
	CMD_SELF_TEST = 0xaa,
	CMD_KBD_TEST = 0xab,
	CMD_DISABLE_KBD = 0xad,
	CMD_ENABLE_KBD = 0xae,
	CMD_READ_OUTPORT = 0xd0,
	CMD_WRITE_OUTPORT = 0xd1,
	CMD_RESET = 0xfe,
};

void i8042_init(struct i8042 *k, struct vm_stopper stopper)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->stopper = stopper;
	k->ctr = 0x30; /* both ports disabled, no interrupts, translation off */
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void reply(struct i8042 *k, uint8_t v)
{
	k->outbuf = v;
	k->has_output = 1;
}

static void reset(struct i8042 *k)
{
	log_info("guest reset through the i8042");
	k->stopper.stop(k->stopper.ctx, VM_STOP_RESET);
}

static void command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR:
		reply(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
		k->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		reply(k, 0x55);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		reply(k, 0x00);
		break;
	case CMD_READ_OUTPORT:
		reply(k, 0x01); /* bit 0: reset line not asserted */
		break;
	case CMD_DISABLE_KBD:
		k->ctr |= 0x10;
		break;
	case CMD_ENABLE_KBD:
		k->ctr &= (uint8_t)~0x10;
		break;
	case CMD_DISABLE_AUX:
		k->ctr |= 0x20;
		break;
	case CMD_ENABLE_AUX:
		k->ctr &= (uint8_t)~0x20;
		break;
	default:
		/* 0xf0..0xff pulse output lines; bit 0 low pulses the CPU reset line. */
		if (cmd >= 0xf0 && !(cmd & 1))
			reset(k);
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	if (cmd == CMD_WRITE_CTR)
		k->ctr = v;
	else if (cmd == CMD_WRITE_OUTPORT && !(v & 1))
		reset(k);
	/* Bytes for a keyboard that is not there are dropped. */
}

static void i8042_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct i8042 *k = ctx;

	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (off == 0) {
		data[0] = k->outbuf;
		k->has_output = 0;
	} else if (off == 4) {
		data[0] = (uint8_t)(STATUS_SYS | (k->has_output ? STATUS_OBF : 0) |
				    (k->pending_cmd ? STATUS_CMD : 0));
	}
	pthread_mutex_unlock(&k->lock);
}

static void i8042_write(void *ctx, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = ctx;

	(void)len;
	pthread_mutex_lock(&k->lock);
	if (off == 0)
		data_write(k, data[0]);
	else if (off == 4)
		command(k, data[0]);
	pthread_mutex_unlock(&k->lock);
}

const struct bus_ops i8042_ops = {
	.read = i8042_read,
	.write = i8042_write,
};
