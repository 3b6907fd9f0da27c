/*
 * The serial console's host side: stdin in raw mode when it is a terminal (restored on every
 * exit path), and the escape sequence Ctrl-A x that stops the VM.
 */
#ifndef VMM_MAIN_CONSOLE_H
#define VMM_MAIN_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	int in_fd;	    /* stdin, or -1 when there is no input */
	bool raw;	    /* the terminal was switched to raw mode */
	bool escape_seen;   /* the last byte was the escape character */
	struct termios saved;
};

/* Sets up input from in_fd (-1 for none). Switches a terminal to raw mode. */
int console_init(struct console *c, int in_fd);
/* Restores the terminal. Safe to call more than once, and from atexit. */
void console_restore(struct console *c);

/*
 * Filters bytes read from the terminal: handles Ctrl-A x (quit) and Ctrl-A Ctrl-A (a literal
 * Ctrl-A). Writes what goes to the guest into out (at least len + 1 bytes) and returns its length;
 * sets *quit when the user asked to stop.
 */
size_t console_filter(struct console *c, const uint8_t *in, size_t len, uint8_t *out, bool *quit);

#endif
