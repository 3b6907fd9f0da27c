#include "i8042.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "log.h"

#define STATUS_OBF 0x01
#define STATUS_SYS 0x04
#define STATUS_CMD 0x08
#define STATUS_UNLOCKED 0x10 /* keyboard not inhibited: Linux warns "Keylock active" if clear */
#define STATUS_AUXDATA 0x20
#define STATUS_TIMEOUT 0x40

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define KBD_ACK 0xfa
#define KBD_RESEND 0xfe
#define KBD_BAT_OK 0xaa
#define KBD_BREAK 0xf0 /* set 2 and 3 break prefix */

/*
 * The 8042's set 2 to set 1 translation of codes below 0x80 (the inverse of atkbd's
 * unxlate table; 0x00, the set 2 overrun, becomes the set 1 overrun 0xff). Codes from 0x80
 * pass unchanged but 0x83 (F7), and a preceding 0xf0 sets bit 7 of the result.
 */
static const uint8_t xlate_table[128] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

/* Ctrl, Alt, Delete pressed, then released in reverse, per scan code set (index 1..3). */
struct key_seq {
	uint8_t len;
	uint8_t bytes[11];
};

static const struct key_seq ctrl_alt_del_seq[4] = {
    [1] = {8, {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d}},
    [2] = {11, {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14}},
    [3] = {9, {0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11}},
};

static void kbd_defaults(struct i8042_kbd *d)
{
	d->set = 2;
	d->typematic = 0x2b; /* 10.9 characters/s after 500 ms */
	d->leds = 0;
}

void i8042_init(struct i8042 *k, struct vm_stopper stopper, struct irq_line irq)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->stopper = stopper;
	k->irq = irq;
	/*
	 * As a BIOS leaves it: translation on, both interfaces disabled and silent until the
	 * guest's driver enables them. The keyboard passed its self-test and scans.
	 */
	k->ctr = CTR_XLATE | CTR_AUXDIS | CTR_KBDDIS | CTR_SYS;
	kbd_defaults(&k->kbd);
	k->kbd.scanning = 1;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void pulse(struct i8042 *k, uint32_t line)
{
	if (k->irq.pulse)
		k->irq.pulse(k->irq.ctx, line);
}

/*
 * A real 8042 drives IRQ 1 (IRQ 12) while the output buffer holds keyboard (AUX) data and
 * the configuration byte enables that interrupt. The ISA lines we have are edge-triggered:
 * pulse on each rising edge of that level. Called with the lock held after every change.
 */
static void update_irqs(struct i8042 *k)
{
	uint8_t kbd = k->has_output && k->out_src == I8042_SRC_KBD && (k->ctr & CTR_KBDINT);
	uint8_t aux = k->has_output && k->out_src == I8042_SRC_AUX && (k->ctr & CTR_AUXINT);

	if (kbd && !k->kbd_level)
		pulse(k, I8042_KBD_IRQ);
	if (aux && !k->aux_level)
		pulse(k, I8042_AUX_IRQ);
	k->kbd_level = kbd;
	k->aux_level = aux;
}

static void queue_push_front(struct i8042_kbd *d, uint8_t v)
{
	if (d->count == I8042_KBD_QUEUE)
		return;
	d->head = (d->head + I8042_KBD_QUEUE - 1) % I8042_KBD_QUEUE;
	d->queue[d->head] = v;
	d->count++;
}

static uint8_t queue_pop(struct i8042_kbd *d)
{
	uint8_t v = d->queue[d->head];

	d->head = (d->head + 1) % I8042_KBD_QUEUE;
	d->count--;
	return v;
}

/* Moves the keyboard's next byte to the output buffer if it is free and the port enabled. */
static void refill(struct i8042 *k)
{
	if (k->has_output || !k->kbd.count || (k->ctr & CTR_KBDDIS))
		return;
	k->outbuf = queue_pop(&k->kbd);
	k->out_src = I8042_SRC_KBD;
	k->out_timeout = 0;
	k->has_output = 1;
}

