#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char log_name[32] = "vmm";
static enum log_level log_level_max = LOG_INFO;

void log_set_name(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name);
}

void log_set_level(enum log_level level)
{
	log_level_max = level;
}

void log_msg(enum log_level level, int errnum, const char *fmt, ...)
{
	static const char *const tags[] = {"error", "warning", "info", "debug"};
	char line[1024];
	int n;
	va_list ap;

	if (level > log_level_max)
		return;
	n = snprintf(line, sizeof(line), "%s[%d]: %s: ", log_name, (int)getpid(), tags[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if ((size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (errnum)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(errnum));
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so lines of different processes do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
