/*
 * ember-jailer: starts ember confined, as Firecracker's jailer starts Firecracker, and with
 * the same command line. main() reads and checks every argument before anything on the
 * host changes, then runs the steps in one visible order; a step that fails has everything
 * made so far taken back.
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "jail.h"
#include "jailer.h"
#include "process.h"
#include "validate.h"
#include "../util/util.h"

#define EXIT_FAILED   1
#define EXIT_BAD_ARGS 2

static const char usage[] =
    "usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID [options] [-- ARGS...]\n"
    "\n"
    "Starts the executable (ember) confined, with the command line of Firecracker's jailer:\n"
    "makes <chroot-base-dir>/<exec file name>/<id>/root, copies the executable there,\n"
    "puts the process in cgroups, a network namespace, a mount namespace whose root is\n"
    "that directory (pivot_root) and, if asked, a new PID namespace; creates /dev/kvm,\n"
    "/dev/net/tun and /dev/userfaultfd there; sets resource limits; becomes UID:GID with no\n"
    "capabilities and no_new_privs; and execs it as\n"
    "  /<exec file name> --id ID --start-time-us T --start-time-cpu-us C\n"
    "                    --parent-cpu-time-us P ARGS...\n"
    "(T: the jailer's start on CLOCK_MONOTONIC in us; C: the CPU clock of the process that\n"
    "execs; P: the CPU time the jailer's processes used). The pid of the executable's\n"
    "process is written to /<exec file name>.pid in the jail.\n"
    "\n"
    "  --id ID                  the jail's id: 1 to 64 letters, digits or '-' (required)\n"
    "  --exec-file PATH         the executable, statically linked (required)\n"
    "  --uid UID, --gid GID     the user and group it runs as (required)\n"
    "  --chroot-base-dir DIR    where jails are made (default /srv/jailer; must exist)\n"
    "  --netns PATH             join this network namespace (e.g. /var/run/netns/NAME)\n"
    "  --daemonize              detach: new session, stdio on /dev/null\n"
    "  --new-pid-ns             run the executable as pid 1 of a new PID namespace\n"
    "  --cgroup-version 1|2     the cgroup hierarchy to use (default 1)\n"
    "  --cgroup FILE=VALUE      write VALUE to FILE (e.g. cpuset.cpus=0, pids.max=100,\n"
    "                           memory.limit_in_bytes=...) in <parent>/<id> of the\n"
    "                           hierarchy of FILE's controller (the part before the dot);\n"
    "                           repeatable. Without it the cgroups are left as they are\n"
    "  --parent-cgroup PATH     the cgroup that holds <id> (default: the exec file's name)\n"
    "  --resource-limit R=N     fsize=N (bytes) or no-file=N (default no-file=2048);\n"
    "                           repeatable\n"
    "  --version                print the version and exit\n"
    "  --help                   print this help and exit\n"
    "\n"
    "Exit status: 0 once the executable is exec'd (with --daemonize or --new-pid-ns, the\n"
    "jailer returns when that has happened); 2 for a bad argument (nothing on the host has\n"
    "changed); 1 when a step on the host failed (what the jailer had made is removed).\n"
    "Firecracker's jailer exits 1 in both cases.\n";

enum {
	OPT_ID = 256,
	OPT_EXEC_FILE,
	OPT_UID,
	OPT_GID,
	OPT_CHROOT_BASE,
	OPT_NETNS,
	OPT_DAEMONIZE,
	OPT_NEW_PID_NS,
	OPT_CGROUP_VERSION,
	OPT_CGROUP,
	OPT_PARENT_CGROUP,
	OPT_RESOURCE_LIMIT,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_options[] = {
    {"id", required_argument, NULL, OPT_ID},
    {"exec-file", required_argument, NULL, OPT_EXEC_FILE},
    {"uid", required_argument, NULL, OPT_UID},
    {"gid", required_argument, NULL, OPT_GID},
    {"chroot-base-dir", required_argument, NULL, OPT_CHROOT_BASE},
    {"netns", required_argument, NULL, OPT_NETNS},
    {"daemonize", no_argument, NULL, OPT_DAEMONIZE},
    {"new-pid-ns", no_argument, NULL, OPT_NEW_PID_NS},
    {"cgroup-version", required_argument, NULL, OPT_CGROUP_VERSION},
    {"cgroup", required_argument, NULL, OPT_CGROUP},
    {"parent-cgroup", required_argument, NULL, OPT_PARENT_CGROUP},
    {"resource-limit", required_argument, NULL, OPT_RESOURCE_LIMIT},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* The flags as given, before the checks that need them all. */
