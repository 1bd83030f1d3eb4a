#define _GNU_SOURCE /* copy_file_range, O_PATH, unshare */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jail.h"
#include "../util/util.h"

/* The character device (path) on the host: its number in (*dev). 0, -ENOENT or -errno. */
static int host_device(const char *path, dev_t *dev, char *why, size_t why_len)
{
	struct stat st;

	if (stat(path, &st)) {
		int ret = -errno;

		snprintf(why, why_len, "the host's %s: %s", path, strerror(errno));
		return ret;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(why, why_len, "the host's %s is not a character device", path);
		return -ENODEV;
	}
	*dev = st.st_rdev;
	return 0;
}

int jail_find_devices(struct host_devices *devs, char *why, size_t why_len)
{
	int ret = host_device("/dev/kvm", &devs->kvm, why, why_len);

	if (!ret)
		ret = host_device("/dev/net/tun", &devs->tun, why, why_len);
	if (ret)
		return ret;
	ret = host_device("/dev/userfaultfd", &devs->userfaultfd, why, why_len);
	devs->has_userfaultfd = !ret;
	if (ret == -ENOENT) {
		*why = '\0';
		return 0;
	}
	return ret;
}

/*
 * Copy (src) into the new file (dst): copy_file_range where the file systems allow it (no
 * trip through user space), read/write where they do not.
 */
static int copy_contents(int src, int dst)
{
	char buf[64 * 1024];
	ssize_t n;

	for (;;) {
		n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			break;
	}
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	while ((n = read(src, buf, sizeof(buf))) > 0) {
		int ret = write_all(dst, buf, n);

		if (ret)
			return ret;
	}
	return n < 0 ? -errno : 0;
}

/* Whether (st) is the regular file validate_exec_file checked, not changed since. */
static bool is_checked_exec(const struct jail_config *cfg, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_dev == cfg->exec_dev && st->st_ino == cfg->exec_ino &&
	       st->st_ctim.tv_sec == cfg->exec_ctime.tv_sec &&
	       st->st_ctim.tv_nsec == cfg->exec_ctime.tv_nsec;
}

/* The executable into the jail root, as jail_make_root says. */
static int copy_exec(struct jailer *j, char *why, size_t why_len)
{
	const struct jail_config *cfg = &j->cfg;
	int src = -1, dst = -1, ret;
	struct stat st;

	/* O_NONBLOCK: a FIFO put in the file's place would block the open; the checks below
	 * then refuse it, as anything but the file validate_exec_file read. */
	src = open(cfg->exec_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0 || fstat(src, &st)) {
		ret = -errno;
		goto out;
	}
	if (!is_checked_exec(cfg, &st)) {
		ret = -ESTALE;
		snprintf(why, why_len,
			 "copying %s into %s: not the file that was checked (replaced or "
			 "changed since)",
			 cfg->exec_path, cfg->jail_root);
		goto out_quiet;
	}
	dst = openat(j->root_fd, cfg->exec_name,
		     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (dst < 0) {
		ret = -errno;
		goto out;
	}
	ret = undo_push(&j->undo, j->root_fd, cfg->exec_name, UNDO_FILE);
	if (ret) {
		unlinkat(j->root_fd, cfg->exec_name, 0);
		goto out;
	}
	ret = copy_contents(src, dst);
	/* A write while it was copied changes the change time too. */
	if (!ret && (fstat(src, &st) || !is_checked_exec(cfg, &st))) {
		ret = -ESTALE;
		snprintf(why, why_len, "copying %s into %s: the file changed while it was copied",
			 cfg->exec_path, cfg->jail_root);
		goto out_quiet;
	}
	/*
	 * root's, and read-only for all: ember runs as uid:gid, so a compromised ember cannot
	 * rewrite the binary it runs from (nor can anyone else in uid:gid). Set-id bits are
	 * not carried over; chown clears them anyway, and the mode is set after it.
	 */
	if (!ret && (fchown(dst, 0, 0) || fchmod(dst, 0555)))
		ret = -errno;
out:
	if (ret)
		snprintf(why, why_len, "copying %s into %s: %s", cfg->exec_path, cfg->jail_root,
			 strerror(-ret));
out_quiet:
	if (dst >= 0)
		close(dst);
	if (src >= 0)
		close(src);
	return ret;
}

int jail_make_root(struct jailer *j, char *why, size_t why_len)
{
	const struct jail_config *cfg = &j->cfg;
	const char *names[] = {cfg->exec_name, cfg->id, "root"};
	char path[PATH_MAX];
	unsigned int i;
	int dirfd, ret;

	snprintf(path, sizeof(path), "%s", cfg->base);
	dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return why_default(why, why_len, -errno, path);
	/* The O_PATH fds stay open: j->undo refers to them. */
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		bool made = !mkdirat(dirfd, names[i], 0755);
		int flags = i + 1 < ARRAY_SIZE(names) ? O_PATH : O_RDONLY;

		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", names[i]);
		if (!made && errno != EEXIST)
			return why_default(why, why_len, -errno, path);
		if (made) {
			ret = undo_push(&j->undo, dirfd, names[i], UNDO_DIR);
			if (ret) {
				unlinkat(dirfd, names[i], AT_REMOVEDIR);
				return why_default(why, why_len, ret, path);
			}
		}
		dirfd = openat(dirfd, names[i], flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd < 0)
			return why_default(why, why_len, -errno, path);
	}
	j->root_fd = dirfd;
	return copy_exec(j, why, why_len);
}

