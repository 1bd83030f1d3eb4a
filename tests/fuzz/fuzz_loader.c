/*
 * libFuzzer target: any byte string as a kernel image, through every boot protocol, into a
 * small guest memory. The loaders must refuse or load, never read or write out of bounds.
 */
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "util/log.h"
#include "vmm/memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum boot_protocol protos[] = { BOOT_PROTO_AUTO, BOOT_PROTO_LINUX,
						     BOOT_PROTO_PVH };
	struct mem_region layout[GUEST_MEM_MAX_REGIONS];
	struct guest_mem mem;
	struct boot_info bi;
	struct logger log;
	char why[256];
	unsigned int nr, i;

	if (arch_mem_layout(32 << 20, layout, &nr) || guest_mem_init(&mem, layout, nr))
		return 0;
	logger_init(&log);
	log_set_level(&log, LOG_ERROR); /* a fuzzer's images are no news */
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		arch_kernel_load(&mem, data, size, protos[i], &bi, &log, why, sizeof(why));
	logger_destroy(&log);
	guest_mem_destroy(&mem);
	return 0;
}
