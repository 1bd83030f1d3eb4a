/*
 * The state directory: DIR/lock, DIR/vms/NAME/..., DIR/switches/NAME/.... Every file is
 * written whole to a temporary name and renamed, so a reader sees the old or the new
 * version, never half of one; and every process we started is named by its pid and its
 * start time, so a pid the kernel has since given to someone else is never taken for ours.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

int ctl_fail(struct ctl *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return err;
}

int ctl_path(const struct ctl *c, char *out, size_t out_len, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return -ENAMETOOLONG;
	n = snprintf(out, out_len, "%s/%s", c->state_dir, rel);
	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

static int mkdir_if_missing(const char *path, mode_t mode)
{
	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int ctl_state_init(struct ctl *c)
{
	char p[PATH_MAX];
	int ret;

	ret = mkdir_if_missing(c->state_dir, 0755);
	if (ret)
		return ctl_fail(c, ret, "cannot make the state directory %s: %s", c->state_dir,
				strerror(-ret));
	if (ctl_path(c, p, sizeof(p), "vms") || (ret = mkdir_if_missing(p, 0755)) ||
	    ctl_path(c, p, sizeof(p), "switches") || (ret = mkdir_if_missing(p, 0755)))
		return ctl_fail(c, ret ?: -ENAMETOOLONG, "cannot make %s: %s", p,
				strerror(ret ? -ret : ENAMETOOLONG));
	return 0;
}

/*
 * A temporary file of ctl_write_atomic (NAME.tmp-PID) whose writer died before its rename.
 * Taken for stale only when that pid is gone and the file is old: a writer renames within
 * moments, and a pid reused since would have to write the same file in the same second.
 */
static bool stale_temp(int dirfd, const char *leaf, time_t now)
{
	const char *t = strstr(leaf, ".tmp-");
	struct stat st;
	char *end;
	long pid;

	if (!t || t == leaf)
		return false;
	errno = 0;
	pid = strtol(t + 5, &end, 10);
	if (errno || *end || end == t + 5 || pid < 1 || pid > INT_MAX)
		return false;
	if (!kill((pid_t)pid, 0) || errno != ESRCH)
		return false;
	return !fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode) &&
	       now - st.st_mtime >= CTL_TEMP_STALE_S;
}

/* Remove the stale temporary files of DIR/<sub>/<each folder>. */
static void clean_temps_in(struct ctl *c, const char *sub, time_t now)
{
	struct dirent *e, *f;
	char p[PATH_MAX];
	DIR *d, *vd;
	int fd;

	if (ctl_path(c, p, sizeof(p), "%s", sub) || !(d = opendir(p)))
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		vd = fdopendir(fd);
		if (!vd) {
			close(fd);
			continue;
		}
		while ((f = readdir(vd)))
			if (stale_temp(fd, f->d_name, now))
				unlinkat(fd, f->d_name, 0);
		closedir(vd);
	}
	closedir(d);
}

int ctl_lock(struct ctl *c, bool exclusive)
{
	char p[PATH_MAX];
	int ret;

	if (c->lock_fd < 0) {
		ret = ctl_state_init(c);
		if (ret)
			return ret;
		if (ctl_path(c, p, sizeof(p), "lock"))
			return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
		c->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (c->lock_fd < 0)
			return ctl_fail(c, -errno, "cannot open %s: %s", p, strerror(errno));
	}
	while (flock(c->lock_fd, exclusive ? LOCK_EX : LOCK_SH))
		if (errno != EINTR)
			return ctl_fail(c, -errno, "cannot lock the state directory: %s",
					strerror(errno));
	if (exclusive) {
		clean_temps_in(c, "vms", time(NULL));
		clean_temps_in(c, "switches", time(NULL));
	}
	return 0;
}

void ctl_unlock(struct ctl *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
}

