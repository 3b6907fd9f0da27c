#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>

#include "i8042.h"

#define ST_OBF 0x01
#define ST_UNLOCKED 0x10
#define ST_AUXDATA 0x20
#define ST_TIMEOUT 0x40

/* The configuration byte as Linux writes it once it has enabled the keyboard port. */
#define CTR_KBD_ON_XLATE 0x65 /* translation, AUX disabled, system flag, keyboard interrupt */
#define CTR_KBD_ON_RAW 0x25

static enum vm_stop_reason stopped;
static int kbd_pulses, aux_pulses, other_pulses;

static void on_stop(void *ctx, enum vm_stop_reason why)
{
	(void)ctx;
	stopped = why;
}

static void on_pulse(void *ctx, uint32_t line)
{
	(void)ctx;
	if (line == I8042_KBD_IRQ)
		__atomic_add_fetch(&kbd_pulses, 1, __ATOMIC_RELAXED);
	else if (line == I8042_AUX_IRQ)
		aux_pulses++;
	else
		other_pulses++;
}

static struct i8042 k;

static void setup(void)
{
	stopped = VM_STOP_NONE;
	kbd_pulses = aux_pulses = other_pulses = 0;
	i8042_init(&k, (struct vm_stopper){.stop = on_stop}, (struct irq_line){.pulse = on_pulse});
}

static void teardown(void)
{
	cr_expect_eq(other_pulses, 0, "only IRQ 1 and 12 are ours");
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

static void write_ctr(uint8_t v)
{
	wr(4, 0x60);
	wr(0, v);
}

/* Reads the output buffer, asserting it was full, like Linux's i8042_wait_read + read. */
static uint8_t take(void)
{
	cr_assert(rd(4) & ST_OBF, "a byte is waiting");
	return rd(0);
}

static void expect_bytes(const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t got = take();
		cr_assert_eq(got, want[i], "byte %zu: got 0x%02x, want 0x%02x", i, got, want[i]);
	}
	cr_assert_eq(rd(4) & ST_OBF, 0, "nothing more after %zu bytes", n);
}

#define EXPECT(...)                                                                                \
	do {                                                                                       \
		const uint8_t want_[] = {__VA_ARGS__};                                             \
		expect_bytes(want_, sizeof(want_));                                                \
	} while (0)

TestSuite(i8042, .init = setup, .fini = teardown);

/* --- the controller, unchanged --- */

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

