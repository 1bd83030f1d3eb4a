/*
 * A RISC-V Platform-Level Interrupt Controller (sifive,plic-1.0.0), emulated by ember where
 * KVM has no in-kernel irqchip (Linux before 6.5). Each context is one hart's S-mode
 * (the guest's VS-level) external interrupt; ember drives that line with KVM_INTERRUPT.
 *
 * Register map (offsets from the base): source priorities at 4 * source; pending bits at
 * 0x1000; per-context enable bits at 0x2000 + 0x80 * context; per-context threshold at
 * 0x200000 + 0x1000 * context and claim/complete 4 bytes after it.
 */
#ifndef EMBER_DEVICES_PLIC_H
#define EMBER_DEVICES_PLIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/log.h"
#include "../vmm/bus.h"

#define PLIC_NR_SOURCES	  64 /* sources 1..63; source 0 means "none" */
#define PLIC_MAX_CONTEXTS 32
#define PLIC_MAX_PRIORITY 7
#define PLIC_SPAN(nr_contexts) (0x200000ULL + 0x1000ULL * (nr_contexts))

struct plic;

/*
 * Called, under the PLIC's lock, when context (context)'s external interrupt line changes;
 * it must not call back into the PLIC.
 */
typedef void (*plic_line_fn)(void *opaque, unsigned int context, bool level);

/*
 * A PLIC with (nr_contexts) contexts (1..PLIC_MAX_CONTEXTS), logging to (log), or NULL
 * (errno set).
 */
struct plic *plic_create(unsigned int nr_contexts, plic_line_fn line, void *opaque,
			 struct logger *log);
void plic_destroy(struct plic *plic);

/*
 * A device drives source (source) (1..PLIC_NR_SOURCES-1) to (level): a level-triggered
 * request, pending while high and not in service. Any thread.
 */
void plic_set_level(struct plic *plic, unsigned int source, int level);

/*
 * An edge: one request from source (source), as an irqfd write makes. It is pending until
 * claimed; an edge while the source is in service is kept and pends again at completion.
 */
void plic_trigger(struct plic *plic, unsigned int source);

/* The MMIO registers; opaque is the struct plic. 32-bit accesses only, others ignored. */
extern const struct bus_dev_ops plic_ops;

struct snap_writer;
struct snap_cursor;

/*
 * Snapshots, for the arch that owns the PLIC (riscv64, in its own sections): the number of
 * contexts, every source's priority and gateway state (pending, in service, level high,
 * edge waiting) and every context's enables and threshold, as fields of a section the
 * caller opened. Restore reads them into a PLIC just created with as many contexts,
 * checked as untrusted (a bit for source 0, a priority or threshold past the maximum, a
 * source both pending and in service, an edge waiting on a source not in service: the
 * cursor marked bad, -EINVAL with why, (plic) unchanged), then drives every context's line
 * to the level the state calls for, whatever it was.
 */
void plic_save(struct plic *plic, struct snap_writer *w);
int plic_restore(struct plic *plic, struct snap_cursor *c, char *why, size_t why_len);

#endif
