/* emberctl's command line. Exit status: 0 on success, 1 on an operational error, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

static const char usage[] =
    "usage: emberctl [--state-dir DIR] [--ember PATH] COMMAND ...\n"
    "\n"
    "A fleet of ember microVMs on one host: each VM is its own ember process, under a\n"
    "small supervisor, reached through its API socket and its console socket.\n"
    "\n"
    "VMs:\n"
    "  vm config FILE|-            register a VM from Firecracker's config-file JSON plus an\n"
    "                              \"emberctl\" block: {\"name\": \"web1\", \"cpus\": \"2-3\",\n"
    "                              \"realtime\": false, \"restart\": "
    "\"no\"|\"on-failure\"|\"always\",\n"
    "                              \"jail\": false, \"share_cpus\": false} (name required); a\n"
    "                              network-interfaces entry may say \"switch\": \"NAME\" in place\n"
    "                              of host_dev_name. Checked in full with ember's own parser;\n"
    "                              nothing is started. Prints the VM's name\n"
    "  vm boot NAME [--share-cpus] start it (detached, supervised); returns once its API\n"
    "                              answers, or fails with the tail of its log\n"
    "  vm list [--json]            NAME ID STATE VCPUS MEM UPTIME PID CPUS of every VM.\n"
    "                              STATE: Running, Paused, Not started (ember's own word);\n"
    "                              Unresponsive (ember lives, its API does not answer);\n"
    "                              Starting, Restarting (its supervisor is between two\n"
    "                              embers); Stopped (never booted, or exit 0); Dead (exit N,\n"
    "                              signal N, unknown); Broken: what is wrong with its folder\n"
    "  vm info NAME [--json]       all of that, the config, sockets, log, restart count\n"
    "  vm pause NAME, vm resume NAME\n"
    "  vm stop NAME [--timeout S]  Ctrl-Alt-Del (x86_64; elsewhere SIGTERM), SIGTERM after S\n"
    "                              seconds (default 10), SIGKILL 5 s later; not restarted\n"
    "  vm kill NAME                SIGKILL; not restarted\n"
    "  vm console NAME             attach the terminal to its serial console; Ctrl-] detaches\n"
    "                              and the VM keeps running (the last 64 KiB are replayed)\n"
    "  vm rm NAME [--force]        remove a stopped VM (--force: kill a running one first)\n"
    "\n"
    "Switches (ember-switch: a virtual Ethernet switch between VMs, no root or TAP needed):\n"
    "  switch create NAME, switch show NAME [--json], switch rm NAME, switch list [--json]\n"
    "\n"
    "  --state-dir DIR   where VMs and switches are kept (default /run/ember, or\n"
    "                    $EMBER_STATE_DIR): DIR/vms/NAME/{config.json, ember.json,\n"
    "                    api.sock, console.sock, ember.log, status.json, *.pid}\n"
    "  --ember PATH      the ember binary (default $EMBER_BIN, or the one next to\n"
    "                    emberctl); ember-switch and ember-jailer are looked for beside it\n"
    "\n"
    "A fleet session:\n"
    "  $ emberctl switch create lan\n"
    "  $ cat web1.json\n"
    "  {\"boot-source\": {\"kernel_image_path\": \"vmlinux\", \"boot_args\": \"console=ttyS0\"},\n"
    "   \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"web1.ext4\",\n"
    "                \"is_root_device\": true, \"is_read_only\": false}],\n"
    "   \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256},\n"
    "   \"network-interfaces\": [{\"iface_id\": \"eth0\", \"switch\": \"lan\"}],\n"
    "   \"emberctl\": {\"name\": \"web1\", \"cpus\": \"2-3\", \"restart\": \"on-failure\"}}\n"
    "  $ emberctl vm config web1.json          # and db1.json, with \"cpus\": \"4-5\"\n"
    "  web1\n"
    "  $ emberctl vm boot web1 && emberctl vm boot db1\n"
    "  $ emberctl vm list\n"
    "  NAME  ID    STATE    VCPUS  MEM   UPTIME  PID    CPUS\n"
    "  db1   db1   Running  2      512M  3s      41230  4-5\n"
    "  web1  web1  Running  2      256M  4s      41187  2-3\n"
    "  $ emberctl vm console web1             # Ctrl-] to detach\n"
    "  $ emberctl switch show lan             # per-port counters, by VM\n"
    "  $ emberctl vm pause db1; emberctl vm resume db1\n"
    "  $ emberctl vm stop web1; emberctl vm rm web1\n"
    "\n"
    "Exit status: 0 on success, 1 on an operational error (one line: \"emberctl: ...\"),\n"
    "2 on bad usage.\n";

static void __attribute__((noreturn)) bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "emberctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(emberctl --help for the commands)\n");
	exit(CTL_EXIT_USAGE);
}

/* The arguments after the command words: (want) positionals, and the flags it allows. */
struct args {
	const char *pos[2];
	int npos;
	bool json, force, share_cpus;
	long timeout;
	bool timeout_set;
};