Test(i8042, output_port_write_with_bit0_set_does_not_reset_nor_reach_the_keyboard)
{
	wr(4, 0xd1);
	wr(0, 0xff);
	cr_assert_eq(stopped, VM_STOP_NONE);
	cr_assert_eq(rd(4) & ST_OBF, 0, "0xff went to the output port, not the keyboard");
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

/* --- Linux's i8042 probe (drivers/input/serio/i8042.c), step by step --- */

Test(i8042, status_says_keyboard_not_inhibited)
{
	/* Without bit 4 Linux prints "Warning: Keylock active". */
	cr_assert_eq(rd(4), 0x14, "system flag and unlocked, nothing waiting");
}

Test(i8042, initial_configuration_byte_translates_with_both_ports_off)
{
	wr(4, 0x20);
	cr_assert_eq(take(), 0x74, "translation, AUX and KBD disabled, system flag");
	wr(4, 0x20);
	cr_assert_eq(take(), 0x74, "a stable CTR read");
	cr_assert_eq(kbd_pulses + aux_pulses, 0, "controller replies are polled");
}

Test(i8042, port_tests_pass)
{
	wr(4, 0xab);
	EXPECT(0x00);
	wr(4, 0xa9);
	EXPECT(0x00);
}

Test(i8042, aux_loopback_answers_on_the_aux_side)
{
	wr(4, 0xd3);
	cr_assert(rd(4) & 0x08, "waiting for the command's data byte");
	wr(0, 0x5a);
	cr_assert_eq(rd(4) & (ST_OBF | ST_AUXDATA), ST_OBF | ST_AUXDATA);
	cr_assert_eq(rd(0), 0x5a);
	cr_assert_eq(aux_pulses, 0, "AUX interrupt off in the CTR");
}

Test(i8042, aux_enable_disable_show_in_the_ctr)
{
	wr(4, 0xa8);
	wr(4, 0x20);
	cr_assert_eq(take() & 0x20, 0);
	wr(4, 0xa7);
	wr(4, 0x20);
	cr_assert_eq(take() & 0x20, 0x20);
}

Test(i8042, aux_irq_delivery_test_and_no_multiplexer)
{
	write_ctr(0x56); /* AUX enabled with its interrupt, KBD disabled */
	wr(4, 0xd3);
	wr(0, 0xa5);
	cr_assert_eq(aux_pulses, 1, "IRQ 12 for the loopback byte");
	cr_assert_eq(kbd_pulses, 0);
	EXPECT(0xa5);
	/* Active multiplexing probe: the third byte comes back unchanged, so no MUX. */
	const uint8_t mux[] = {0xf0, 0x56, 0xa4};
	for (size_t i = 0; i < sizeof(mux); i++) {
		wr(4, 0xd3);
		wr(0, mux[i]);
		EXPECT(mux[i]);
	}
	cr_assert_eq(aux_pulses, 4);
}

Test(i8042, aux_device_commands_time_out_with_nothing_plugged_in)
{
	write_ctr(0x47); /* both interrupts, both ports enabled */
	wr(4, 0xd4);
	wr(0, 0xf2);
	cr_assert_eq(rd(4) & (ST_OBF | ST_AUXDATA | ST_TIMEOUT), ST_OBF | ST_AUXDATA | ST_TIMEOUT);
	cr_assert_eq(rd(0), 0xfe);
	cr_assert_eq(aux_pulses, 1);
	cr_assert_eq(kbd_pulses, 0, "the byte went to the AUX port, not the keyboard");
	cr_assert_eq(rd(4) & ST_TIMEOUT, 0, "the timeout goes with the byte");
}

/* --- the keyboard behind port 0x60 (atkbd's probe) --- */

Test(i8042, get_id_is_translated_to_ab_41)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xf2);
	EXPECT(0xfa, 0xab, 0x41);
	cr_assert_eq(kbd_pulses, 3, "one IRQ 1 edge per byte");
}

Test(i8042, get_id_untranslated_is_ab_83)
{
	write_ctr(CTR_KBD_ON_RAW);
	wr(0, 0xf2);
	EXPECT(0xfa, 0xab, 0x83);
}

Test(i8042, atkbd_probe_and_setup_sequence)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xf5); /* atkbd_deactivate */
	EXPECT(0xfa);
	wr(0, 0xed); /* LEDs off */
	EXPECT(0xfa);
	wr(0, 0x00);
	EXPECT(0xfa);
	wr(0, 0xf3); /* typematic */
	EXPECT(0xfa);
	wr(0, 0x20);
	EXPECT(0xfa);
	wr(0, 0xf4); /* atkbd_activate */
	EXPECT(0xfa);
	cr_assert_eq(kbd_pulses, 6, "one edge per byte");
}

Test(i8042, reset_answers_ack_then_bat)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xff);
	EXPECT(0xfa, 0xaa);
}

Test(i8042, echo_answers_ee)
{
	write_ctr(CTR_KBD_ON_RAW);
	wr(0, 0xee);
	EXPECT(0xee);
}

Test(i8042, scan_code_set_get_and_set)
{
	write_ctr(CTR_KBD_ON_RAW);
	wr(0, 0xf0);
	wr(0, 0x00);
	EXPECT(0xfa, 0xfa, 0x02);
	wr(0, 0xf0);
	wr(0, 0x03);
	EXPECT(0xfa, 0xfa);
	wr(0, 0xf0);
	wr(0, 0x00);
	EXPECT(0xfa, 0xfa, 0x03);
}