struct raw_args {
	const char *value[OPT_HELP - OPT_ID + 1]; /* the single-valued flags, by OPT_ - OPT_ID */
	bool help, version;
};

/*
 * Read argv into (raw) and (cfg). Returns 0, or -EINVAL with "--flag VALUE: reason" (or
 * the like) in (why).
 */
static int read_flags(int argc, char **argv, struct raw_args *raw, struct jail_config *cfg,
		      char *why, size_t why_len)
{
	char reason[256];
	int opt, idx;

	opterr = 0; /* the messages are ours */
	/* "+": stop at the first operand, which is an error unless it follows "--". */
	while ((opt = getopt_long(argc, argv, "+:", long_options, &idx)) != -1) {
		*reason = '\0';
		switch (opt) {
		case OPT_CGROUP:
			if (cgroup_add_setting(cfg, optarg, why, why_len))
				return -EINVAL;
			continue;
		case OPT_RESOURCE_LIMIT:
			if (parse_resource_limit(optarg, cfg, reason, sizeof(reason))) {
				snprintf(why, why_len, "--resource-limit %s: %s", optarg, reason);
				return -EINVAL;
			}
			continue;
		case OPT_DAEMONIZE:
			cfg->daemonize = true;
			continue;
		case OPT_NEW_PID_NS:
			cfg->new_pid_ns = true;
			continue;
		case OPT_VERSION:
			raw->version = true;
			continue;
		case OPT_HELP:
			raw->help = true;
			continue;
		case ':':
			snprintf(why, why_len, "%s needs a value", argv[optind - 1]);
			return -EINVAL;
		case '?':
			snprintf(why, why_len, "unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
		if (raw->value[opt - OPT_ID]) {
			snprintf(why, why_len, "--%s given twice", long_options[idx].name);
			return -EINVAL;
		}
		raw->value[opt - OPT_ID] = optarg;
	}
	if (optind < argc && strcmp(argv[optind - 1], "--")) {
		snprintf(why, why_len, "unexpected argument '%s' (ember's own go after --)",
			 argv[optind]);
		return -EINVAL;
	}
	cfg->ember_args = argv + optind;
	cfg->nr_ember_args = argc - optind;
	return 0;
}

static const char *flag_value(const struct raw_args *raw, int opt)
{
	return raw->value[opt - OPT_ID];
}

/* "--flag VALUE: reason" into (why); returns (err). */
static int bad_flag(char *why, size_t why_len, int opt, const char *value, const char *reason,
		    int err)
{
	snprintf(why, why_len, "--%s %s: %s", long_options[opt - OPT_ID].name, value, reason);
	return err;
}

/* The checks that need every flag; nothing on the host changes. 0 or -errno with (why). */
static int check_flags(const struct raw_args *raw, struct jail_config *cfg, char *why,
		       size_t why_len)
{
	static const int required[] = {OPT_ID, OPT_EXEC_FILE, OPT_UID, OPT_GID};
	const char *base = flag_value(raw, OPT_CHROOT_BASE) ?: JAIL_DEFAULT_BASE;
	const char *version = flag_value(raw, OPT_CGROUP_VERSION) ?: "1";
	const char *exec_file = flag_value(raw, OPT_EXEC_FILE);
	const char *uid = flag_value(raw, OPT_UID), *gid = flag_value(raw, OPT_GID);
	char reason[512] = "";
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(required); i++)
		if (!flag_value(raw, required[i])) {
			snprintf(why, why_len, "--%s is required (see ember-jailer --help)",
				 long_options[required[i] - OPT_ID].name);
			return -EINVAL;
		}
	cfg->id = flag_value(raw, OPT_ID);
	if ((ret = validate_id(cfg->id, reason, sizeof(reason))))
		return bad_flag(why, why_len, OPT_ID, cfg->id, reason, ret);
	if ((ret = validate_exec_file(exec_file, cfg, reason, sizeof(reason))))
		return bad_flag(why, why_len, OPT_EXEC_FILE, exec_file, reason, ret);
	if ((ret = parse_id_number(uid, &cfg->uid, reason, sizeof(reason))))
		return bad_flag(why, why_len, OPT_UID, uid, reason, ret);
	if ((ret = parse_id_number(gid, &cfg->gid, reason, sizeof(reason))))
		return bad_flag(why, why_len, OPT_GID, gid, reason, ret);
	if ((ret = validate_chroot_base(base, cfg, reason, sizeof(reason))))
		return bad_flag(why, why_len, OPT_CHROOT_BASE, base, reason, ret);
	cfg->netns = flag_value(raw, OPT_NETNS);
	if (cfg->netns && (ret = validate_netns(cfg->netns, reason, sizeof(reason))))
		return bad_flag(why, why_len, OPT_NETNS, cfg->netns, reason, ret);
	if (strcmp(version, "1") && strcmp(version, "2"))
		return bad_flag(why, why_len, OPT_CGROUP_VERSION, version, "must be 1 or 2",
				-EINVAL);
	cfg->cgroup_version = version[0] - '0';
	cfg->parent_cgroup = flag_value(raw, OPT_PARENT_CGROUP) ?: cfg->exec_name;
	if ((ret = validate_parent_cgroup(cfg->parent_cgroup, reason, sizeof(reason))))
		return bad_flag(why, why_len, OPT_PARENT_CGROUP, cfg->parent_cgroup, reason, ret);
	return cgroup_resolve(cfg, why, why_len);
}

/* Every step that changes the host, in order. Returns 0 in the process that is to exit 0. */
static int build_jail(struct jailer *j, int *exit_status, char *why, size_t why_len)
{
	int ret;

	*exit_status = -1;
	if ((ret = jail_find_devices(&j->devs, why, why_len)) ||
	    (ret = jail_make_root(j, why, why_len)) || (ret = cgroup_create(j, why, why_len)))
		return ret;
	if (j->cfg.netns && (ret = process_join_netns(j->cfg.netns, why, why_len)))
		return ret;
	/* Opened while the host's /dev and /proc are still in view. */
	if (j->cfg.daemonize) {
		j->dev_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (j->dev_null_fd < 0)
			return why_default(why, why_len, -errno, "/dev/null");
	}
	/* With forks, the original looks there to see whether ember's process was exec'd. */
	if (j->cfg.daemonize || j->cfg.new_pid_ns) {
		j->proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (j->proc_fd < 0)
			return why_default(why, why_len, -errno, "/proc");
	}
	if ((ret = jail_pivot(j, why, why_len)) || (ret = jail_make_devices(j, why, why_len)) ||
	    (ret = process_set_rlimits(&j->cfg, why, why_len)) ||
	    (ret = jail_claim_pid_file(j, why, why_len)))
		return ret;
	/* Last of all that could fail, as a process in the cgroups could not rmdir them. */
	if ((ret = cgroup_join(j, why, why_len)))
		return ret;
	if (j->cfg.daemonize &&
	    ((ret = process_daemonize(j, exit_status, why, why_len)) || *exit_status >= 0))
		return ret;
	if (j->cfg.new_pid_ns) {
		ret = process_new_pid_ns(j, exit_status, why, why_len);
		if (ret || *exit_status >= 0)
			return ret;
	} else if ((ret = jail_write_pid_file(j, getpid(), why, why_len))) {
		return ret;
	}
	if ((ret = process_drop_privileges(j->cfg.uid, j->cfg.gid, why, why_len)))
		return ret;
	return process_exec(j, why, why_len);
}

int main(int argc, char **argv)
{
	struct jailer *j = calloc(1, sizeof(*j));
	struct raw_args raw = {0};
	char why[1024] = "", undo_why[512] = "";
	unsigned int h;
	int exit_status, ret;

	if (!j) {
		fputs("ember-jailer: out of memory\n", stderr);
		return EXIT_FAILED;
	}
	j->clock.start_us = now_us();
	j->clock.own_cpu_base_us = cpu_us();
	j->cfg.no_file = JAIL_DEFAULT_NO_FILE;
	j->root_fd = j->dev_null_fd = j->proc_fd = j->report_fd = -1;
	for (h = 0; h < JAIL_MAX_HIERARCHIES; h++)
		j->cgroup_join_fd[h] = j->cgroup_leave_fd[h] = -1;
	j->original = true;

	ret = read_flags(argc, argv, &raw, &j->cfg, why, sizeof(why));
	if (!ret && raw.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (!ret && raw.version) {
		printf("ember-jailer v%s\n", JAILER_VERSION);
		return 0;
	}
	if (!ret)
		ret = check_flags(&raw, &j->cfg, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "ember-jailer: %s\n", why);
		return EXIT_BAD_ARGS;
	}
	ret = process_sanitize(why, sizeof(why));
	if (!ret)
		ret = build_jail(j, &exit_status, why, sizeof(why));
	if (!ret)
		return exit_status;
	if (!j->original) {
		process_report(j, why);
		return EXIT_FAILED;
	}
	cgroup_leave(j);
	if (undo_all(&j->undo, undo_why, sizeof(undo_why)))
		fprintf(stderr, "ember-jailer: %s (and %s)\n", why, undo_why);
	else
		fprintf(stderr, "ember-jailer: %s\n", why);
	return j->blame_args ? EXIT_BAD_ARGS : EXIT_FAILED;
}