/*
 * Puts a controller-made byte in the output buffer. Keyboard data already there goes back
 * to the head of the keyboard's queue rather than being lost: it is read after this byte.
 */
static void output(struct i8042 *k, uint8_t v, enum i8042_src src, uint8_t timeout)
{
	if (k->has_output && k->out_src == I8042_SRC_KBD)
		queue_push_front(&k->kbd, k->outbuf);
	k->outbuf = v;
	k->out_src = (uint8_t)src;
	k->out_timeout = timeout;
	k->has_output = 1;
}

/* The keyboard sends one byte; the controller translates it to set 1 if CTR bit 6 says so. */
static void kbd_send(struct i8042 *k, uint8_t v)
{
	struct i8042_kbd *d = &k->kbd;

	d->last = v;
	if (k->ctr & CTR_XLATE) {
		if (v == KBD_BREAK) {
			k->xlate_break = 1;
			return;
		}
		v = v < 0x80 ? xlate_table[v] : v == 0x83 ? 0x41 : v;
		if (k->xlate_break)
			v |= 0x80;
		k->xlate_break = 0;
	}
	/* A guest that does not read its keyboard loses bytes, as on a real one. */
	if (d->count < I8042_KBD_QUEUE)
		d->queue[(d->head + d->count++) % I8042_KBD_QUEUE] = v;
	refill(k);
}

static void reset(struct i8042 *k)
{
	log_info("guest reset through the i8042");
	k->stopper.stop(k->stopper.ctx, VM_STOP_RESET);
}

/* --- keyboard commands (bytes written to port 0x60 outside a controller command) --- */

struct kbd_cmd {
	uint8_t cmd;
	uint8_t has_param;
	void (*run)(struct i8042 *k, uint8_t cmd);
	void (*param)(struct i8042 *k, uint8_t v);
};

static void kbd_ack(struct i8042 *k, uint8_t cmd)
{
	(void)cmd;
	kbd_send(k, KBD_ACK);
}

static void kbd_echo(struct i8042 *k, uint8_t cmd)
{
	kbd_send(k, cmd);
}

static void kbd_get_id(struct i8042 *k, uint8_t cmd)
{
	/* An MF2 keyboard; under translation the 0x83 reaches the guest as 0x41. */
	(void)cmd;
	kbd_send(k, KBD_ACK);
	kbd_send(k, 0xab);
	kbd_send(k, 0x83);
}

static void kbd_clear(struct i8042 *k)
{
	k->kbd.count = 0;
	k->xlate_break = 0;
}

static void kbd_enable(struct i8042 *k, uint8_t cmd)
{
	(void)cmd;
	kbd_clear(k);
	k->kbd.scanning = 1;
	kbd_send(k, KBD_ACK);
}

static void kbd_disable(struct i8042 *k, uint8_t cmd)
{
	(void)cmd;
	kbd_clear(k);
	kbd_defaults(&k->kbd);
	k->kbd.scanning = 0;
	kbd_send(k, KBD_ACK);
}

static void kbd_set_default(struct i8042 *k, uint8_t cmd)
{
	(void)cmd;
	kbd_defaults(&k->kbd);
	kbd_send(k, KBD_ACK);
}

static void kbd_resend(struct i8042 *k, uint8_t cmd)
{
	(void)cmd;
	kbd_send(k, k->kbd.last);
}

static void kbd_reset(struct i8042 *k, uint8_t cmd)
{
	(void)cmd;
	kbd_clear(k);
	kbd_defaults(&k->kbd);
	k->kbd.scanning = 1;
	kbd_send(k, KBD_ACK);
	kbd_send(k, KBD_BAT_OK);
}

static void kbd_set_leds(struct i8042 *k, uint8_t v)
{
	k->kbd.leds = v & 7;
	kbd_send(k, KBD_ACK);
}

static void kbd_set_typematic(struct i8042 *k, uint8_t v)
{
	k->kbd.typematic = v & 0x7f;
	kbd_send(k, KBD_ACK);
}

