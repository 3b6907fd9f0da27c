#include "console.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int console_init(struct console *c, int in_fd)
{
	struct termios raw;

	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	if (in_fd < 0 || !isatty(in_fd))
		return 0;
	if (tcgetattr(in_fd, &c->saved) < 0) {
		log_warn_errno("cannot read the terminal's settings; input stays cooked");
		return 0;
	}
	raw = c->saved;
	/* Raw input so that Ctrl-C, arrows and tabs reach the guest; output is left alone. */
	raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(in_fd, TCSANOW, &raw) < 0) {
		int ret = -errno;
		log_err_errno("cannot switch the terminal to raw mode");
		return ret;
	}
	c->raw = true;
	return 0;
}

void console_restore(struct console *c)
{
	if (c->raw) {
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
		c->raw = false;
	}
}

size_t console_filter(struct console *c, const uint8_t *in, size_t len, uint8_t *out, bool *quit)
{
	size_t n = 0;

	*quit = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = in[i];

		if (c->escape_seen) {
			c->escape_seen = false;
			if (b == 'x' || b == 'X') {
				*quit = true;
				return n;
			}
			if (b == CONSOLE_ESCAPE) {
				out[n++] = b;
				continue;
			}
			/* Not a command: both bytes go to the guest. */
			out[n++] = CONSOLE_ESCAPE;
			out[n++] = b;
			continue;
		}
		if (b == CONSOLE_ESCAPE && c->raw) {
			c->escape_seen = true;
			continue;
		}
		out[n++] = b;
	}
	return n;
}
