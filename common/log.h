/* Logging: one line per event on stderr, prefixed with the process name and pid. */
#ifndef VMM_COMMON_LOG_H
#define VMM_COMMON_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set once per process, e.g. "vmm" or "blk0". */
void log_set_name(const char *name);
void log_set_level(enum log_level level);

void log_msg(enum log_level level, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...) log_msg(LOG_ERR, 0, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, 0, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, 0, __VA_ARGS__)
/* The _errno variants append strerror(errno). */
#define log_err_errno(...) log_msg(LOG_ERR, errno, __VA_ARGS__)
#define log_warn_errno(...) log_msg(LOG_WARN, errno, __VA_ARGS__)

#endif
