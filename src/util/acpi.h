/*
 * An ACPI table writer (ACPI 6.5, chapters 5 and 19): system description tables with their
 * headers and checksums, and the few AML terms a DSDT of fixed devices needs (scopes,
 * devices, named integers, strings, EISA ids, packages and resource templates).
 * Everything is appended to one growing buffer, so one writer can hold every table of a
 * machine and the tables can point at each other by offset. Errors stick: the first
 * failure is kept in (error) and every later call does nothing.
 */
#ifndef EMBER_UTIL_ACPI_H
#define EMBER_UTIL_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_DEPTH	   8 /* open AML package lengths (scope, device, buffer...) */
#define ACPI_HEADER_LEN	   36
#define ACPI_RSDP_LEN	   36
#define ACPI_GAS_LEN	   12
#define ACPI_OEM_ID	   "EMBER "   /* 6 bytes, in every header */
#define ACPI_CREATOR_ID	   "EMBR"
#define ACPI_GAS_SYSTEM_IO 1

struct acpi_writer {
	uint8_t *data;
	size_t len, cap;
	size_t max; /* the most bytes the tables may take */
	size_t open[ACPI_MAX_DEPTH];
	unsigned int depth;
	int error; /* the first -errno, or 0 */
};

/* An empty writer whose output may grow to (max) bytes (-E2BIG past it). */
void acpiw_init(struct acpi_writer *w, size_t max);
void acpiw_free(struct acpi_writer *w);

/* Keep (err) as the writer's error unless one is kept already. */
void acpiw_fail(struct acpi_writer *w, int err);

/* Raw little-endian data at the end. */
void acpiw_bytes(struct acpi_writer *w, const void *p, size_t n);
void acpiw_u8(struct acpi_writer *w, uint8_t v);
void acpiw_u16(struct acpi_writer *w, uint16_t v);
void acpiw_u32(struct acpi_writer *w, uint32_t v);
void acpiw_u64(struct acpi_writer *w, uint64_t v);
void acpiw_zeros(struct acpi_writer *w, size_t n);
/* Zero bytes up to the next multiple of (align). */
void acpiw_align(struct acpi_writer *w, size_t align);
/* A pointer to (n) bytes at (off), to patch what was written; NULL after an error. */
uint8_t *acpiw_at(struct acpi_writer *w, size_t off, size_t n);

/*
 * A Generic Address Structure (ACPI_GAS_LEN bytes) at (p), inside a table already laid out:
 * (space) id, register (bit_width), access size (1: byte ... 4: qword), address.
 */
void acpi_gas_put(uint8_t *p, uint8_t space, uint8_t bit_width, uint8_t access_size,
		  uint64_t addr);

/*
 * Open a table: the 36-byte header with signature (sig, 4 chars), (revision) and OEM table
 * id (table_id, up to 8 chars, padded with spaces). Returns its offset, for
 * acpiw_table_end, which writes the length and the checksum once the body is written.
 */
size_t acpiw_table_begin(struct acpi_writer *w, const char *sig, uint8_t revision,
			 const char *table_id);
void acpiw_table_end(struct acpi_writer *w, size_t table);

/*
 * The RSDP (revision 2, 36 bytes) pointing at the XSDT at (xsdt_addr), with both checksums.
 * Written in place at (off), which must hold ACPI_RSDP_LEN reserved bytes.
 */
void acpiw_rsdp(struct acpi_writer *w, size_t off, uint64_t xsdt_addr);

/*
 * AML. A name is a 4-character segment ("_HID", "COM1"), optionally after a root prefix
 * ("\\_SB_"); anything else is -EINVAL.
 *
 * Scope(name) { ... }, Device(name) { ... }: open with _begin, close with aml_end.
 */
void aml_scope_begin(struct acpi_writer *w, const char *name);
void aml_device_begin(struct acpi_writer *w, const char *name);
void aml_end(struct acpi_writer *w);

/* Name(name, value) for an integer, a string, an EISA id ("PNP0501") and a package of ints. */
void aml_name_int(struct acpi_writer *w, const char *name, uint64_t v);
void aml_name_string(struct acpi_writer *w, const char *name, const char *s);
void aml_name_eisaid(struct acpi_writer *w, const char *name, const char *id);
void aml_name_package(struct acpi_writer *w, const char *name, const uint64_t *v, unsigned int n);

/*
 * Name(name, ResourceTemplate() { ... }): open with aml_name_resources_begin, add
 * descriptors, close with aml_resources_end (which adds the end tag).
 */
void aml_name_resources_begin(struct acpi_writer *w, const char *name);
void aml_resources_end(struct acpi_writer *w);
/* IO(Decode16, port, port, 1, len) */
void aml_res_io(struct acpi_writer *w, uint16_t port, uint8_t len);
/* IRQNoFlags() { irq }: an ISA line, edge, active high, exclusive (irq < 16). */
void aml_res_irq_noflags(struct acpi_writer *w, unsigned int irq);
/* Memory32Fixed(ReadWrite or ReadOnly, base, len) */
void aml_res_mem32_fixed(struct acpi_writer *w, bool writable, uint32_t base, uint32_t len);
/* Interrupt(ResourceConsumer, Edge or Level, ActiveHigh or ActiveLow, Exclusive) { gsi } */
void aml_res_interrupt(struct acpi_writer *w, bool edge, bool active_low, uint32_t gsi);

#endif
