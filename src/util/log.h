/* Process-wide logging to stderr. Guest serial output never goes through here. */
#ifndef EMBER_UTIL_LOG_H
#define EMBER_UTIL_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The one piece of process-wide state: every VM in a process shares stderr. */
extern enum log_level log_max_level;

/* Print (fmt) at (level), prefixed with the level and (func); (with_errno) appends strerror(errno). */
void log_msg(enum log_level level, const char *func, int with_errno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_err(...)   log_msg(LOG_ERROR, __func__, 0, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __func__, 1, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARN, __func__, 0, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __func__, 0, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_max_level >= LOG_DEBUG)                                                    \
			log_msg(LOG_DEBUG, __func__, 0, __VA_ARGS__);                              \
	} while (0)

#endif
