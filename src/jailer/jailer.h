/*
 * ember-jailer: what its command line asks for (struct jail_config, checked before anything
 * on the host changes) and what a run has made so far (struct jailer). main.c holds the
 * order of the steps; each step lives in the file of its concern.
 */
#ifndef EMBER_JAILER_JAILER_H
#define EMBER_JAILER_JAILER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "undo.h"

#define JAILER_VERSION	     "0.1.0" /* ember's own version (EMBER_VERSION in api/instance.h) */
#define JAIL_ID_MAX	     64
#define JAIL_MAX_CGROUPS     32
#define JAIL_MAX_HIERARCHIES 16
#define JAIL_DEFAULT_NO_FILE 2048 /* Firecracker's jailer sets this when not told otherwise */
#define JAIL_DEFAULT_BASE    "/srv/jailer"

/* One --cgroup FILE=VALUE. */
struct cgroup_setting {
	const char *arg;	 /* as given, for messages */
	char file[NAME_MAX + 1]; /* e.g. "cpuset.cpus"; the controller is the part before the dot */
	const char *value;
	unsigned int hierarchy; /* index into jail_config.hierarchies */
	/* The file could not be looked for yet: <parent> does not exist, and the hierarchy's
	 * root lacks it as roots do for limits (pids.max); looked for once <parent> is made. */
	bool look_late;
};

/* A cgroup hierarchy some --cgroup names: v1 has one per controller (or co-mounted group). */
struct cgroup_hierarchy {
	char mount[PATH_MAX];
	bool cpuset; /* v1 with cpuset: a new cgroup is unusable until cpus and mems are set */
};

struct jail_config {
	const char *id;
	char exec_path[PATH_MAX]; /* canonical */
	const char *exec_name;	  /* its last component (points into exec_path) */
	/* The file that was checked, as the copy must find it: the change time too, as an
	 * inode number is reused once its file is removed, and a write changes it. */
	dev_t exec_dev;
	ino_t exec_ino;
	struct timespec exec_ctime;
	uid_t uid;
	gid_t gid;
	char base[PATH_MAX];	  /* --chroot-base-dir, canonical; must exist */
	char jail_root[PATH_MAX]; /* <base>/<exec_name>/<id>/root */
	const char *netns;
	bool daemonize;
	bool new_pid_ns;
	int cgroup_version;
	const char *parent_cgroup;
	struct cgroup_setting cgroups[JAIL_MAX_CGROUPS];
	unsigned int nr_cgroups;
	struct cgroup_hierarchy hierarchies[JAIL_MAX_HIERARCHIES];
	unsigned int nr_hierarchies;
	bool fsize_set;
	uint64_t fsize;
	uint64_t no_file;
	char **ember_args; /* what followed "--" */
	int nr_ember_args;
};

/* The three times ember is handed, as Firecracker's jailer hands them to Firecracker. */
struct jail_clock {
	uint64_t start_us;	   /* CLOCK_MONOTONIC at the jailer's start (--start-time-us) */
	uint64_t own_cpu_base_us;  /* this process's CPU clock when its jailer work began */
	uint64_t ancestors_cpu_us; /* CPU the jailer's exited processes (forks) had used */
};

/* The host's device nodes ember needs, read with stat() before the jail hides them. */
struct host_devices {
	dev_t kvm;
	dev_t tun;
	dev_t userfaultfd;
	bool has_userfaultfd;
};

struct jailer {
	struct jail_config cfg;
	struct jail_clock clock;
	struct host_devices devs;
	struct undo undo;
	int root_fd;	 /* the jail root, open (O_RDONLY) from its creation; valid after pivot */
	int dev_null_fd; /* /dev/null, opened before the pivot for --daemonize */
	int proc_fd;	 /* the host's /proc, opened before the pivot when the jailer forks */
	int cgroup_join_fd[JAIL_MAX_HIERARCHIES];  /* tasks / cgroup.procs of <parent>/<id> */
	int cgroup_leave_fd[JAIL_MAX_HIERARCHIES]; /* the same file at the hierarchy's root */
	bool cgroups_joined;			   /* from the first write to a cgroup_join_fd on */
	/* The process that was started does every undo; a fork that fails only reports. */
	bool original;
	int report_fd;	 /* in a fork: the pipe the original reads failures from */
	bool blame_args; /* a late check found an argument wrong: exit status 2 */
};

#endif
