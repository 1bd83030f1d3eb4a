#include <string.h>

#include "acpi_sleep.h"

#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK  0x7
#define SLP_EN	      (1u << 5)

static void acpi_sleep_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	(void)opaque;
	(void)off;
	/* Status: WAK_STS (bit 7) never sets, as the VM never wakes from a sleep state. */
	memset(data, 0, len);
}

static void acpi_sleep_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	const struct acpi_sleep *s = opaque;
	uint8_t v = *(const uint8_t *)data, type = (v >> SLP_TYP_SHIFT) & SLP_TYP_MASK;

	(void)len;
	/* Status writes clear WAK_STS, which is never set; SLP_TYP alone is not a request. */
	if (off != 0 || !(v & SLP_EN))
		return;
	if (type != s->s5_type) {
		log_warnx(s->log, "guest asked for ACPI sleep type %u; only S5 (type %u) is offered",
			  type, s->s5_type);
		return;
	}
	log_info(s->log, "guest powered off (ACPI S5)");
	s->power_off(s->ctx);
}

const struct bus_dev_ops acpi_sleep_ops = {
	.read = acpi_sleep_read,
	.write = acpi_sleep_write,
};
