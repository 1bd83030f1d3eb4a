/* ember: a microVM monitor. main() parses the command line, builds one VM and runs it. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "usage.h"
#include "api/instance.h"
#include "arch/arch.h"
#include "config/config_file.h"
#include "seccomp/confine.h"
#include "util/cpus.h"
#include "util/log.h"
#include "util/util.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define EXIT_BAD_ARGS	 2

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_BOOT_ARGS,
	OPT_VCPUS,
	OPT_MEMORY,
	OPT_BOOT_TIMER,
	OPT_NO_ACPI,
	OPT_VIRTIO_MMIO_CMDLINE,
	OPT_BOOT_PROTOCOL,
	OPT_GIC,
	OPT_IRQCHIP,
	OPT_LEVEL,
	OPT_RNG,
	OPT_DISK,
	OPT_NET,
	OPT_BALLOON,
	OPT_VSOCK,
	OPT_CONFIG_FILE,
	OPT_RESTORE,
	OPT_NO_API,
	OPT_API_SOCK,
	OPT_ID,
	OPT_CONSOLE_SOCK,
	OPT_CPUS,
	OPT_REALTIME,
	OPT_MAX_PAYLOAD,
	OPT_MMDS_LIMIT,
	OPT_METADATA,
	OPT_LOG_PATH,
	OPT_SHOW_LEVEL,
	OPT_SHOW_ORIGIN,
	OPT_NO_SECCOMP,
	OPT_SECCOMP_FILTER,
	OPT_PRINT_SECCOMP,
	OPT_START_TIME,
	OPT_START_CPU,
	OPT_PARENT_CPU,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "boot-args", required_argument, NULL, OPT_BOOT_ARGS },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "no-acpi", no_argument, NULL, OPT_NO_ACPI },
	{ "virtio-mmio-cmdline", no_argument, NULL, OPT_VIRTIO_MMIO_CMDLINE },
	{ "boot-protocol", required_argument, NULL, OPT_BOOT_PROTOCOL },
	{ "gic", required_argument, NULL, OPT_GIC },
	{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "rng", optional_argument, NULL, OPT_RNG },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "id", required_argument, NULL, OPT_ID },
	{ "console-sock", required_argument, NULL, OPT_CONSOLE_SOCK },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "realtime", no_argument, NULL, OPT_REALTIME },
	{ "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "mmds-size-limit", required_argument, NULL, OPT_MMDS_LIMIT },
	{ "metadata", required_argument, NULL, OPT_METADATA },
	{ "log-path", required_argument, NULL, OPT_LOG_PATH },
	{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
	{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
	{ "print-seccomp-filter", no_argument, NULL, OPT_PRINT_SECCOMP },
	{ "start-time-us", required_argument, NULL, OPT_START_TIME },
	{ "start-time-cpu-us", required_argument, NULL, OPT_START_CPU },
	{ "parent-cpu-time-us", required_argument, NULL, OPT_PARENT_CPU },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void bad_arg(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bad_arg(const char *fmt, ...)
{
	va_list ap;

	fputs("ember: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see ember --help)\n", stderr);
	exit(EXIT_BAD_ARGS);
}

/*
 * An option the arch owns (arch_config_option). Where the arch has no such knob, "auto"
 * (what it would choose anyway) is accepted, so one command line serves every arch; any
 * other value is refused.
 */
static void arch_option(struct vm_config *cfg, const char *name, const char *value)
{
	char why[256];
	int ret = arch_config_option(&cfg->arch, name, value, why, sizeof(why));

	if (ret == -ENOENT && !strcmp(value, "auto"))
		return;
	if (ret == -ENOENT)
		bad_arg("--%s %s: not an option on %s", name, value, ARCH_NAME);
	if (ret)
		bad_arg("%s", why);
}

static int parse_level(const char *s, enum log_level *level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(s, names[i]) || (i == LOG_WARN && !strcasecmp(s, "warning"))) {
			*level = (enum log_level)i;
			return 0;
		}
	/* Firecracker's other two: Trace is Debug here, Off keeps only errors. */
	if (!strcasecmp(s, "trace") || !strcasecmp(s, "off")) {
		*level = strcasecmp(s, "off") ? LOG_DEBUG : LOG_ERROR;
		return 0;
	}
	return -EINVAL;
}

