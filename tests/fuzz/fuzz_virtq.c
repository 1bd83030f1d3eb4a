/*
 * libFuzzer target: the fuzzer's bytes are a guest's memory, rings included; the
 * virtqueue walker pops, copies and pushes until the ring is empty or refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "virtio/queue.h"

#define FUZZ_RAM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_region layout = { .gpa = 0, .size = FUZZ_RAM };
	struct guest_mem mem;
	struct virtq q;
	struct virtq_elem *elem;
	uint8_t scratch[64];
	int i;

	if (size < 8 || guest_mem_init(&mem, &layout, 1))
		return 0;
	memcpy(mem.regions[0].hva, data + 8, size - 8 < FUZZ_RAM ? size - 8 : FUZZ_RAM);
	memset(&q, 0, sizeof(q));
	/* The first bytes choose the queue's shape. */
	q.size = 1u << (data[0] % 9);
	q.desc_gpa = (data[1] << 8) & (FUZZ_RAM - 1);
	q.avail_gpa = (data[2] << 8) & (FUZZ_RAM - 1);
	q.used_gpa = (data[3] << 8) & (FUZZ_RAM - 1);
	q.indirect = data[4] & 1;
	q.event_idx = data[4] & 2;
	elem = malloc(sizeof(*elem));
	if (elem && !virtq_enable(&q, &mem)) {
		for (i = 0; i < 64 && virtq_pop(&q, elem) > 0; i++) {
			virtq_elem_read(elem, data[5], scratch, sizeof(scratch));
			virtq_elem_write(elem, data[6], scratch, sizeof(scratch));
			virtq_push(&q, elem, data[7]);
			virtq_should_notify(&q);
		}
	}
	free(elem);
	guest_mem_destroy(&mem);
	return 0;
}