Test(i8042, scan_code_set_2_reads_0x41_under_translation)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xf0);
	wr(0, 0x00);
	EXPECT(0xfa, 0xfa, 0x41);
}

Test(i8042, undefined_commands_ask_for_a_resend_set3_ones_are_acked)
{
	write_ctr(CTR_KBD_ON_RAW);
	wr(0, 0xea); /* atkbd's optional "extra keys" extension: absent */
	EXPECT(0xfe);
	wr(0, 0xf8);
	EXPECT(0xfa);
	wr(0, 0xfe); /* resend */
	EXPECT(0xfa);
}

Test(i8042, a_command_byte_instead_of_a_parameter_is_a_new_command)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xed);
	EXPECT(0xfa);
	wr(0, 0xf2); /* not an LED byte: get ID */
	EXPECT(0xfa, 0xab, 0x41);
}

Test(i8042, data_bytes_of_controller_commands_do_not_reach_the_keyboard)
{
	write_ctr(CTR_KBD_ON_RAW);
	wr(4, 0x20);
	EXPECT(CTR_KBD_ON_RAW);
	cr_assert_eq(kbd_pulses, 0);
}

/* --- the output queue and IRQ 1 --- */

Test(i8042, no_interrupt_while_the_ctr_disables_it_but_bytes_poll)
{
	write_ctr(0x64); /* keyboard port enabled, interrupt off */
	wr(0, 0xf2);
	EXPECT(0xfa, 0xab, 0x41);
	cr_assert_eq(kbd_pulses, 0);
}

Test(i8042, enabling_the_interrupt_with_a_byte_waiting_raises_it)
{
	write_ctr(0x64);
	wr(0, 0xee);
	cr_assert_eq(kbd_pulses, 0);
	write_ctr(CTR_KBD_ON_XLATE);
	cr_assert_eq(kbd_pulses, 1);
	EXPECT(0xee);
	cr_assert_eq(kbd_pulses, 1, "no edge for an empty buffer");
}

Test(i8042, disabled_keyboard_port_holds_bytes_until_enabled)
{
	write_ctr(0x75); /* interrupt on, keyboard port disabled */
	wr(0, 0xf2);
	cr_assert_eq(rd(4) & ST_OBF, 0, "held by the keyboard");
	cr_assert_eq(kbd_pulses, 0);
	wr(4, 0xae);
	cr_assert_eq(kbd_pulses, 1);
	EXPECT(0xfa, 0xab, 0x41);
	cr_assert_eq(kbd_pulses, 3);
}

Test(i8042, controller_reply_goes_before_waiting_keyboard_bytes)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xf2);
	wr(4, 0xaa);
	EXPECT(0x55, 0xfa, 0xab, 0x41);
}

Test(i8042, write_keyboard_output_buffer_is_keyboard_data)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(4, 0xd2);
	wr(0, 0x42);
	cr_assert_eq(rd(4) & (ST_OBF | ST_AUXDATA), ST_OBF);
	cr_assert_eq(kbd_pulses, 1);
	EXPECT(0x42);
}

Test(i8042, empty_buffer_reads_the_last_byte_again_without_an_edge)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xee);
	EXPECT(0xee);
	cr_assert_eq(rd(0), 0xee);
	cr_assert_eq(kbd_pulses, 1);
}

Test(i8042, a_keyboard_nobody_reads_drops_bytes_past_the_queue)
{
	write_ctr(CTR_KBD_ON_RAW);
	for (int i = 0; i < I8042_KBD_QUEUE + 10; i++)
		wr(0, 0xee);
	/* One in the output buffer, a queue full behind it. */
	for (int i = 0; i < I8042_KBD_QUEUE + 1; i++)
		cr_assert_eq(take(), 0xee);
	cr_assert_eq(rd(4) & ST_OBF, 0);
}