static void kbd_scan_set(struct i8042 *k, uint8_t v)
{
	kbd_send(k, KBD_ACK);
	if (v == 0)
		kbd_send(k, k->kbd.set); /* get: 1, 2 or 3 (0x43, 0x41, 0x3f translated) */
	else if (v <= 3)
		k->kbd.set = v;
}

static const struct kbd_cmd kbd_cmds[] = {
    {0xed, 1, kbd_ack, kbd_set_leds},	   {0xee, 0, kbd_echo, NULL},
    {0xf0, 1, kbd_ack, kbd_scan_set},	   {0xf2, 0, kbd_get_id, NULL},
    {0xf3, 1, kbd_ack, kbd_set_typematic}, {0xf4, 0, kbd_enable, NULL},
    {0xf5, 0, kbd_disable, NULL},	   {0xf6, 0, kbd_set_default, NULL},
    {0xfe, 0, kbd_resend, NULL},	   {0xff, 0, kbd_reset, NULL},
};

static const struct kbd_cmd *kbd_find(uint8_t cmd)
{
	for (size_t i = 0; i < sizeof(kbd_cmds) / sizeof(kbd_cmds[0]); i++)
		if (kbd_cmds[i].cmd == cmd)
			return &kbd_cmds[i];
	return NULL;
}

static void kbd_write(struct i8042 *k, uint8_t v)
{
	struct i8042_kbd *d = &k->kbd;
	const struct kbd_cmd *c;

	/* Parameters are below 0x80; a command byte instead aborts the one waiting for it. */
	if (d->pending && v < 0x80) {
		c = kbd_find(d->pending);
		d->pending = 0;
		c->param(k, v);
		return;
	}
	d->pending = 0;
	c = kbd_find(v);
	if (!c) {
		/*
		 * 0xf7..0xfd (set 3 key types) are acknowledged and ignored. Below 0xed nothing is
		 * defined for a plain keyboard: a real one asks for a resend, which is how Linux's
		 * atkbd tells that optional extensions (0xea, 0xe8) are absent.
		 */
		kbd_send(k, v >= 0xf7 ? KBD_ACK : KBD_RESEND);
		return;
	}
	if (c->has_param)
		d->pending = v;
	c->run(k, v);
}

/* --- controller commands (port 0x64) --- */

struct ctl_cmd {
	uint8_t cmd;
	void (*run)(struct i8042 *k);		   /* on the command byte, or NULL */
	void (*param)(struct i8042 *k, uint8_t v); /* on its data byte, or NULL */
};

static void ctl_read_ctr(struct i8042 *k)
{
	output(k, k->ctr, I8042_SRC_CTL, 0);
}

static void ctl_write_ctr(struct i8042 *k, uint8_t v)
{
	k->ctr = v;
	refill(k);
}

static void ctl_self_test(struct i8042 *k)
{
	output(k, 0x55, I8042_SRC_CTL, 0);
}

static void ctl_port_test(struct i8042 *k)
{
	output(k, 0x00, I8042_SRC_CTL, 0); /* no clock or data line stuck */
}

static void ctl_read_outport(struct i8042 *k)
{
	output(k, 0x01, I8042_SRC_CTL, 0); /* bit 0: reset line not asserted */
}

static void ctl_write_outport(struct i8042 *k, uint8_t v)
{
	if (!(v & 1))
		reset(k);
}

static void ctl_disable_kbd(struct i8042 *k)
{
	k->ctr |= CTR_KBDDIS;
}

static void ctl_enable_kbd(struct i8042 *k)
{
	k->ctr &= (uint8_t)~CTR_KBDDIS;
	refill(k);
}

static void ctl_disable_aux(struct i8042 *k)
{
	k->ctr |= CTR_AUXDIS;
}

static void ctl_enable_aux(struct i8042 *k)
{
	k->ctr &= (uint8_t)~CTR_AUXDIS;
}

