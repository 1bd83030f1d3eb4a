/*
 * What a jailer run made or changed on the host, in order, so that a failure can take it
 * back: each entry names a directory (by an fd, which still works once the jail hides the
 * host's paths) and a name inside it.
 */
#ifndef EMBER_JAILER_UNDO_H
#define EMBER_JAILER_UNDO_H

#include <limits.h>
#include <stddef.h>

#define UNDO_MAX 64

enum undo_kind {
	UNDO_FILE,	      /* unlink */
	UNDO_DIR,	      /* rmdir */
	UNDO_CGROUP,	      /* rmdir, waiting for a process that is still leaving it */
	UNDO_SUBTREE_CONTROL, /* (name) is a v2 controller: "-name" to cgroup.subtree_control */
};

struct undo_entry {
	int dirfd;
	char name[NAME_MAX + 16]; /* a name, or a short relative path such as "dev/net/tun" */
	enum undo_kind kind;
};

struct undo {
	struct undo_entry entries[UNDO_MAX];
	unsigned int count;
};

/*
 * Remember that (name) under (dirfd) was made. (dirfd) must stay open until undo_all.
 * Returns 0, or -ENOSPC / -ENAMETOOLONG (then the caller removes it itself).
 */
int undo_push(struct undo *u, int dirfd, const char *name, enum undo_kind kind);

/*
 * Remove everything remembered, newest first; what is already gone is fine. Returns 0, or
 * the first error with "could not remove NAME: ..." in (why, why_len).
 */
int undo_all(struct undo *u, char *why, size_t why_len);

#endif