static void parse_args(int argc, char **argv, int want, const char *flags, struct args *a)
{
	char *end;
	int i;

	for (i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "--json") && strstr(flags, "j")) {
			a->json = true;
		} else if (!strcmp(s, "--force") && strstr(flags, "f")) {
			a->force = true;
		} else if (!strcmp(s, "--share-cpus") && strstr(flags, "s")) {
			a->share_cpus = true;
		} else if (!strncmp(s, "--timeout", 9) && strstr(flags, "t") &&
			   (s[9] == '=' || !s[9])) {
			const char *v = s[9] == '=' ? s + 10 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v)
				bad_usage("--timeout needs a number of seconds%s", "");
			errno = 0;
			a->timeout = strtol(v, &end, 10);
			if (errno || *end || end == v || a->timeout < 0 || a->timeout > 86400)
				bad_usage("--timeout %s: must be a number of seconds (0-86400)", v);
			a->timeout_set = true;
		} else if (s[0] == '-' && s[1]) {
			bad_usage("%s: not an option of this command", s);
		} else if (a->npos < want) {
			a->pos[a->npos++] = s;
		} else {
			bad_usage("%s: one argument too many", s);
		}
	}
	if (a->npos < want)
		bad_usage("%s: an argument is missing", argv[-1]);
}

static int run_vm(struct ctl *c, const char *cmd, int argc, char **argv)
{
	struct args a = {.timeout = 10};

	if (!strcmp(cmd, "config")) {
		parse_args(argc, argv, 1, "", &a);
		return cmd_vm_config(c, a.pos[0]);
	}
	if (!strcmp(cmd, "list")) {
		parse_args(argc, argv, 0, "j", &a);
		return cmd_vm_list(c, a.json);
	}
	if (!strcmp(cmd, "boot")) {
		parse_args(argc, argv, 1, "s", &a);
		return cmd_vm_boot(c, a.pos[0], a.share_cpus);
	}
	if (!strcmp(cmd, "info")) {
		parse_args(argc, argv, 1, "j", &a);
		return cmd_vm_info(c, a.pos[0], a.json);
	}
	if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		parse_args(argc, argv, 1, "", &a);
		return cmd_vm_pause(c, a.pos[0], !strcmp(cmd, "pause"));
	}
	if (!strcmp(cmd, "stop")) {
		parse_args(argc, argv, 1, "t", &a);
		return cmd_vm_stop(c, a.pos[0], (int)a.timeout);
	}
	if (!strcmp(cmd, "kill")) {
		parse_args(argc, argv, 1, "", &a);
		return cmd_vm_kill(c, a.pos[0]);
	}
	if (!strcmp(cmd, "console")) {
		parse_args(argc, argv, 1, "", &a);
		return cmd_vm_console(c, a.pos[0]);
	}
	if (!strcmp(cmd, "rm")) {
		parse_args(argc, argv, 1, "f", &a);
		return cmd_vm_rm(c, a.pos[0], a.force);
	}
	bad_usage("vm %s: no such command", cmd);
}

static int run_switch(struct ctl *c, const char *cmd, int argc, char **argv)
{
	struct args a = {0};

	if (!strcmp(cmd, "create")) {
		parse_args(argc, argv, 1, "", &a);
		return cmd_switch_create(c, a.pos[0]);
	}
	if (!strcmp(cmd, "show")) {
		parse_args(argc, argv, 1, "j", &a);
		return cmd_switch_show(c, a.pos[0], a.json);
	}
	if (!strcmp(cmd, "rm")) {
		parse_args(argc, argv, 1, "", &a);
		return cmd_switch_rm(c, a.pos[0]);
	}
	if (!strcmp(cmd, "list")) {
		parse_args(argc, argv, 0, "j", &a);
		return cmd_switch_list(c, a.json);
	}
	bad_usage("switch %s: no such command", cmd);
}

