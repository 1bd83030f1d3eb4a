/* An interrupt line as a device sees it: the device drives a level, the VM decides delivery. */
#ifndef EMBER_DEVICES_IRQ_H
#define EMBER_DEVICES_IRQ_H

struct irq_line {
	/* Drive line (gsi) to (level) (0 or 1). */
	void (*set)(void *ctx, unsigned int gsi, int level);
	void *ctx;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line->set)
		line->set(line->ctx, line->gsi, level);
}

#endif
