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
#include "sigsafe.h"

static const char *const level_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

void logger_init(struct logger *lg)
{
	/* The time zone is read now: a confined thread could not open it at its first line. */
	tzset();
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

/* The UTC civil date of (days) since 1970-01-01 (the inverse of days-from-civil). */
static void utc_date(long long days, long long *y, unsigned int *m, unsigned int *d)
{
	long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned long long doe = (unsigned long long)(z - era * 146097);
	unsigned long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned long long mp = (5 * doy + 2) / 153;

	*d = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

void log_error_from_signal(struct logger *lg, const char *thread, const char *msg,
			   bool via_writev)
{
	int fd = __atomic_load_n(&lg->fd, __ATOMIC_RELAXED);
	char text[512];
	struct sigsafe_buf b = { text, sizeof(text), 0 };

	if (fd < 0) {
		sigsafe_str(&b, "ember: ERROR: ");
		fd = STDERR_FILENO;
	} else {
		struct timespec ts;
		unsigned long long secs;
		unsigned int mon, day;
		long long y;

		clock_gettime(CLOCK_REALTIME, &ts);
		secs = (unsigned long long)ts.tv_sec;
		utc_date((long long)(secs / 86400), &y, &mon, &day);
		sigsafe_dec(&b, (unsigned long long)y, 4);
		sigsafe_str(&b, "-");
		sigsafe_dec(&b, mon, 2);
		sigsafe_str(&b, "-");
		sigsafe_dec(&b, day, 2);
		sigsafe_str(&b, "T");
		sigsafe_dec(&b, secs % 86400 / 3600, 2);
		sigsafe_str(&b, ":");
		sigsafe_dec(&b, secs % 3600 / 60, 2);
		sigsafe_str(&b, ":");
		sigsafe_dec(&b, secs % 60, 2);
		sigsafe_str(&b, ".");
		sigsafe_dec(&b, (unsigned long long)ts.tv_nsec, 9);
		sigsafe_str(&b, " [");
		sigsafe_str(&b, lg->id);
		sigsafe_str(&b, ":");
		sigsafe_str(&b, thread);
		sigsafe_str(&b, lg->show_level ? ":ERROR] " : "] ");
	}
	sigsafe_str(&b, msg);
	if (b.len + 1 >= b.size)
		b.len = b.size - 2;
	b.p[b.len++] = '\n';
	if (sigsafe_write(fd, &b, via_writev))
		__atomic_fetch_add(&lg->missed, 1, __ATOMIC_RELAXED);
}
