#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "undo.h"

int undo_push(struct undo *u, int dirfd, const char *name, enum undo_kind kind)
{
	struct undo_entry *e;

	if (u->count == UNDO_MAX)
		return -ENOSPC;
	e = &u->entries[u->count];
	if (snprintf(e->name, sizeof(e->name), "%s", name) >= (int)sizeof(e->name))
		return -ENAMETOOLONG;
	e->dirfd = dirfd;
	e->kind = kind;
	u->count++;
	return 0;
}

/*
 * A cgroup keeps a process that has closed its files but not finished exiting, and rmdir
 * says EBUSY until it has: wait for it, up to a second.
 */
static int remove_cgroup(int dirfd, const char *name)
{
	const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
	int tries;

	for (tries = 0; tries < 100; tries++) {
		if (!unlinkat(dirfd, name, AT_REMOVEDIR))
			return 0;
		if (errno != EBUSY)
			return -errno;
		nanosleep(&pause, NULL);
	}
	return -EBUSY;
}

/* Disable the v2 controller (name) for the children of the cgroup (dirfd). */
static int disable_controller(int dirfd, const char *name)
{
	char change[NAME_MAX + 17]; /* "-" and an undo_entry name */
	int fd = openat(dirfd, "cgroup.subtree_control", O_WRONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	snprintf(change, sizeof(change), "-%s", name);
	n = write(fd, change, strlen(change));
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int undo_all(struct undo *u, char *why, size_t why_len)
{
	int first_err = 0;

	while (u->count) {
		struct undo_entry *e = &u->entries[--u->count];
		int ret;

		if (e->kind == UNDO_CGROUP)
			ret = remove_cgroup(e->dirfd, e->name);
		else if (e->kind == UNDO_SUBTREE_CONTROL)
			ret = disable_controller(e->dirfd, e->name);
		else
			ret = unlinkat(e->dirfd, e->name, e->kind == UNDO_DIR ? AT_REMOVEDIR : 0)
				  ? -errno
				  : 0;
		if (ret && ret != -ENOENT && !first_err) {
			const char *what =
			    e->kind == UNDO_SUBTREE_CONTROL ? "disable the controller" : "remove";

			snprintf(why, why_len, "could not %s %s: %s", what, e->name,
				 strerror(-ret));
			first_err = ret;
		}
	}
	return first_err;
}