/* --print-seccomp-filter: the exit status. */
static int print_builtin_seccomp(void)
{
	struct seccomp_policy policy;
	json_t *json;
	int ret;

	seccomp_policy_builtin(&policy);
	json = seccomp_policy_json(&policy);
	ret = json && !json_dumpf(json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) &&
	      putchar('\n') != EOF;
	json_decref(json);
	return ret ? 0 : 1;
}

/* Whether option (opt) sets something a --config-file also describes. */
static bool in_config_file(int opt)
{
	switch (opt) {
	case OPT_KERNEL:
	case OPT_INITRD:
	case OPT_BOOT_ARGS:
	case OPT_VCPUS:
	case OPT_MEMORY:
	case OPT_RNG:
	case OPT_DISK:
	case OPT_NET:
	case OPT_BALLOON:
	case OPT_VSOCK:
		return true;
	default:
		return false;
	}
}

/* What the command line asks for beyond the VM itself. */
struct options {
	const char *config_file;
	const char *api_sock;
	const char *id;
	const char *console_sock;
	const char *cpus;
	bool realtime;
	const char *metadata;
	const char *log_path;
	enum log_level level; /* --level: applied once the instance, and its logger, exist */
	bool no_api, show_level, show_origin;
	bool no_seccomp;
	const char *seccomp_filter;
	/* From a jailer: when it started (monotonic), its CPU time then, and its own CPU time. */
	bool start_time_set;
	uint64_t start_time_us, start_cpu_us, parent_cpu_us;
	uint64_t max_payload;
	uint64_t mmds_limit;
	const char *vm_option; /* the first option that describes the VM, for messages */
};

static void parse_vm_option(int opt, struct vm_config *cfg)
{
	char why[256];
	uint64_t v;

	switch (opt) {
	case OPT_KERNEL:
	case OPT_INITRD:
	case OPT_BOOT_ARGS:
		if (vm_config_set_boot(cfg, opt == OPT_KERNEL ? optarg : cfg->kernel_path ?: "",
				       opt == OPT_INITRD ? optarg : cfg->initrd_path,
				       opt == OPT_BOOT_ARGS ? optarg : cfg->boot_args))
			die("out of memory");
		break;
	case OPT_VCPUS:
		if (parse_uint(optarg, 1, ARCH_MAX_VCPUS, &v))
			bad_arg("--vcpus %s: must be a number from 1 to %u", optarg, ARCH_MAX_VCPUS);
		cfg->vcpus = v;
		break;
	case OPT_MEMORY:
		if (parse_uint(optarg, 2, VM_MAX_MEM_MIB, &v))
			bad_arg("--memory %s: must be a number of MiB from 2 to %u", optarg,
				VM_MAX_MEM_MIB);
		cfg->mem_mib = v;
		break;
	case OPT_RNG:
		if (optarg && throttle_config_parse(optarg, &cfg->rng_limit))
			bad_arg("--rng=%s: expected bw=SIZE:REFILL_MS[:BURST],"
				"ops=SIZE:REFILL_MS[:BURST]", optarg);
		cfg->rng = true;
		break;
	case OPT_DISK: {
		struct disk_config d;

		if (cfg->nr_disks >= VM_MAX_DISKS)
			bad_arg("--disk %s: at most %u disks", optarg, VM_MAX_DISKS);
		if (disk_config_parse(optarg, &d, why, sizeof(why)))
			bad_arg("--disk %s: %s", optarg, why);
		/* The API names it by its serial, or by its place: disk0, disk1... */
		snprintf(d.id, sizeof(d.id), "%s", d.serial);
		if (!device_id_valid(d.id) || vm_config_find_drive(cfg, d.id) >= 0)
			snprintf(d.id, sizeof(d.id), "disk%u", cfg->nr_disks);
		if (vm_config_put_drive(cfg, &d, why, sizeof(why)))
			bad_arg("--disk %s: %s", optarg, why);
		break;
	}
	case OPT_NET: {
		struct net_config n;

		if (cfg->nr_nets == VM_MAX_NETS)
			bad_arg("--net: at most %u network devices", VM_MAX_NETS);
		if (net_config_parse(optarg, &n))
			bad_arg("--net %s: expected TAP or switch=PATH, then [,mac=AA:BB:CC:DD:EE:FF]"
				"[,rx_bw=B][,rx_ops=B][,tx_bw=B][,tx_ops=B] (a unicast MAC, a TAP "
				"name under 16 characters, a PATH of at most %zu)", optarg,
				NET_SWITCH_PATH_MAX);
		snprintf(n.id, sizeof(n.id), "net%u", cfg->nr_nets);
		if (vm_config_put_net(cfg, &n, why, sizeof(why)))
			bad_arg("--net %s: %s", optarg, why);
		break;
	}
	case OPT_BALLOON:
		if (balloon_config_parse(optarg, &cfg->balloon_cfg))
			bad_arg("--balloon %s: expected MIB[,deflate_on_oom][,stats=SECONDS]", optarg);
		cfg->balloon = true;
		break;
	case OPT_VSOCK:
		if (cfg->vsock)
			bad_arg("--vsock %s: only one vsock device", optarg);
		if (vsock_config_parse(optarg, &cfg->vsock_cfg))
			bad_arg("--vsock %s: expected CID,UDS_PATH (CID from %u to %llu, a path "
				"of at most %zu bytes)",
				optarg, VSOCK_CID_MIN, VSOCK_CID_MAX, VSOCK_PATH_MAX);
		cfg->vsock = true;
		break;
	}
}

