/*
 * A logger: stderr, or a Firecracker-format log file. Never guest output. It is an object,
 * not process state: whoever owns the instance owns its logger, and every log call names
 * the logger it writes to, so two VMs in one process log independently.
 */
#ifndef EMBER_UTIL_LOG_H
#define EMBER_UTIL_LOG_H

#include <pthread.h>
#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

struct logger {
	/* Keeps a reconfiguration from racing a write from a vCPU or the API thread. */
	pthread_mutex_t lock;
	/* Lines above it are dropped. Read and written atomically: every line checks it first. */
	enum log_level level;
	int fd; /* -1: stderr in ember's own format */
	bool show_level, show_origin;
	char id[65];
	unsigned long long missed; /* lines the destination could not take */
};

/* A logger writing to stderr, up to LOG_WARN. */
void logger_init(struct logger *lg);

/* Close its file, if any. The logger must not be used afterwards. */
void logger_destroy(struct logger *lg);

/*
 * Send (lg)'s lines to (path) in Firecracker's format from now on (NULL or "": back to
 * stderr), keeping those up to (level), with the level and the source position if asked,
 * and (id) as the instance. 0 or -errno (the old destination is kept).
 */
int log_open(struct logger *lg, const char *path, enum log_level level, bool show_level,
	     bool show_origin, const char *id);

/* Keep (lg)'s lines up to (level), wherever they go. */
void log_set_level(struct logger *lg, enum log_level level);

/* Lines (lg)'s destination could not take (a full FIFO): dropped and counted. */
unsigned long long log_missed_lines(struct logger *lg);

/*
 * Log (msg) as an ERROR line from a signal handler: no lock, no allocation, no stdio, no
 * time zone (the timestamp is UTC), so it is safe whatever the interrupted thread held.
 * (thread) names the thread in the file format. (via_writev): write it with writev(2), for
 * a handler whose trouble was write(2) itself.
 */
void log_error_from_signal(struct logger *lg, const char *thread, const char *msg,
			   bool via_writev);

/*
 * Log (fmt) to (lg) at (level) from (file):(line) in (func); (with_errno) appends
 * strerror(errno). errno is preserved.
 */
void log_msg(struct logger *lg, enum log_level level, const char *file, int line,
	     const char *func, int with_errno, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

#define log_err(lg, ...)   log_msg(lg, LOG_ERROR, __FILE__, __LINE__, __func__, 0, __VA_ARGS__)
#define log_warn(lg, ...)  log_msg(lg, LOG_WARN, __FILE__, __LINE__, __func__, 1, __VA_ARGS__)
#define log_warnx(lg, ...) log_msg(lg, LOG_WARN, __FILE__, __LINE__, __func__, 0, __VA_ARGS__)
#define log_info(lg, ...)  log_msg(lg, LOG_INFO, __FILE__, __LINE__, __func__, 0, __VA_ARGS__)
/* Debug lines are many and mostly dropped: check the level before formatting anything. */
#define log_debug(lg, ...)                                                                         \
	do {                                                                                       \
		struct logger *log_debug_lg_ = (lg);                                               \
		if (__atomic_load_n(&log_debug_lg_->level, __ATOMIC_RELAXED) >= LOG_DEBUG)         \
			log_msg(log_debug_lg_, LOG_DEBUG, __FILE__, __LINE__, __func__, 0,         \
				__VA_ARGS__);                                                      \
	} while (0)

#endif