/* A global option's value: "--opt VALUE" or "--opt=VALUE". */
static const char *option_value(char **argv, int *i, int argc, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc)
		bad_usage("%s needs a value", name);
	return argv[++*i];
}

/* DIR made absolute: ember and the supervisor run elsewhere. */
static void set_state_dir(struct ctl *c, const char *dir)
{
	char cwd[PATH_MAX];
	int n;

	if (!*dir)
		bad_usage("--state-dir: empty%s", "");
	if (dir[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		n = snprintf(c->state_dir, sizeof(c->state_dir), "%s", dir);
	else
		n = snprintf(c->state_dir, sizeof(c->state_dir), "%s/%s", cwd, dir);
	if (n < 0 || (size_t)n >= sizeof(c->state_dir) - 128)
		bad_usage("--state-dir %s: too long", dir);
	while (n > 1 && c->state_dir[n - 1] == '/')
		c->state_dir[--n] = '\0';
}

/*
 * --ember or EMBER_BIN made absolute: the supervisor and the switch's child run it from
 * another folder. Not resolved (a symlink named ember keeps its siblings next to it).
 */
static void set_ember(struct ctl *c, const char *path, const char *what)
{
	char cwd[PATH_MAX];
	int n;

	if (!*path)
		bad_usage("%s: empty", what);
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		n = snprintf(c->ember, sizeof(c->ember), "%s", path);
	else
		n = snprintf(c->ember, sizeof(c->ember), "%s/%s", cwd, path);
	if (n < 0 || (size_t)n >= sizeof(c->ember))
		bad_usage("%s: too long", what);
}

/* Descriptors 0-2 open, so that no socket or lock of ours ever lands on them. */
static void std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		fcntl(fd, F_SETFD, 0);
	if (fd > 2)
		close(fd);
}

int main(int argc, char **argv)
{
	struct ctl *c = calloc(1, sizeof(*c));
	const char *v, *env = getenv("EMBER_STATE_DIR");
	ssize_t n;
	int i, ret;

	std_fds();
	if (!c) {
		fprintf(stderr, "emberctl: out of memory\n");
		return CTL_EXIT_FAILED;
	}
	c->lock_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	set_state_dir(c, env && *env ? env : CTL_DEFAULT_DIR);
	n = readlink("/proc/self/exe", c->self, sizeof(c->self) - 1);
	if (n > 0)
		c->self[n] = '\0';
	else
		snprintf(c->self, sizeof(c->self), "%s", argv[0]);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			free(c);
			return CTL_EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("emberctl %s\n", CTL_VERSION);
			free(c);
			return CTL_EXIT_OK;
		} else if ((v = option_value(argv, &i, argc, "--state-dir"))) {
			set_state_dir(c, v);
		} else if ((v = option_value(argv, &i, argc, "--ember"))) {
			set_ember(c, v, "--ember");
		} else {
			bad_usage("%s: unknown option", argv[i]);
		}
	}
	if (!c->ember[0] && (v = getenv("EMBER_BIN")) && *v)
		set_ember(c, v, "EMBER_BIN");
	if (i + 2 > argc) {
		if (i < argc && !strcmp(argv[i], "help")) {
			fputs(usage, stdout);
			free(c);
			return CTL_EXIT_OK;
		}
		bad_usage("%s", i < argc ? "a command needs a subcommand" : "no command given");
	}
	if (!strcmp(argv[i], "vm"))
		ret = run_vm(c, argv[i + 1], argc - i - 2, argv + i + 2);
	else if (!strcmp(argv[i], "switch"))
		ret = run_switch(c, argv[i + 1], argc - i - 2, argv + i + 2);
	else
		bad_usage("%s: no such command (vm, switch)", argv[i]);
	fflush(stdout);
	if (ret)
		fprintf(stderr, "emberctl: %s\n", c->why[0] ? c->why : strerror(-ret));
	free(c);
	return ret ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}