static void parse_args(int argc, char **argv, struct vm_config *cfg, struct options *o)
{
	char why[256];
	int opt, idx;

	while ((opt = getopt_long(argc, argv, "", long_options, &idx)) != -1) {
		/* The config file describes the whole VM; a second source would have to merge. */
		if (in_config_file(opt)) {
			if (!o->vm_option)
				o->vm_option = long_options[idx].name;
			parse_vm_option(opt, cfg);
			continue;
		}
		switch (opt) {
		case OPT_CONFIG_FILE:
			o->config_file = optarg;
			break;
		case OPT_RESTORE:
			if (restore_option_parse(optarg, &cfg->restore))
				bad_arg("--restore %s: expected STATE,MEM[,uffd][,paused]"
					"[,track_dirty_pages]", optarg);
			break;
		case OPT_NO_API:
			o->no_api = true;
			break;
		case OPT_API_SOCK:
			o->api_sock = optarg;
			break;
		case OPT_CONSOLE_SOCK:
			if (!*optarg)
				bad_arg("--console-sock needs a path");
			o->console_sock = optarg;
			break;
		case OPT_CPUS:
			o->cpus = optarg;
			break;
		case OPT_REALTIME:
			o->realtime = true;
			break;
		case OPT_ID:
			if (!instance_id_valid(optarg))
				bad_arg("--id %s: 1 to %u letters, digits, '-' or '_'", optarg,
					CONFIG_ID_MAX);
			o->id = optarg;
			break;
		case OPT_MAX_PAYLOAD:
		case OPT_MMDS_LIMIT:
			if (parse_uint(optarg, 1, 64 * MiB, opt == OPT_MAX_PAYLOAD ? &o->max_payload
										 : &o->mmds_limit))
				bad_arg("--%s %s: must be a number of bytes from 1 to %llu",
					long_options[idx].name, optarg, 64 * MiB);
			break;
		case OPT_METADATA:
			o->metadata = optarg;
			break;
		case OPT_LOG_PATH:
			o->log_path = optarg;
			break;
		case OPT_SHOW_LEVEL:
			o->show_level = true;
			break;
		case OPT_SHOW_ORIGIN:
			o->show_origin = true;
			break;
		case OPT_BOOT_TIMER:
			cfg->boot_timer = true;
			break;
		case OPT_NO_ACPI:
			cfg->acpi = false;
			break;
		case OPT_VIRTIO_MMIO_CMDLINE:
			cfg->virtio_mmio_cmdline = true;
			break;
		case OPT_BOOT_PROTOCOL:
			if (!strcmp(optarg, "auto"))
				cfg->boot_proto = BOOT_PROTO_AUTO;
			else if (!strcmp(optarg, "linux"))
				cfg->boot_proto = BOOT_PROTO_LINUX;
			else if (!strcmp(optarg, "pvh"))
				cfg->boot_proto = BOOT_PROTO_PVH;
			else
				bad_arg("--boot-protocol %s: must be auto, linux or pvh", optarg);
			break;
		case OPT_GIC:
		case OPT_IRQCHIP:
			arch_option(cfg, opt == OPT_GIC ? "gic" : "irqchip", optarg);
			break;
		case OPT_LEVEL:
			if (parse_level(optarg, &o->level))
				bad_arg("--level %s: must be error, warn, info or debug", optarg);
			break;
		case OPT_NO_SECCOMP:
			o->no_seccomp = true;
			break;
		case OPT_SECCOMP_FILTER:
			o->seccomp_filter = optarg;
			break;
		case OPT_PRINT_SECCOMP:
			exit(print_builtin_seccomp());
		case OPT_START_TIME:
		case OPT_START_CPU:
		case OPT_PARENT_CPU: {
			uint64_t *v = opt == OPT_START_TIME  ? &o->start_time_us
				      : opt == OPT_START_CPU ? &o->start_cpu_us
							     : &o->parent_cpu_us;

			if (parse_uint(optarg, 0, UINT64_MAX, v))
				bad_arg("--%s %s: must be a number of microseconds",
					long_options[idx].name, optarg);
			o->start_time_set |= opt == OPT_START_TIME;
			break;
		}
		case OPT_VERSION:
			printf("ember v%s (%s)\n", EMBER_VERSION, ARCH_NAME);
			exit(0);
		case OPT_HELP:
			fputs(ember_usage, stdout);
			exit(0);
		default:
			bad_arg("unknown or incomplete option");
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	if (o->config_file && o->vm_option)
		bad_arg("--%s cannot be combined with --config-file", o->vm_option);
	if (cfg->restore.set && (o->vm_option || o->config_file))
		bad_arg("--restore cannot be combined with --%s: the snapshot holds the VM",
			o->vm_option ?: "config-file");
	if (o->no_api && o->api_sock)
		bad_arg("--no-api cannot be combined with --api-sock");
	if (o->no_api && !o->config_file)
		bad_arg("--no-api needs --config-file");
	if (o->no_seccomp && o->seccomp_filter)
		bad_arg("--no-seccomp cannot be combined with --seccomp-filter");
	if (o->config_file && config_file_load(o->config_file, cfg, why, sizeof(why)))
		bad_arg("--config-file %s: %s", o->config_file, why);
	if (o->vm_option && (!cfg->kernel_path || !*cfg->kernel_path))
		bad_arg("--kernel is required with --%s", o->vm_option);
	if (!cfg->kernel_path && !cfg->restore.set && !o->api_sock)
		bad_arg("--kernel is required");
}

/* --metadata: the MMDS data store's first contents. */
static void load_metadata(struct instance *in, const char *path)
{
	json_error_t jerr;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	size_t len;

	if (!v)
		bad_arg("--metadata %s: line %d: %s", path, jerr.line, jerr.text);
	if (!json_is_object(v))
		bad_arg("--metadata %s: must be a JSON object", path);
	if (mmds_set_store(&in->mmds, v, &len))
		bad_arg("--metadata %s: larger than the MMDS limit of %zu bytes", path,
			in->mmds.limit);
}

/*
 * The filters every thread will install: the built-in allow-lists, or --seccomp-filter's
 * policy (whose syscall names must all exist on this arch), compiled now so that a thread
 * only has to load its program. A policy that does not compile is a bad argument.
 */
static void setup_seccomp(struct instance *in, const struct options *o)
{
	struct seccomp_policy policy = { 0 };
	char why[512];
	int ret;

	if (o->no_seccomp) {
		log_info(&in->log, "seccomp filters off (--no-seccomp)");
		return;
	}
#ifdef __SANITIZE_ADDRESS__
	/* The sanitizers' runtime makes syscalls of its own, which no allow-list should name. */
	if (!o->seccomp_filter) {
		log_info(&in->log, "seccomp filters off: a sanitizer build");
		return;
	}
#endif
	/*
	 * Files some libraries open at first use, which no filter allows: jansson seeds its
	 * hash tables from /dev/urandom, and glibc reads /proc/sys/vm/overcommit_memory the
	 * first time it shrinks a thread's arena. So: the seed now, and one arena for every
	 * thread (they allocate little; the main arena shrinks with brk alone).
	 */
	json_object_seed(0);
	mallopt(M_ARENA_MAX, 1);
	if (o->seccomp_filter &&
	    seccomp_policy_load(o->seccomp_filter, &policy, why, sizeof(why)))
		bad_arg("--seccomp-filter %s: %s", o->seccomp_filter, why);
	if (!o->seccomp_filter)
		seccomp_policy_builtin(&policy);
	ret = seccomp_filters_build(&in->seccomp, &policy, o->seccomp_filter != NULL, why,
				    sizeof(why));
	seccomp_policy_free(&policy);
	if (ret && o->seccomp_filter)
		bad_arg("--seccomp-filter %s: %s", o->seccomp_filter, why);
	if (ret)
		die("the built-in seccomp policy: %s", why);
	if (seccomp_signal_setup())
		die("cannot install the SIGSYS handler");
}

int main(int argc, char **argv)
{
	uint64_t start_us = now_us();
	struct options o = { .max_payload = API_DEFAULT_MAX_PAYLOAD,
			     .mmds_limit = MMDS_DEFAULT_LIMIT,
			     .level = LOG_WARN };
	struct vm_config cfg;
	struct instance in;
	char why[512];
	bool boot_now;
	int status;

	vm_config_init(&cfg);
	parse_args(argc, argv, &cfg, &o);
	/* Before the first thread: they all inherit it. */
	if (o.cpus && cpus_restrict(o.cpus, why, sizeof(why)))
		bad_arg("--cpus %s: %s", o.cpus, why);
	boot_now = cfg.kernel_path != NULL || cfg.restore.set;
	if (o.start_time_set && o.start_time_us > start_us)
		bad_arg("--start-time-us %llu: later than now (%llu), so not this boot's monotonic "
			"clock", (unsigned long long)o.start_time_us, (unsigned long long)start_us);
	if (o.start_time_set)
		start_us = o.start_time_us;
	instance_init(&in, o.id, &cfg, start_us);
	in.start_cpu_us = o.start_cpu_us;
	in.parent_cpu_us = o.parent_cpu_us;
	in.cfg.realtime = o.realtime; /* after instance_init: not part of a config file */
	log_set_level(&in.log, o.level);
	in.mmds.limit = o.mmds_limit;
	if (o.metadata)
		load_metadata(&in, o.metadata);
	if (o.log_path || in.cfg.logger.set) {
		const struct logger_config *l = &in.cfg.logger;
		int ret = o.log_path ? log_open(&in.log, o.log_path, o.level, o.show_level,
						o.show_origin, in.id)
				     : log_open(&in.log, l->path, l->level, l->show_level,
						l->show_origin, in.id);

		if (ret)
			bad_arg("cannot open the log file %s: %s", o.log_path ?: l->path,
				strerror(-ret));
	}
	/* A reader that went away must not kill the VMM; writes just fail. */
	signal(SIGPIPE, SIG_IGN);
	if (vcpu_signal_setup())
		die("cannot install the vCPU kick handler");
	arch_host_check(&in.log);
	setup_seccomp(&in, &o);
	if (o.console_sock && instance_open_console(&in, o.console_sock, why, sizeof(why))) {
		fprintf(stderr, "ember: --console-sock %s: %s\n", o.console_sock, why);
		instance_destroy(&in);
		return 1;
	}
	if (o.api_sock && instance_open_api(&in, o.api_sock, o.max_payload, why, sizeof(why))) {
		fprintf(stderr, "ember: --api-sock %s: %s\n", o.api_sock, why);
		status = 1;
		goto out;
	}
	if (o.api_sock)
		log_info(&in.log, "API socket accepting: process CPU %llu us",
			 (unsigned long long)cpu_us());
	status = instance_run(&in, boot_now);
out:
	instance_destroy(&in);
	if (o.console_sock)
		unlink(o.console_sock);
	return status;
}
