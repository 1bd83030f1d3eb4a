/*
 * Logging. Until a log path is configured, lines go to stderr as "ember: LEVEL: func: msg".
 * Once the API's PUT /logger or --log-path names one, they go there in Firecracker's
 * format, "TIMESTAMP [ID:THREAD:LEVEL:FILE:LINE] msg" (LEVEL and FILE:LINE as configured),
 * written without blocking: a line a full FIFO cannot take is counted, never waited for.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

void logger_init(struct logger *lg)
{
	pthread_mutex_init(&lg->lock, NULL);
	lg->level = LOG_WARN;
	lg->fd = -1;
	lg->show_level = false;
	lg->show_origin = false;
	lg->id[0] = '\0';
	lg->missed = 0;
}

void logger_destroy(struct logger *lg)
{
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = -1;
	pthread_mutex_destroy(&lg->lock);
}

int log_open(struct logger *lg, const char *path, enum log_level level, bool show_level,
	     bool show_origin, const char *id)
{
	int fd = -1;

	/* Non-blocking: a FIFO nobody drains must never stall the VMM. */
	if (path && *path) {
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
	}
	pthread_mutex_lock(&lg->lock);
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = fd;
	lg->show_level = show_level;
	lg->show_origin = show_origin;
	snprintf(lg->id, sizeof(lg->id), "%s", id);
	__atomic_store_n(&lg->level, level, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lg->lock);
	return 0;
}

void log_set_level(struct logger *lg, enum log_level level)
{
	__atomic_store_n(&lg->level, level, __ATOMIC_RELAXED);
}

unsigned long long log_missed_lines(struct logger *lg)
{
	unsigned long long n;

	pthread_mutex_lock(&lg->lock);
	n = lg->missed;
	pthread_mutex_unlock(&lg->lock);
	return n;
}

/* One Firecracker-format line to the configured file; the lock is held. */
static void log_write_line(struct logger *lg, enum log_level level, const char *file, int line,
			   const char *msg)
{
	char buf[1024], thread[16] = "?", origin[128] = "";
	struct timespec ts;
	struct tm tm;
	ssize_t n;
	int len;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	prctl(PR_GET_NAME, thread, 0, 0, 0);
	if (lg->show_origin)
		snprintf(origin, sizeof(origin), ":%s:%d", file, line);
	len = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s%s%s%s] %s\n",
		       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		       tm.tm_sec, ts.tv_nsec, lg->id, thread, lg->show_level ? ":" : "",
		       lg->show_level ? level_names[level] : "", origin, msg);
	if (len >= (int)sizeof(buf)) {
		len = sizeof(buf) - 1;
		buf[len - 1] = '\n';
	}
	/* One write per line; a short or refused write loses the line, and it is counted. */
	n = write(lg->fd, buf, len);
	if (n != len)
		lg->missed++;
}

void log_msg(struct logger *lg, enum log_level level, const char *file, int line,
	     const char *func, int with_errno, const char *fmt, ...)
{
	int saved_errno = errno;
	char msg[512];
	va_list ap;

	if (level > __atomic_load_n(&lg->level, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno) {
		size_t n = strlen(msg);

		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved_errno));
	}
	pthread_mutex_lock(&lg->lock);
	if (lg->fd >= 0)
		log_write_line(lg, level, file, line, msg);
	else
		/* One fprintf per line, so lines from vCPU threads do not interleave. */
		fprintf(stderr, "ember: %s: %s: %s\n", level_names[level], func, msg);
	pthread_mutex_unlock(&lg->lock);
	errno = saved_errno;
}