int jail_pivot(struct jailer *j, char *why, size_t why_len)
{
	const char *root = j->cfg.jail_root;

	if (unshare(CLONE_NEWNS))
		return why_default(why, why_len, -errno, "unshare(CLONE_NEWNS)");
	/* Mounts made here must not reach the host's namespace. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL))
		return why_default(why, why_len, -errno, "making / a slave mount");
	/* pivot_root wants the new root to be a mount point. */
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL)) {
		snprintf(why, why_len, "bind-mounting %s on itself: %s", root, strerror(errno));
		return -errno;
	}
	if (chdir(root))
		return why_default(why, why_len, -errno, root);
	/*
	 * pivot_root(".", ".") stacks the old root on top of the new one, so unmounting "."
	 * detaches it: no directory for the old root needs making or removing.
	 */
	if (syscall(SYS_pivot_root, ".", "."))
		return why_default(why, why_len, -errno, "pivot_root");
	if (umount2(".", MNT_DETACH))
		return why_default(why, why_len, -errno, "detaching the old root");
	if (chdir("/"))
		return why_default(why, why_len, -errno, "chdir /");
	return 0;
}

/* The directory (name) in the jail, owned by uid:gid with mode 0700. */
static int own_dir(struct jailer *j, const char *name, char *why, size_t why_len)
{
	bool made = !mkdirat(j->root_fd, name, 0700);
	int ret;

	if (!made && errno != EEXIST)
		return why_default(why, why_len, -errno, name);
	if (made) {
		ret = undo_push(&j->undo, j->root_fd, name, UNDO_DIR);
		if (ret) {
			unlinkat(j->root_fd, name, AT_REMOVEDIR);
			return why_default(why, why_len, ret, name);
		}
	}
	if (fchownat(j->root_fd, name, j->cfg.uid, j->cfg.gid, AT_SYMLINK_NOFOLLOW) ||
	    fchmodat(j->root_fd, name, 0700, 0)) {
		ret = -errno;
		snprintf(why, why_len, "jail /%s: %s", name, strerror(errno));
		return ret;
	}
	return 0;
}

/* The character device (name) in the jail with number (dev), mode 0600, owned by uid:gid. */
static int make_node(struct jailer *j, const char *name, dev_t dev, char *why, size_t why_len)
{
	int ret;

	if (mknodat(j->root_fd, name, S_IFCHR | 0600, dev)) {
		ret = -errno;
		snprintf(why, why_len, "mknod /%s (%u:%u) in the jail: %s", name, major(dev),
			 minor(dev), strerror(errno));
		return ret;
	}
	ret = undo_push(&j->undo, j->root_fd, name, UNDO_FILE);
	if (ret) {
		unlinkat(j->root_fd, name, 0);
		return why_default(why, why_len, ret, name);
	}
	if (fchownat(j->root_fd, name, j->cfg.uid, j->cfg.gid, AT_SYMLINK_NOFOLLOW)) {
		ret = -errno;
		snprintf(why, why_len, "chown /%s in the jail: %s", name, strerror(errno));
		return ret;
	}
	return 0;
}

int jail_make_devices(struct jailer *j, char *why, size_t why_len)
{
	int ret;

	if (fchown(j->root_fd, j->cfg.uid, j->cfg.gid) || fchmod(j->root_fd, 0700))
		return why_default(why, why_len, -errno, j->cfg.jail_root);
	ret = own_dir(j, "dev", why, why_len);
	if (!ret)
		ret = own_dir(j, "dev/net", why, why_len);
	if (!ret)
		ret = own_dir(j, "run", why, why_len);
	if (!ret)
		ret = make_node(j, "dev/kvm", j->devs.kvm, why, why_len);
	if (!ret)
		ret = make_node(j, "dev/net/tun", j->devs.tun, why, why_len);
	if (!ret && j->devs.has_userfaultfd)
		ret = make_node(j, "dev/userfaultfd", j->devs.userfaultfd, why, why_len);
	return ret;
}

static void pid_file_name(const struct jail_config *cfg, char *name, size_t len)
{
	snprintf(name, len, "%s.pid", cfg->exec_name);
}

int jail_claim_pid_file(struct jailer *j, char *why, size_t why_len)
{
	char name[NAME_MAX + 8];

	int ret;

	pid_file_name(&j->cfg, name, sizeof(name));
	ret = undo_push(&j->undo, j->root_fd, name, UNDO_FILE);
	return ret ? why_default(why, why_len, ret, name) : 0;
}

int jail_write_pid_file(struct jailer *j, pid_t pid, char *why, size_t why_len)
{
	char name[NAME_MAX + 8], text[24];
	int fd, ret;

	pid_file_name(&j->cfg, name, sizeof(name));
	fd = openat(j->root_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "creating /%s in the jail: %s", name, strerror(errno));
		return ret;
	}
	snprintf(text, sizeof(text), "%d", (int)pid);
	ret = write_all(fd, text, strlen(text));
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		snprintf(why, why_len, "writing /%s in the jail: %s", name, strerror(-ret));
	return ret;
}

int jail_read_pid_file(struct jailer *j, pid_t *pid)
{
	char name[NAME_MAX + 8], text[24];
	struct stat st;
	uint64_t value;
	ssize_t n;
	int fd, ret = 0;

	pid_file_name(&j->cfg, name, sizeof(name));
	/* ember, as uid:gid, could have put something else there: neither follow a link nor
	 * wait on a FIFO, and take only a regular file of ours (a jailer process wrote it
	 * before the privileges went; ember could only make one of its uid). */
	fd = openat(j->root_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		ret = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		ret = -EPERM;
	if (!ret) {
		n = read(fd, text, sizeof(text) - 1);
		if (n < 0)
			ret = -errno;
		else
			text[n] = '\0';
	}
	close(fd);
	if (!ret && parse_uint(text, 1, INT32_MAX, &value))
		ret = -EINVAL;
	if (!ret)
		*pid = (pid_t)value;
	return ret;
}
