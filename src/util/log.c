#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

enum log_level log_max_level = LOG_WARN;

static const char *const level_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

void log_msg(enum log_level level, const char *func, int with_errno, const char *fmt, ...)
{
	int saved_errno = errno;
	char msg[512];
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf per line, so lines from vCPU threads do not interleave. */
	if (with_errno)
		fprintf(stderr, "ember: %s: %s: %s: %s\n", level_names[level], func, msg,
			strerror(saved_errno));
	else
		fprintf(stderr, "ember: %s: %s: %s\n", level_names[level], func, msg);
	errno = saved_errno;
}
