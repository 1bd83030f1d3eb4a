/*
 * libFuzzer target: the fuzzer's bytes are a snapshot state file, checked as PUT
 * /snapshot/load checks one before anything is built: the header and section table, the
 * configuration inside, the machine description, the arch's KVM state. Each input is tried
 * as it is and again with its length and CRC64 made right, so the fuzzer explores what
 * lies behind the checksum too. Nothing may read past the input or crash; a refusal must
 * leave nothing owned.
 */
#include <lzma.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/vm_config.h"
#include "machine/snapshot.h"
#include "util/util.h"

static void try_load(const uint8_t *data, size_t size)
{
	struct machine_snapshot *s = calloc(1, sizeof(*s));
	struct vm_config cfg;
	char why[512];

	if (!s)
		return;
	s->buf = (void *)data;
	s->len = size;
	if (!snap_parse(&s->file, data, size, ARCH_ELF_MACHINE, why, sizeof(why))) {
		vm_config_init(&cfg);
		if (!machine_snapshot_config(s, &cfg, why, sizeof(why)))
			machine_snapshot_check(s, &cfg, why, sizeof(why));
		vm_config_free(&cfg);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	try_load(data, size);
	if (size < SNAP_HEADER_SIZE + 8)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memcpy(copy, SNAP_MAGIC, 8);
	put_le32(copy + 8, SNAP_FORMAT_VERSION);
	put_le32(copy + 12, ARCH_ELF_MACHINE);
	put_le64(copy + 32, size);
	put_le64(copy + size - 8, lzma_crc64(copy, size - 8, 0));
	try_load(copy, size);
	free(copy);
	return 0;
}
