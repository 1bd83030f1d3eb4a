#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "../util/util.h"

#define CONTROLLER_MAX 64

/* The controller a cgroup file belongs to: the part of (file) before its first dot. */
static void controller_of(const char *file, char *controller)
{
	size_t len = strcspn(file, ".");

	if (len >= CONTROLLER_MAX)
		len = CONTROLLER_MAX - 1;
	memcpy(controller, file, len);
	controller[len] = '\0';
}

int cgroup_add_setting(struct jail_config *cfg, const char *arg, char *why, size_t why_len)
{
	const char *eq = strchr(arg, '=');
	struct cgroup_setting *s;
	size_t file_len = eq ? (size_t)(eq - arg) : 0;
	const char *dot = memchr(arg, '.', file_len);

	if (cfg->nr_cgroups == JAIL_MAX_CGROUPS) {
		snprintf(why, why_len, "--cgroup %s: at most %d cgroup settings", arg,
			 JAIL_MAX_CGROUPS);
		return -EINVAL;
	}
	if (!eq || !eq[1] || !dot || dot == arg || dot + 1 == eq || file_len > NAME_MAX ||
	    memchr(arg, '/', file_len) || (size_t)(dot - arg) >= CONTROLLER_MAX) {
		snprintf(why, why_len,
			 "--cgroup %s: expected FILE=VALUE, FILE a cgroup file such as "
			 "cpuset.cpus or pids.max",
			 arg);
		return -EINVAL;
	}
	s = &cfg->cgroups[cfg->nr_cgroups++];
	s->arg = arg;
	memcpy(s->file, arg, file_len);
	s->file[file_len] = '\0';
	s->value = eq + 1;
	return 0;
}

