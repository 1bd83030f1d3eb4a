#define _GNU_SOURCE /* CLONE_NEWNET */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "validate.h"
#include "../util/util.h"

int validate_id(const char *id, char *why, size_t why_len)
{
	size_t len = strlen(id), i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			break;
	if (len == 0 || len > JAIL_ID_MAX || i < len) {
		snprintf(why, why_len, "must be 1 to %d letters, digits or '-'", JAIL_ID_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Whether the ELF file open at (fd) names a program interpreter (PT_INTERP). */
static int elf_needs_interpreter(int fd, bool *needs, char *why, size_t why_len)
{
	unsigned char ident[EI_NIDENT];
	uint64_t phoff;
	unsigned int phnum, phentsize, i;

	if (pread(fd, ident, sizeof(ident), 0) != (ssize_t)sizeof(ident) ||
	    memcmp(ident, ELFMAG, SELFMAG) ||
	    (ident[EI_CLASS] != ELFCLASS64 && ident[EI_CLASS] != ELFCLASS32)) {
		snprintf(why, why_len,
			 "not an ELF executable (the jail holds only this file, "
			 "so a script could not find its interpreter)");
		return -ENOEXEC;
	}
	if (ident[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;

		if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
			goto truncated;
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
	} else {
		Elf32_Ehdr eh;

		if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
			goto truncated;
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
	}
	if (phentsize < sizeof(Elf32_Word))
		goto truncated;
	*needs = false;
	for (i = 0; i < phnum; i++) {
		Elf32_Word type; /* p_type comes first in both classes */

		if (pread(fd, &type, sizeof(type), phoff + (uint64_t)i * phentsize) !=
		    (ssize_t)sizeof(type))
			goto truncated;
		if (type == PT_INTERP)
			*needs = true;
	}
	return 0;
truncated:
	snprintf(why, why_len, "a truncated ELF file");
	return -ENOEXEC;
}

int validate_exec_file(const char *path, struct jail_config *cfg, char *why, size_t why_len)
{
	struct stat st, opened;
	bool needs_interp;
	int fd, ret;

	if (!realpath(path, cfg->exec_path)) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(errno));
		return ret;
	}
	/* Looked at before it is opened: opening a device or a FIFO does something (blocks). */
	if (stat(cfg->exec_path, &st)) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(errno));
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "not a regular file");
		return -EINVAL;
	}
	if (!(st.st_mode & 0111)) {
		snprintf(why, why_len, "not executable (mode %04o)", st.st_mode & 07777);
		return -EACCES;
	}
	cfg->exec_name = strrchr(cfg->exec_path, '/') + 1;
	/* O_NONBLOCK: should a FIFO have taken the file's place since the stat, the open
	 * returns and the identity check below refuses it. */
	fd = open(cfg->exec_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(errno));
		return ret;
	}
	if (fstat(fd, &opened) || !S_ISREG(opened.st_mode) || opened.st_dev != st.st_dev ||
	    opened.st_ino != st.st_ino) {
		close(fd);
		snprintf(why, why_len, "replaced while it was being checked");
		return -EAGAIN;
	}
	/* What was read here is what jail_make_root copies: it checks these. */
	cfg->exec_dev = opened.st_dev;
	cfg->exec_ino = opened.st_ino;
	cfg->exec_ctime = opened.st_ctim;
	ret = elf_needs_interpreter(fd, &needs_interp, why, why_len);
	close(fd);
	if (!ret && needs_interp) {
		snprintf(why, why_len,
			 "dynamically linked, and the jail holds only this file: "
			 "give a static build (make STATIC=1: build/ember-static)");
		ret = -ENOEXEC;
	}
	return ret;
}

int parse_id_number(const char *s, uint32_t *out, char *why, size_t why_len)
{
	uint64_t v;

	if (parse_uint(s, 0, UINT32_MAX - 1, &v)) {
		snprintf(why, why_len, "must be a number from 0 to %u", UINT32_MAX - 1);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int validate_chroot_base(const char *base, struct jail_config *cfg, char *why, size_t why_len)
{
	struct stat st;
	char exec_copy[PATH_MAX];
	int ret;

	if (!realpath(base, cfg->base) || stat(cfg->base, &st)) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(errno));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, why_len, "not a directory");
		return -ENOTDIR;
	}
	if (snprintf(cfg->jail_root, sizeof(cfg->jail_root), "%s/%s/%s/root",
		     strcmp(cfg->base, "/") ? cfg->base : "", cfg->exec_name,
		     cfg->id) >= (int)sizeof(cfg->jail_root) ||
	    snprintf(exec_copy, sizeof(exec_copy), "%s/%s", cfg->jail_root, cfg->exec_name) >=
		(int)sizeof(exec_copy)) {
		snprintf(why, why_len, "the jail's paths would be too long");
		return -ENAMETOOLONG;
	}
	if (!lstat(exec_copy, &st)) {
		snprintf(why, why_len,
			 "%s already exists: a jail with id %s is in use or was "
			 "left behind (remove %s/%s/%s to reuse the id)",
			 exec_copy, cfg->id, cfg->base, cfg->exec_name, cfg->id);
		return -EEXIST;
	}
	return 0;
}

int validate_netns(const char *path, char *why, size_t why_len)
{
	struct statfs sfs;
	int fd, type, ret;

	/* Look before opening: opening some device files does something. */
	if (statfs(path, &sfs)) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(errno));
		return ret;
	}
	type = -1;
	if (sfs.f_type == NSFS_MAGIC) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			type = ioctl(fd, NS_GET_NSTYPE);
			close(fd);
		}
	}
	if (type != CLONE_NEWNET) {
		snprintf(why, why_len, "not a network namespace (such as /var/run/netns/NAME)");
		return -EINVAL;
	}
	return 0;
}

int validate_parent_cgroup(const char *path, char *why, size_t why_len)
{
	const char *p = path;

	for (;;) {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && !strncmp(p, "..", 2))) {
			snprintf(why, why_len,
				 "must be a relative path with no empty, '.' or '..' parts");
			return -EINVAL;
		}
		p += len;
		if (!*p)
			return 0;
		p++;
	}
}

int parse_resource_limit(const char *arg, struct jail_config *cfg, char *why, size_t why_len)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;

	if (!eq) {
		snprintf(why, why_len, "expected RESOURCE=VALUE (fsize=N or no-file=N)");
		return -EINVAL;
	}
	if (parse_uint(eq + 1, 0, UINT64_MAX, &v)) {
		snprintf(why, why_len, "the limit must be a number");
		return -EINVAL;
	}
	if (!strncmp(arg, "fsize", eq - arg) && eq - arg == 5) {
		cfg->fsize = v;
		cfg->fsize_set = true;
	} else if (!strncmp(arg, "no-file", eq - arg) && eq - arg == 7) {
		cfg->no_file = v;
	} else {
		snprintf(why, why_len, "unknown resource '%.*s' (fsize or no-file)",
			 (int)(eq - arg), arg);
		return -EINVAL;
	}
	return 0;
}
