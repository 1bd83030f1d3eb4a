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

enum log_level log_max_level = LOG_WARN;

/*
 * Where lines go. Process-wide like the level: every VM in a process shares one logger,
 * as Firecracker's does; the lock keeps a reconfiguration from racing a write.
 */
static struct {
	pthread_mutex_t lock;
	int fd; /* -1: stderr in ember's own format */
	bool show_level, show_origin;
	char id[65];
	unsigned long long missed;
} sink = {PTHREAD_MUTEX_INITIALIZER, -1, false, false, "", 0};

static const char *const level_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

int log_open(const char *path, enum log_level level, bool show_level, bool show_origin,
	     const char *id)
{
	int fd = -1;

	/* Non-blocking: a FIFO nobody drains must never stall the VMM. */
	if (path && *path) {
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
	}
	pthread_mutex_lock(&sink.lock);
	if (sink.fd >= 0)
		close(sink.fd);
	sink.fd = fd;
	sink.show_level = show_level;
	sink.show_origin = show_origin;
	snprintf(sink.id, sizeof(sink.id), "%s", id);
	log_max_level = level;
	pthread_mutex_unlock(&sink.lock);
	return 0;
}

unsigned long long log_missed_lines(void)
{
	unsigned long long n;

	pthread_mutex_lock(&sink.lock);
	n = sink.missed;
	pthread_mutex_unlock(&sink.lock);
	return n;
}

/* One Firecracker-format line to the configured file; the lock is held. */
static void log_write_line(enum log_level level, const char *file, int line, const char *msg)
{
	char buf[1024], thread[16] = "?", origin[128] = "";
	struct timespec ts;
	struct tm tm;
	ssize_t n;
	int len;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	prctl(PR_GET_NAME, thread, 0, 0, 0);
	if (sink.show_origin)
		snprintf(origin, sizeof(origin), ":%s:%d", file, line);
	len = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s%s%s%s] %s\n",
		       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		       tm.tm_sec, ts.tv_nsec, sink.id, thread, sink.show_level ? ":" : "",
		       sink.show_level ? level_names[level] : "", origin, msg);
	if (len >= (int)sizeof(buf)) {
		len = sizeof(buf) - 1;
		buf[len - 1] = '\n';
	}
	/* One write per line; a short or refused write loses the line, and it is counted. */
	n = write(sink.fd, buf, len);
	if (n != len)
		sink.missed++;
}

void log_msg(enum log_level level, const char *file, int line, const char *func, int with_errno,
	     const char *fmt, ...)
{
	int saved_errno = errno;
	char msg[512];
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno) {
		size_t n = strlen(msg);

		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved_errno));
	}
	pthread_mutex_lock(&sink.lock);
	if (sink.fd >= 0)
		log_write_line(level, file, line, msg);
	else
		/* One fprintf per line, so lines from vCPU threads do not interleave. */
		fprintf(stderr, "ember: %s: %s: %s\n", level_names[level], func, msg);
	pthread_mutex_unlock(&sink.lock);
	errno = saved_errno;
}