/* /proc/mounts writes space, tab, newline and backslash in paths as \ooo. */
static void unescape_mount_path(char *p)
{
	char *out = p;

	for (; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

/* Whether the comma-separated (list) has the item (word). */
static bool list_has(const char *list, const char *word, const char *separators)
{
	size_t len = strlen(word);

	while (*list) {
		size_t item = strcspn(list, separators);

		if (item == len && !strncmp(list, word, len))
			return true;
		list += item;
		list += strspn(list, separators);
	}
	return false;
}

/*
 * The mount point of the first /proc/mounts entry of type (fstype) whose options name
 * (controller), or of any entry of that type when (controller) is NULL. 0 or -ENOENT.
 */
static int find_mount(const char *fstype, const char *controller, char *mount, size_t len)
{
	FILE *f = fopen("/proc/mounts", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (ret && getline(&line, &cap, f) > 0) {
		char *save, *dir, *type, *opts;

		if (!strtok_r(line, " ", &save))
			continue;
		dir = strtok_r(NULL, " ", &save);
		type = strtok_r(NULL, " ", &save);
		opts = strtok_r(NULL, " ", &save);
		if (!dir || !type || !opts || strcmp(type, fstype))
			continue;
		if (controller && !list_has(opts, controller, ","))
			continue;
		unescape_mount_path(dir);
		if (snprintf(mount, len, "%s", dir) < (int)len)
			ret = 0;
	}
	free(line);
	fclose(f);
	return ret;
}

/* Read the small text file (name) under (dirfd) into (buf), without its last newline. */
static int read_small(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/* Write (value) to the file (name) under (dirfd), as one write (cgroup files want that). */
static int write_small(int dirfd, const char *name, const char *value)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = write_all(fd, value, strlen(value));
	close(fd);
	return ret;
}

/* Whether the cgroup directory (dir) lists (controller) in its cgroup.controllers (v2). */
static bool v2_has_controller(const char *dir, const char *controller)
{
	char list[1024];
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	bool has;

	if (fd < 0)
		return false;
	has = !read_small(fd, "cgroup.controllers", list, sizeof(list)) &&
	      list_has(list, controller, " ");
	close(fd);
	return has;
}

/* Index of the hierarchy mounted at (mount) in (cfg), added if new; -ENOSPC when full. */
static int hierarchy_index(struct jail_config *cfg, const char *mount)
{
	struct cgroup_hierarchy *h;
	char probe[PATH_MAX + 16];
	unsigned int i;

	for (i = 0; i < cfg->nr_hierarchies; i++)
		if (!strcmp(cfg->hierarchies[i].mount, mount))
			return i;
	if (cfg->nr_hierarchies == JAIL_MAX_HIERARCHIES)
		return -ENOSPC;
	h = &cfg->hierarchies[cfg->nr_hierarchies];
	snprintf(h->mount, sizeof(h->mount), "%s", mount);
	snprintf(probe, sizeof(probe), "%s/cpuset.cpus", mount);
	h->cpuset = cfg->cgroup_version == 1 && !access(probe, F_OK);
	return cfg->nr_hierarchies++;
}

/*
 * Look for setting (s)'s file at <mount>/<parent>. Where <parent> does not exist yet, the
 * deepest level that does decides: a non-root cgroup has every file of its controllers
 * (v2: of those enabled for it), but a hierarchy's root lacks the limits (pids.max,
 * memory.max...), so there the look is left for cgroup_create.
 */
static int look_for_file(const struct jail_config *cfg, struct cgroup_setting *s,
			 const char *controller, char *why, size_t why_len)
{
	const char *mount = cfg->hierarchies[s->hierarchy].mount;
	char dir[PATH_MAX], file[PATH_MAX];
	size_t mount_len = strlen(mount);
	struct stat st;

	if (snprintf(dir, sizeof(dir), "%s/%s", mount, cfg->parent_cgroup) >= (int)sizeof(dir)) {
		snprintf(why, why_len, "--cgroup %s: the cgroup path is too long", s->arg);
		return -ENAMETOOLONG;
	}
	while (strlen(dir) > mount_len && stat(dir, &st))
		*strrchr(dir, '/') = '\0';
	snprintf(file, sizeof(file), "%s/%s", dir, s->file);
	if (!access(file, F_OK))
		return 0;
	if (strlen(dir) == mount_len ||
	    (cfg->cgroup_version == 2 && !v2_has_controller(dir, controller))) {
		s->look_late = true;
		return 0;
	}
	snprintf(why, why_len, "--cgroup %s: no file %s in %s", s->arg, s->file, dir);
	return -ENOENT;
}

int cgroup_resolve(struct jail_config *cfg, char *why, size_t why_len)
{
	char controller[CONTROLLER_MAX], mount[PATH_MAX];
	unsigned int i;
	int index, ret;

	for (i = 0; i < cfg->nr_cgroups; i++) {
		struct cgroup_setting *s = &cfg->cgroups[i];

		controller_of(s->file, controller);
		if (cfg->cgroup_version == 1 &&
		    find_mount("cgroup", controller, mount, sizeof(mount))) {
			snprintf(why, why_len,
				 "--cgroup %s: no cgroup v1 hierarchy has the controller '%s' "
				 "(none in /proc/mounts)",
				 s->arg, controller);
			return -ENOENT;
		}
		if (cfg->cgroup_version == 2) {
			if (find_mount("cgroup2", NULL, mount, sizeof(mount))) {
				snprintf(why, why_len,
					 "--cgroup %s: no cgroup2 mount in /proc/mounts", s->arg);
				return -ENOENT;
			}
			if (!v2_has_controller(mount, controller)) {
				snprintf(why, why_len,
					 "--cgroup %s: the controller '%s' is not available in the "
					 "cgroup2 hierarchy at %s (see its cgroup.controllers)",
					 s->arg, controller, mount);
				return -ENOENT;
			}
		}
		index = hierarchy_index(cfg, mount);
		if (index < 0) {
			snprintf(why, why_len, "--cgroup %s: more than %d cgroup hierarchies",
				 s->arg, JAIL_MAX_HIERARCHIES);
			return index;
		}
		s->hierarchy = index;
		ret = look_for_file(cfg, s, controller, why, why_len);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * v2: let the cgroups below (dirfd) use every controller the settings name. Only the
 * controllers that were not enabled there are written, and each goes on j->undo: a failed
 * run disables them again, leaving <parent>'s ancestors as they were. After a successful
 * run they stay enabled, as the jail's cgroup uses them.
 */
static int v2_enable_controllers(struct jailer *j, int dirfd, const char *dir, char *why,
				 size_t why_len)
{
	char controller[CONTROLLER_MAX], change[CONTROLLER_MAX + 1], enabled[1024];
	unsigned int i;
	int ret;

	for (i = 0; i < j->cfg.nr_cgroups; i++) {
		controller_of(j->cfg.cgroups[i].file, controller);
		ret = read_small(dirfd, "cgroup.subtree_control", enabled, sizeof(enabled));
		if (!ret && list_has(enabled, controller, " "))
			continue;
		snprintf(change, sizeof(change), "+%s", controller);
		if (!ret)
			ret = write_small(dirfd, "cgroup.subtree_control", change);
		if (ret) {
			snprintf(why, why_len, "enabling %s in %s/cgroup.subtree_control: %s",
				 controller, dir, strerror(-ret));
			return ret;
		}
		ret = undo_push(&j->undo, dirfd, controller, UNDO_SUBTREE_CONTROL);
		if (ret) {
			*change = '-';
			write_small(dirfd, "cgroup.subtree_control", change);
			return why_default(why, why_len, ret, dir);
		}
	}
	return 0;
}

/* v1 cpuset: a new cgroup starts with no CPUs and no memory nodes; give it its parent's. */
static int cpuset_inherit(int parent_fd, int child_fd, const char *dir, char *why, size_t why_len)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	char value[4096];
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		ret = read_small(parent_fd, files[i], value, sizeof(value));
		if (!ret)
			ret = write_small(child_fd, files[i], value);
		if (ret) {
			snprintf(why, why_len, "copying %s down into %s: %s", files[i], dir,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Whether the late file checks of hierarchy (h) pass at the <parent> level (dirfd). */
static int look_late(struct jailer *j, unsigned int h, int dirfd, const char *dir, char *why,
		     size_t why_len)
{
	unsigned int i;

	for (i = 0; i < j->cfg.nr_cgroups; i++) {
		const struct cgroup_setting *s = &j->cfg.cgroups[i];

		if (s->hierarchy != h || !s->look_late || !faccessat(dirfd, s->file, F_OK, 0))
			continue;
		snprintf(why, why_len, "--cgroup %s: no file %s in %s", s->arg, s->file, dir);
		j->blame_args = true;
		return -ENOENT;
	}
	return 0;
}

/* Make (or enter) the cgroup (name) under (dirfd), whose path is (dir); its fd in *child_fd. */
static int make_level(struct jailer *j, unsigned int h, int dirfd, const char *name,
		      const char *dir, int *child_fd, char *why, size_t why_len)
{
	bool made = !mkdirat(dirfd, name, 0755);
	int ret;

	if (!made && errno != EEXIST) {
		ret = -errno;
		snprintf(why, why_len, "creating the cgroup %s: %s", dir, strerror(errno));
		return ret;
	}
	if (made) {
		ret = undo_push(&j->undo, dirfd, name, UNDO_CGROUP);
		if (ret) {
			unlinkat(dirfd, name, AT_REMOVEDIR);
			return why_default(why, why_len, ret, dir);
		}
	}
	*child_fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*child_fd < 0)
		return why_default(why, why_len, -errno, dir);
	if (made && j->cfg.hierarchies[h].cpuset)
		return cpuset_inherit(dirfd, *child_fd, dir, why, why_len);
	return 0;
}

/* cgroup_create for hierarchy (h). The O_PATH fds stay open: j->undo refers to them. */
static int create_in(struct jailer *j, unsigned int h, char *why, size_t why_len)
{
	const struct jail_config *cfg = &j->cfg;
	const char *procs = cfg->cgroup_version == 1 ? "tasks" : "cgroup.procs";
	char dir[PATH_MAX], parent[PATH_MAX], *name, *save;
	int dirfd, child_fd, ret;
	unsigned int i;

	snprintf(dir, sizeof(dir), "%s", cfg->hierarchies[h].mount);
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return why_default(why, why_len, -errno, dir);
	j->cgroup_leave_fd[h] = openat(dirfd, procs, O_WRONLY | O_CLOEXEC);
	if (j->cgroup_leave_fd[h] < 0)
		return why_default(why, why_len, -errno, dir);
	snprintf(parent, sizeof(parent), "%s", cfg->parent_cgroup);
	for (name = strtok_r(parent, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		if (cfg->cgroup_version == 2) {
			ret = v2_enable_controllers(j, dirfd, dir, why, why_len);
			if (ret)
				return ret;
		}
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", name);
		ret = make_level(j, h, dirfd, name, dir, &child_fd, why, why_len);
		if (ret)
			return ret;
		dirfd = child_fd;
	}
	ret = look_late(j, h, dirfd, dir, why, why_len);
	if (!ret && cfg->cgroup_version == 2)
		ret = v2_enable_controllers(j, dirfd, dir, why, why_len);
	if (ret)
		return ret;
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", cfg->id);
	ret = make_level(j, h, dirfd, cfg->id, dir, &child_fd, why, why_len);
	if (ret)
		return ret;
	for (i = 0; i < cfg->nr_cgroups; i++) {
		const struct cgroup_setting *s = &cfg->cgroups[i];

		if (s->hierarchy != h)
			continue;
		ret = write_small(child_fd, s->file, s->value);
		if (ret) {
			snprintf(why, why_len, "--cgroup %s: writing %s/%s: %s", s->arg, dir,
				 s->file, strerror(-ret));
			return ret;
		}
	}
	j->cgroup_join_fd[h] = openat(child_fd, procs, O_WRONLY | O_CLOEXEC);
	if (j->cgroup_join_fd[h] < 0)
		return why_default(why, why_len, -errno, dir);
	return 0;
}

int cgroup_create(struct jailer *j, char *why, size_t why_len)
{
	unsigned int h;
	int ret;

	for (h = 0; h < j->cfg.nr_hierarchies; h++) {
		ret = create_in(j, h, why, why_len);
		if (ret)
			return ret;
	}
	return 0;
}

/* Write this process's pid to each open fd in (fds). */
static int write_pid(const int *fds, unsigned int count, char *why, size_t why_len)
{
	char pid[24];
	unsigned int h;
	int ret;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (h = 0; h < count; h++) {
		if (fds[h] < 0)
			continue;
		ret = write_all(fds[h], pid, strlen(pid));
		if (ret)
			return why_default(why, why_len, ret, "joining the cgroup");
	}
	return 0;
}

int cgroup_join(struct jailer *j, char *why, size_t why_len)
{
	j->cgroups_joined = true;
	return write_pid(j->cgroup_join_fd, j->cfg.nr_hierarchies, why, why_len);
}

void cgroup_leave(struct jailer *j)
{
	char ignored[8];

	/* Not before: the jailer would leave the cgroups it was started in for nothing. */
	if (!j->cgroups_joined)
		return;
	write_pid(j->cgroup_leave_fd, j->cfg.nr_hierarchies, ignored, sizeof(ignored));
}
