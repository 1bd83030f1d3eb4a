/* ember: a microVM monitor. main() parses the command line, builds one VM and runs it. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arch/arch.h"
#include "config/config_file.h"
#include "util/log.h"
#include "util/util.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define EMBER_VERSION	 "0.1.0"
#define EXIT_BAD_ARGS	 2
#define DEFAULT_MEM_MIB	 128

static const char usage[] =
	"usage: ember --kernel PATH [options]\n"
	"       ember --config-file FILE [--no-api] [--level L]\n"
	"\n"
	"  --kernel PATH          guest kernel: ELF vmlinux, bzImage, or a PVH ELF\n"
	"  --initrd PATH          initial ramdisk\n"
	"  --boot-args STR        kernel command line (default: serial console on ttyS0)\n"
	"  --vcpus N              number of vCPUs, 1-32 (default 1)\n"
	"  --memory MIB           guest RAM in MiB (default 128)\n"
	"  --boot-timer           log the time until the guest writes 123 to the boot timer\n"
	"  --boot-protocol P      auto (default), linux or pvh\n"
	"  --rng[=LIMITS]         add a virtio-rng device fed by the host's getrandom();\n"
	"                         LIMITS: bw=SIZE:REFILL_MS[:BURST],ops=SIZE:REFILL_MS[:BURST]\n"
	"  --disk PATH[,ro][,id=SERIAL][,cache=unsafe|writeback][,bw=B][,ops=B]\n"
	"                         add a virtio-blk disk on a raw image or block device (up\n"
	"                         to 8; the guest names them vda, vdb... in this order).\n"
	"                         id= is the serial (20 bytes at most); cache=unsafe (the\n"
	"                         default) ignores guest flushes, writeback honours them\n"
	"  --net TAP[,mac=MAC][,rx_bw=B][,rx_ops=B][,tx_bw=B][,tx_ops=B]\n"
	"                         add a virtio-net device on host TAP interface TAP (up to 4);\n"
	"                         B: a token bucket SIZE:REFILL_MS[:BURST]\n"
	"  --balloon MIB[,deflate_on_oom][,stats=SECONDS]\n"
	"                         add a virtio-balloon asking the guest to give back MIB\n"
	"  --vsock CID,UDS_PATH   add a virtio-vsock with guest CID (>= 3); host programs\n"
	"                         reach guest port P by connecting to UDS_PATH and sending\n"
	"                         \"CONNECT P\\n\"; guest connections to host port P go to\n"
	"                         UDS_PATH_P\n"
	"  --config-file FILE     take the whole VM from Firecracker's config-file JSON\n"
	"                         (boot-source, machine-config, drives, network-interfaces,\n"
	"                         vsock, balloon, entropy); no device or machine options\n"
	"                         may be given with it\n"
	"  --no-api               accepted for Firecracker compatibility: ember has no API\n"
	"                         server yet, so the config file is the whole configuration\n"
	"  --level L              log level: error, warn (default), info, debug\n"
	"  --version              print the version and exit\n"
	"  --help                 print this help and exit\n"
	"\n"
	"Guest serial output goes to stdout, its input comes from stdin. ember exits 0 when\n"
	"the guest resets or powers off, and non-zero with a message on any error.\n";

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_BOOT_ARGS,
	OPT_VCPUS,
	OPT_MEMORY,
	OPT_BOOT_TIMER,
	OPT_BOOT_PROTOCOL,
	OPT_LEVEL,
	OPT_RNG,
	OPT_DISK,
	OPT_NET,
	OPT_BALLOON,
	OPT_VSOCK,
	OPT_CONFIG_FILE,
	OPT_NO_API,
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
	{ "boot-protocol", required_argument, NULL, OPT_BOOT_PROTOCOL },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "rng", optional_argument, NULL, OPT_RNG },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "no-api", no_argument, NULL, OPT_NO_API },
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

static int parse_level(const char *s, enum log_level *level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(s, names[i]) || (i == LOG_WARN && !strcasecmp(s, "warning"))) {
			*level = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
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

static void parse_args(int argc, char **argv, struct vm_config *cfg)
{
	const char *config_file = NULL, *vm_option = NULL;
	enum log_level level;
	char why[256];
	uint64_t v;
	int opt, idx;

	while ((opt = getopt_long(argc, argv, "", long_options, &idx)) != -1) {
		/* The config file describes the whole VM; a second source would have to merge. */
		if (in_config_file(opt) && !vm_option)
			vm_option = long_options[idx].name;
		switch (opt) {
		case OPT_CONFIG_FILE:
			config_file = optarg;
			break;
		case OPT_NO_API:
			break;
		case OPT_KERNEL:
			cfg->kernel_path = optarg;
			break;
		case OPT_INITRD:
			cfg->initrd_path = optarg;
			break;
		case OPT_BOOT_ARGS:
			cfg->boot_args = optarg;
			break;
		case OPT_VCPUS:
			if (parse_uint(optarg, 1, ARCH_MAX_VCPUS, &v))
				bad_arg("--vcpus %s: must be a number from 1 to %u", optarg,
					ARCH_MAX_VCPUS);
			cfg->vcpus = v;
			break;
		case OPT_MEMORY:
			if (parse_uint(optarg, 2, VM_MAX_MEM_MIB, &v))
				bad_arg("--memory %s: must be a number of MiB from 2 to %u", optarg,
					VM_MAX_MEM_MIB);
			cfg->mem_mib = v;
			break;
		case OPT_BOOT_TIMER:
			cfg->boot_timer = true;
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
		case OPT_RNG:
			if (optarg && throttle_config_parse(optarg, &cfg->rng_limit))
				bad_arg("--rng=%s: expected bw=SIZE:REFILL_MS[:BURST],"
					"ops=SIZE:REFILL_MS[:BURST]", optarg);
			cfg->rng = true;
			break;
		case OPT_DISK:
			if (cfg->nr_disks >= VM_MAX_DISKS)
				bad_arg("--disk %s: at most %u disks", optarg, VM_MAX_DISKS);
			if (blk_parse_option(optarg, &cfg->disks[cfg->nr_disks], why, sizeof(why)))
				bad_arg("--disk %s: %s", optarg, why);
			cfg->nr_disks++;
			break;
		case OPT_NET:
			if (cfg->nr_nets == VM_MAX_NETS)
				bad_arg("--net: at most %u network devices", VM_MAX_NETS);
			if (net_config_parse(optarg, &cfg->nets[cfg->nr_nets]))
				bad_arg("--net %s: expected TAP[,mac=AA:BB:CC:DD:EE:FF] (a unicast MAC, "
					"a name under 16 characters)",
					optarg);
			cfg->nr_nets++;
			break;
		case OPT_BALLOON:
			if (balloon_config_parse(optarg, &cfg->balloon_cfg))
				bad_arg("--balloon %s: expected MIB[,deflate_on_oom][,stats=SECONDS]",
					optarg);
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
		case OPT_LEVEL:
			if (parse_level(optarg, &level))
				bad_arg("--level %s: must be error, warn, info or debug", optarg);
			log_max_level = level;
			break;
		case OPT_VERSION:
			printf("ember v%s (%s)\n", EMBER_VERSION, ARCH_NAME);
			exit(0);
		case OPT_HELP:
			fputs(usage, stdout);
			exit(0);
		default:
			bad_arg("unknown or incomplete option");
		}
	}
	if (optind < argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	if (config_file && vm_option)
		bad_arg("--%s cannot be combined with --config-file", vm_option);
	if (config_file && config_file_load(config_file, cfg, why, sizeof(why)))
		bad_arg("--config-file %s: %s", config_file, why);
	if (!cfg->kernel_path)
		bad_arg("--kernel is required");
}

int main(int argc, char **argv)
{
	uint64_t start_us = now_us();
	struct vm_config cfg = {
		.vcpus = 1,
		.mem_mib = DEFAULT_MEM_MIB,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
	};
	struct vm vm;
	int status;

	parse_args(argc, argv, &cfg);
	/* A reader that went away must not kill the VMM; writes just fail. */
	signal(SIGPIPE, SIG_IGN);
	if (vcpu_signal_setup())
		die("cannot install the vCPU kick handler");
	arch_host_check();
	if (vm_build(&vm, &cfg, start_us)) {
		config_file_free(&cfg);
		return 1;
	}
	status = vm_run(&vm);
	vm_destroy(&vm);
	config_file_free(&cfg);
	return status;
}
