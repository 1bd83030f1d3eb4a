/* Process-wide logging: stderr, or a Firecracker-format log file. Never guest output. */
#ifndef EMBER_UTIL_LOG_H
#define EMBER_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The one piece of process-wide state: every VM in a process shares stderr. */
extern enum log_level log_max_level;

/* Log (fmt) at (level) from (file):(line) in (func); (with_errno) appends strerror(errno). */
void log_msg(enum log_level level, const char *file, int line, const char *func, int with_errno,
	     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Send lines to (path) in Firecracker's format from now on (NULL or "": back to stderr),
 * keeping those up to (level), with the level and the source position if asked, and
 * (id) as the instance. 0 or -errno (the old destination is kept).
 */
int log_open(const char *path, enum log_level level, bool show_level, bool show_origin,
	     const char *id);

/* Lines the log destination could not take (a full FIFO): dropped and counted. */
unsigned long long log_missed_lines(void);

#define log_err(...)   log_msg(LOG_ERROR, __FILE__, __LINE__, __func__, 0, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __FILE__, __LINE__, __func__, 1, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARN, __FILE__, __LINE__, __func__, 0, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __FILE__, __LINE__, __func__, 0, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_max_level >= LOG_DEBUG)                                                    \
			log_msg(LOG_DEBUG, __FILE__, __LINE__, __func__, 0, __VA_ARGS__);                              \
	} while (0)

#endif