static void ctl_kbd_loop(struct i8042 *k, uint8_t v)
{
	output(k, v, I8042_SRC_KBD, 0);
}

/* The AUX loopback is the controller's own: it works with nothing plugged in. */
static void ctl_aux_loop(struct i8042 *k, uint8_t v)
{
	output(k, v, I8042_SRC_AUX, 0);
}

/* Nothing on the AUX port: the controller times out waiting for a device clock. */
static void ctl_aux_send(struct i8042 *k, uint8_t v)
{
	(void)v;
	output(k, 0xfe, I8042_SRC_AUX, 1);
}

static const struct ctl_cmd ctl_cmds[] = {
    {0x20, ctl_read_ctr, NULL},	    {0x60, NULL, ctl_write_ctr},     {0xa7, ctl_disable_aux, NULL},
    {0xa8, ctl_enable_aux, NULL},   {0xa9, ctl_port_test, NULL},     {0xaa, ctl_self_test, NULL},
    {0xab, ctl_port_test, NULL},    {0xad, ctl_disable_kbd, NULL},   {0xae, ctl_enable_kbd, NULL},
    {0xd0, ctl_read_outport, NULL}, {0xd1, NULL, ctl_write_outport}, {0xd2, NULL, ctl_kbd_loop},
    {0xd3, NULL, ctl_aux_loop},	    {0xd4, NULL, ctl_aux_send},
};

static const struct ctl_cmd *ctl_find(uint8_t cmd)
{
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (ctl_cmds[i].cmd == cmd)
			return &ctl_cmds[i];
	return NULL;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	const struct ctl_cmd *c = ctl_find(cmd);

	k->pending_cmd = 0;
	if (c && c->param)
		k->pending_cmd = cmd;
	if (c && c->run)
		c->run(k);
	/* 0xf0..0xff pulse output lines; bit 0 low pulses the CPU reset line. */
	if (!c && cmd >= 0xf0 && !(cmd & 1))
		reset(k);
}

static void data_write(struct i8042 *k, uint8_t v)
{
	const struct ctl_cmd *c = k->pending_cmd ? ctl_find(k->pending_cmd) : NULL;

	k->pending_cmd = 0;
	if (c)
		c->param(k, v);
	else
		kbd_write(k, v);
}

static uint8_t status(const struct i8042 *k)
{
	uint8_t s = STATUS_SYS | STATUS_UNLOCKED;

	if (k->has_output)
		s |= STATUS_OBF;
	if (k->has_output && k->out_src == I8042_SRC_AUX)
		s |= STATUS_AUXDATA;
	if (k->has_output && k->out_timeout)
		s |= STATUS_TIMEOUT;
	if (k->pending_cmd)
		s |= STATUS_CMD;
	return s;
}

static void i8042_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct i8042 *k = ctx;

	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (off == 0) {
		/* With nothing waiting, the last byte reads again, as on the chip. */
		data[0] = k->outbuf;
		k->has_output = 0;
		update_irqs(k); /* the level drops, so the next byte is a new edge */
		refill(k);
		update_irqs(k);
	} else if (off == 4) {
		data[0] = status(k);
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
	update_irqs(k);
	pthread_mutex_unlock(&k->lock);
}

static bool kbd_listening(const struct i8042 *k)
{
	return k->kbd.scanning && !(k->ctr & CTR_KBDDIS) && (k->ctr & CTR_KBDINT);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	const struct key_seq *seq;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	seq = &ctrl_alt_del_seq[k->kbd.set];
	if (!kbd_listening(k)) {
		ret = -ENODEV;
	} else if (I8042_KBD_QUEUE - k->kbd.count < seq->len) {
		ret = -EAGAIN; /* all or nothing: half a combination would leave keys down */
	} else {
		for (unsigned int i = 0; i < seq->len; i++)
			kbd_send(k, seq->bytes[i]);
		update_irqs(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

const struct bus_ops i8042_ops = {
    .read = i8042_read,
    .write = i8042_write,
};