int ctl_write_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, buf, len);
	if (!ret && fdatasync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/*
 * A log we write (ember's, the switch's): a FIFO or a symlink left in its place must not
 * block us (holding the lock, every other command would wait too) nor send the output
 * elsewhere. Opened without blocking and without following, then kept only if it is a
 * regular file; the descriptor blocks again for the writers after.
 */
int ctl_open_log(const char *path, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | flags, 0644);
	struct stat st;
	int fl;

	if (fd < 0)
		/* ELOOP: a symlink; ENXIO: a FIFO nobody reads */
		return errno == ELOOP || errno == ENXIO ? -EINVAL : -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/*
 * Files of the state directory may be anything a hand could leave there: opened without
 * blocking (a FIFO), read as a regular file only, and up to EOF rather than st_size (which
 * /proc's files do not have).
 */
int ctl_read_small(const char *path, size_t max, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), ret = 0;
	size_t n = 0, cap = 256;
	struct stat st;
	char *s = NULL, *ns;
	ssize_t r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ret = fstat(fd, &st) ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	for (;;) {
		if (!s || n + 1 >= cap) {
			if (s)
				cap *= 2;
			ns = realloc(s, cap);
			if (!ns) {
				ret = -ENOMEM;
				goto out;
			}
			s = ns;
		}
		r = read(fd, s + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (!r)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = -EFBIG;
			goto out;
		}
	}
	s[n] = '\0';
	*buf = s;
	*len = n;
	s = NULL;
out:
	free(s);
	close(fd);
	return ret;
}

int ctl_pid_read(const char *path, struct ctl_pid *out)
{
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = ctl_read_small(path, 64, &text, &len);
	if (ret)
		return ret;
	ret = ctl_pid_parse(text, len, out);
	free(text);
	return ret;
}

int ctl_proc_start(pid_t pid, unsigned long long *start)
{
	char path[64], *text = NULL, state = 0;
	size_t len = 0;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ret = ctl_read_small(path, 4096, &text, &len);
	if (ret)
		return ret;
	ret = ctl_proc_stat_parse(text, len, start, &state);
	free(text);
	if (!ret && (state == 'Z' || state == 'X'))
		ret = -ESRCH; /* dead, only not yet reaped */
	return ret;
}

int ctl_pid_write(const char *path, pid_t pid)
{
	unsigned long long start;
	char text[64];
	int ret, n;

	ret = ctl_proc_start(pid, &start);
	if (ret)
		return ret;
	n = snprintf(text, sizeof(text), "%d %llu\n", (int)pid, start);
	return ctl_write_atomic(path, text, (size_t)n);
}

bool ctl_pid_alive(const struct ctl_pid *p)
{
	unsigned long long start;

	return p->pid > 1 && !ctl_proc_start(p->pid, &start) && start == p->start;
}

long long ctl_pid_uptime(const struct ctl_pid *p)
{
	struct timespec now;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &now))
		return -1;
	return MAX((long long)now.tv_sec - (long long)(p->start / (unsigned long long)hz), 0LL);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

int ctl_rmtree(const char *dir)
{
	if (access(dir, F_OK))
		return 0;
	/* Depth first, never through a symlink or onto another mount. */
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ? -errno : 0;
}

void ctl_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

long long ctl_now_s(void)
{
	return (long long)time(NULL);
}

int ctl_wait_gone(const struct ctl_pid *p, int timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000;
	int step = 1;

	while (ctl_pid_alive(p)) {
		if (now_us() >= deadline)
			return -ETIMEDOUT;
		ctl_sleep_ms(step);
		step = MIN(step * 2, 20);
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ctl_names_free(char **names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int ctl_list_names(struct ctl *c, const char *sub, char ***names, size_t *count)
{
	char p[PATH_MAX], **v = NULL, **nv;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;

	if (ctl_path(c, p, sizeof(p), "%s", sub))
		return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
	d = opendir(p);
	if (!d && errno == ENOENT) {
		*names = NULL;
		*count = 0;
		return 0;
	}
	if (!d)
		return ctl_fail(c, -errno, "cannot read %s: %s", p, strerror(errno));
	while ((e = readdir(d))) {
		/* Temporary folders of a `vm config` under way start with a dot: not yet VMs. */
		if (e->d_name[0] == '.' || !ctl_name_valid(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto nomem;
			v = nv;
		}
		v[n] = strdup(e->d_name);
		if (!v[n])
			goto nomem;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), name_cmp);
	*names = v;
	*count = n;
	return 0;
nomem:
	closedir(d);
	ctl_names_free(v, n);
	return ctl_fail(c, -ENOMEM, "out of memory");
}