/* --- Ctrl+Alt+Delete --- */

Test(i8042, ctrl_alt_del_refused_before_the_guest_enables_the_keyboard)
{
	cr_assert_eq(i8042_ctrl_alt_del(&k), -ENODEV);
	write_ctr(0x64); /* port on, interrupt off */
	cr_assert_eq(i8042_ctrl_alt_del(&k), -ENODEV);
	write_ctr(0x75); /* interrupt on, port off */
	cr_assert_eq(i8042_ctrl_alt_del(&k), -ENODEV);
	cr_assert_eq(rd(4) & ST_OBF, 0, "nothing queued");
	cr_assert_eq(kbd_pulses, 0);
}

Test(i8042, ctrl_alt_del_refused_while_scanning_is_disabled)
{
	write_ctr(CTR_KBD_ON_XLATE);
	wr(0, 0xf5);
	EXPECT(0xfa);
	cr_assert_eq(i8042_ctrl_alt_del(&k), -ENODEV);
	wr(0, 0xf4);
	EXPECT(0xfa);
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0);
}

Test(i8042, ctrl_alt_del_translated_is_set_1)
{
	write_ctr(CTR_KBD_ON_XLATE);
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0);
	cr_assert_eq(kbd_pulses, 1);
	EXPECT(0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
	cr_assert_eq(kbd_pulses, 8, "one edge per byte");
}

Test(i8042, ctrl_alt_del_untranslated_is_set_2)
{
	write_ctr(CTR_KBD_ON_RAW);
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0);
	EXPECT(0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14);
	cr_assert_eq(kbd_pulses, 11);
}

Test(i8042, ctrl_alt_del_in_set_3)
{
	write_ctr(CTR_KBD_ON_RAW);
	wr(0, 0xf0);
	wr(0, 0x03);
	EXPECT(0xfa, 0xfa);
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0);
	EXPECT(0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11);
}

Test(i8042, ctrl_alt_del_all_or_nothing_when_the_queue_is_full)
{
	write_ctr(CTR_KBD_ON_RAW);
	for (int i = 0; i < I8042_KBD_QUEUE - 5; i++)
		wr(0, 0xee); /* output buffer + 58 queued: 6 free */
	cr_assert_eq(i8042_ctrl_alt_del(&k), -EAGAIN);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(take(), 0xee);
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0);
	for (int i = 0; i < I8042_KBD_QUEUE - 5 - 10; i++)
		cr_assert_eq(take(), 0xee);
	EXPECT(0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14);
}

#define CAD_THREADS 4
#define CAD_EACH 200

static void *press(void *arg)
{
	int *done = arg;

	for (int n = 0; n < CAD_EACH;) {
		int ret = i8042_ctrl_alt_del(&k);

		cr_assert(ret == 0 || ret == -EAGAIN);
		n += ret == 0;
	}
	__atomic_add_fetch(done, 1, __ATOMIC_RELEASE);
	return NULL;
}

Test(i8042, ctrl_alt_del_from_other_threads_while_the_guest_reads)
{
	static const uint8_t seq[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	pthread_t t[CAD_THREADS];
	int done = 0;
	size_t got = 0;

	write_ctr(CTR_KBD_ON_XLATE);
	for (int i = 0; i < CAD_THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, press, &done), 0);
	/* Whole sequences, never interleaved: each call queues all 8 bytes under the lock. */
	while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < CAD_THREADS || (rd(4) & ST_OBF)) {
		if (!(rd(4) & ST_OBF))
			continue;
		uint8_t v = rd(0);
		cr_assert_eq(v, seq[got % sizeof(seq)], "byte %zu", got);
		got++;
	}
	for (int i = 0; i < CAD_THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(got, sizeof(seq) * CAD_THREADS * CAD_EACH);
	cr_assert_eq(kbd_pulses, (int)got, "one edge per byte");
}
