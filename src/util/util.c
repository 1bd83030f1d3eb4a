#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void die(const char *fmt, ...)
{
	va_list ap;

	fputs("ember: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = read_file_fd(fd, max, buf, len);
	close(fd);
	return ret;
}

int read_file_fd(int fd, size_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *data;
	size_t done = 0;
	int ret;

	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		ret = -EFBIG;
		goto out_close;
	}
	data = malloc(st.st_size ? st.st_size : 1);
	if (!data) {
		ret = -ENOMEM;
		goto out_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, data + done, st.st_size - done, done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			free(data);
			goto out_close;
		}
		done += n;
	}
	*buf = data;
	*len = done;
	ret = 0;
out_close:
	return ret;
}

int why_default(char *why, size_t why_len, int err, const char *what)
{
	if (!*why)
		snprintf(why, why_len, "%s: %s", what, strerror(-err));
	return err;
}

int image_size_check(uint64_t image_size, size_t file_size, char *why, size_t why_len)
{
	if (image_size < file_size) {
		snprintf(why, why_len,
			 "kernel: image_size 0x%" PRIx64 " is smaller than the file (0x%zx bytes)",
			 image_size, file_size);
		return -EINVAL;
	}
	if (image_size > 1ULL * GiB) {
		snprintf(why, why_len, "kernel: image_size 0x%" PRIx64 " is over 1 GiB",
			 image_size);
		return -E2BIG;
	}
	return 0;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

_Static_assert(UNIX_PATH_LEN_MAX == sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
	       "UNIX_PATH_LEN_MAX is sun_path's room");

int unix_addr(struct sockaddr_un *addr, const char *path)
{
	size_t len = strlen(path);

	if (len > UNIX_PATH_LEN_MAX)
		return -ENAMETOOLONG;
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, len + 1);
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static uint64_t clock_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

uint64_t cpu_us(void)
{
	return clock_us(CLOCK_PROCESS_CPUTIME_ID);
}

uint64_t thread_cpu_us(void)
{
	return clock_us(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t peak_rss_kib(void)
{
	unsigned long long kib = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

uint8_t checksum8(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)(0 - sum);
}
