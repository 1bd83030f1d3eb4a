/*
 * KVM's AIA device. The order is KVM's: create it before any vCPU runs; then, with every
 * vCPU created (each IMSIC address belongs to one), set the number of sources, the hart
 * bits, the APLIC and IMSIC addresses, and CTRL_INIT.
 *
 * Device interrupts do not use KVM's irqfds here: on riscv an irqfd write raises its APLIC
 * input and nothing lowers it again, so a rising-edge source would interrupt only once and
 * a level one would never stop. ember reads the irqfds in its event loop and pulses the
 * line with KVM_IRQ_LINE instead.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "aia.h"
#include "snapshot_format.h"
#include "../arch.h"
#include "../../snapshot/stream.h"
#include "../../util/log.h"
#include "../../vmm/vm.h"

/* Linux 6.5's uapi; Debian 12's cross headers are 6.1's and predate it. */
#ifndef KVM_DEV_RISCV_AIA_GRP_CONFIG
#define KVM_DEV_TYPE_RISCV_AIA		    11
#define KVM_DEV_RISCV_AIA_GRP_CONFIG	    0
#define KVM_DEV_RISCV_AIA_CONFIG_MODE	    0
#define KVM_DEV_RISCV_AIA_CONFIG_IDS	    1
#define KVM_DEV_RISCV_AIA_CONFIG_SRCS	    2
#define KVM_DEV_RISCV_AIA_CONFIG_HART_BITS  5
#define KVM_DEV_RISCV_AIA_GRP_ADDR	    1
#define KVM_DEV_RISCV_AIA_ADDR_APLIC	    0
#define KVM_DEV_RISCV_AIA_ADDR_IMSIC(vcpu)  (1 + (vcpu))
#define KVM_DEV_RISCV_AIA_GRP_CTRL	    2
#define KVM_DEV_RISCV_AIA_CTRL_INIT	    0
#endif
/* Linux 6.5's too: the registers, for snapshots. */
#ifndef KVM_DEV_RISCV_AIA_GRP_APLIC
#define KVM_DEV_RISCV_AIA_GRP_APLIC	    3
#define KVM_DEV_RISCV_AIA_GRP_IMSIC	    4
#define KVM_DEV_RISCV_AIA_IMSIC_ISEL_BITS   12
#endif

static int aia_attr(struct vm *vm, unsigned long req, uint32_t group, uint64_t attr, void *val)
{
	struct kvm_device_attr a = {
		.group = group,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)val,
	};

	return ioctl(vm->arch.aia_fd, req, &a) < 0 ? -errno : 0;
}

static int aia_set(struct vm *vm, uint32_t group, uint64_t attr, void *val, const char *what)
{
	int ret = aia_attr(vm, KVM_SET_DEVICE_ATTR, group, attr, val);

	if (ret)
		log_err(vm->log, "AIA: setting %s: %s", what, strerror(-ret));
	return ret;
}

static void aia_line_set(void *opaque, unsigned int line, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = line, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn(vm->log, "AIA: KVM_IRQ_LINE %u", line);
}

/* An edge for an irqfd write: up, then down, so that the next write is an edge too. */
static void aia_line_trigger(void *opaque, unsigned int line)
{
	aia_line_set(opaque, line, 1);
	aia_line_set(opaque, line, 0);
}

static const struct irq_lines_ops aia_lines_ops = {
	.set_level = aia_line_set,
	.trigger = aia_line_trigger,
};

int aia_create(struct vm *vm)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_RISCV_AIA };
	uint32_t nr_ids;
	int ret;

	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		ret = -errno;
		/* Older KVM knows no such device type; a host without Ssaia refuses it. */
		if (ret == -ENODEV || ret == -ENXIO || ret == -EINVAL)
			return -ENODEV;
		log_err(vm->log, "AIA: KVM_CREATE_DEVICE: %s", strerror(-ret));
		return ret;
	}
	vm->arch.aia_fd = dev.fd;
	ret = aia_attr(vm, KVM_GET_DEVICE_ATTR, KVM_DEV_RISCV_AIA_GRP_CONFIG,
		       KVM_DEV_RISCV_AIA_CONFIG_IDS, &nr_ids);
	if (ret) {
		log_err(vm->log, "AIA: reading the number of IMSIC identities: %s", strerror(-ret));
		close(dev.fd);
		return ret;
	}
	vm->arch.aia_nr_ids = nr_ids;
	vm->arch.irqchip = RISCV_IRQCHIP_AIA;
	/* KVM's irqfds only ever raise an APLIC input: ember pulses the lines itself. */
	vm->plumbing.irq_lines = &aia_lines_ops;
	vm->plumbing.irq_lines_opaque = vm;
	return 0;
}

int aia_finalize(struct vm *vm)
{
	uint32_t nr_sources = RISCV_NR_IRQS - 1, hart_bits = riscv_hart_bits(vm->nr_vcpus);
	uint64_t addr = RISCV_APLIC_ADDR;
	unsigned int i;
	int ret;

	ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS,
		      &nr_sources, "the number of sources");
	if (!ret)
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_HART_BITS,
			      &hart_bits, "the hart index bits");
	if (!ret)
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC, &addr,
			      "the APLIC address");
	for (i = 0; !ret && i < vm->nr_vcpus; i++) {
		addr = RISCV_IMSIC_ADDR + i * RISCV_IMSIC_PAGE;
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(i),
			      &addr, "an IMSIC address");
	}
	if (!ret)
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, NULL,
			      "CTRL_INIT");
	return ret;
}

void aia_destroy(struct vm *vm)
{
	if (vm->arch.irqchip == RISCV_IRQCHIP_AIA)
		close(vm->arch.aia_fd);
}

/* --- snapshots: the APLIC's registers and each hart's IMSIC file --- */

/* APLIC register offsets (the AIA specification's), KVM's GRP_APLIC attributes. */
#define APLIC_DOMAINCFG	     0x0000
#define APLIC_SOURCECFG(src) (0x0004 + 4 * ((src) - 1))
#define APLIC_SETIP(word)    (0x1c00 + 4 * (word))
#define APLIC_IN_CLRIP(word) (0x1d00 + 4 * (word)) /* read: input levels; write: clear pending */
#define APLIC_SETIE(word)    (0x1e00 + 4 * (word))
#define APLIC_TARGET(src)    (0x3004 + 4 * ((src) - 1))
#define APLIC_SM_EDGE_FALL   5
#define APLIC_SM_LEVEL_LOW   7
/* IMSIC iselect values; a 64-bit hart has only the even eip and eie registers. */
#define IMSIC_EIDELIVERY     0x70
#define IMSIC_EITHRESHOLD    0x72
#define IMSIC_EIP(eix)	     (0x80 + 2 * (eix))
#define IMSIC_EIE(eix)	     (0xc0 + 2 * (eix))
#define IMSIC_ATTR(hart, isel) ((uint64_t)(hart) << KVM_DEV_RISCV_AIA_IMSIC_ISEL_BITS | (isel))

static int aplic_get(struct vm *vm, uint64_t off, uint32_t *val)
{
	return aia_attr(vm, KVM_GET_DEVICE_ATTR, KVM_DEV_RISCV_AIA_GRP_APLIC, off, val);
}

static int aplic_set(struct vm *vm, uint64_t off, uint32_t val)
{
	return aia_attr(vm, KVM_SET_DEVICE_ATTR, KVM_DEV_RISCV_AIA_GRP_APLIC, off, &val);
}

static int imsic_get(struct vm *vm, unsigned int hart, unsigned int isel, uint64_t *val)
{
	unsigned long v = 0;
	int ret = aia_attr(vm, KVM_GET_DEVICE_ATTR, KVM_DEV_RISCV_AIA_GRP_IMSIC,
			   IMSIC_ATTR(hart, isel), &v);

	*val = v;
	return ret;
}

static int imsic_set(struct vm *vm, unsigned int hart, unsigned int isel, uint64_t val)
{
	unsigned long v = val;

	return aia_attr(vm, KVM_SET_DEVICE_ATTR, KVM_DEV_RISCV_AIA_GRP_IMSIC,
			IMSIC_ATTR(hart, isel), &v);
}

/* The level a source's wire has, from the rectified one the APLIC reports. */
static bool aplic_wire_level(uint32_t sourcecfg, bool rectified)
{
	uint32_t sm = sourcecfg & 7;

	return rectified ^ (sm == APLIC_SM_EDGE_FALL || sm == APLIC_SM_LEVEL_LOW);
}

int aia_snapshot_check(struct vm *vm, char *why, size_t why_len)
{
	struct kvm_device_attr aplic = { .group = KVM_DEV_RISCV_AIA_GRP_APLIC,
					 .attr = APLIC_DOMAINCFG };
	struct kvm_device_attr imsic = { .group = KVM_DEV_RISCV_AIA_GRP_IMSIC,
					 .attr = IMSIC_ATTR(0, IMSIC_EIDELIVERY) };

	if (ioctl(vm->arch.aia_fd, KVM_HAS_DEVICE_ATTR, &aplic) < 0 ||
	    ioctl(vm->arch.aia_fd, KVM_HAS_DEVICE_ATTR, &imsic) < 0) {
		snprintf(why, why_len,
			 "this KVM's in-kernel AIA does not let its state be read (no "
			 "KVM_DEV_RISCV_AIA_GRP_APLIC and GRP_IMSIC attributes: %s), so the "
			 "guest's pending and enabled interrupts would be lost; a VM started with "
			 "--irqchip plic can be snapshotted",
			 strerror(errno));
		return -EOPNOTSUPP;
	}
	return 0;
}

static int aia_save_imsic(struct vm *vm, unsigned int hart, uint32_t nr_ids,
			  struct snap_writer *w)
{
	unsigned int i;
	uint64_t v[2] = { 0, 0 };
	int ret;

	ret = imsic_get(vm, hart, IMSIC_EIDELIVERY, &v[0]);
	if (!ret)
		ret = imsic_get(vm, hart, IMSIC_EITHRESHOLD, &v[1]);
	snap_put_u64(w, v[0]);
	snap_put_u64(w, v[1]);
	for (i = 0; !ret && i < riscv_aia_nr_eix(nr_ids); i++) {
		ret = imsic_get(vm, hart, IMSIC_EIP(i), &v[0]);
		if (!ret)
			ret = imsic_get(vm, hart, IMSIC_EIE(i), &v[1]);
		snap_put_u64(w, v[0]);
		snap_put_u64(w, v[1]);
	}
	return ret;
}

int aia_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len)
{
	uint32_t nr_sources = 0, v[3] = { 0, 0, 0 };
	unsigned int i;
	const char *what = "the number of sources";
	int ret;

	ret = aia_attr(vm, KVM_GET_DEVICE_ATTR, KVM_DEV_RISCV_AIA_GRP_CONFIG,
		       KVM_DEV_RISCV_AIA_CONFIG_SRCS, &nr_sources);
	if (!ret && nr_sources != RISCV_SNAP_AIA_SOURCES)
		ret = -ERANGE;
	snap_begin(w, RISCV_TAG_AIA, 0);
	snap_put_u32(w, nr_sources);
	snap_put_u32(w, vm->arch.aia_nr_ids);
	snap_put_u32(w, vm->nr_vcpus);
	if (!ret) {
		what = "an APLIC register";
		ret = aplic_get(vm, APLIC_DOMAINCFG, &v[0]);
		snap_put_u32(w, v[0]);
	}
	for (i = 1; !ret && i <= RISCV_SNAP_AIA_SOURCES; i++) {
		ret = aplic_get(vm, APLIC_SOURCECFG(i), &v[0]);
		if (!ret)
			ret = aplic_get(vm, APLIC_TARGET(i), &v[1]);
		snap_put_u32(w, v[0]);
		snap_put_u32(w, v[1]);
	}
	for (i = 0; !ret && i < RISCV_AIA_WORDS; i++) {
		ret = aplic_get(vm, APLIC_SETIP(i), &v[0]);
		if (!ret)
			ret = aplic_get(vm, APLIC_SETIE(i), &v[1]);
		if (!ret)
			ret = aplic_get(vm, APLIC_IN_CLRIP(i), &v[2]);
		snap_put_u32(w, v[0]);
		snap_put_u32(w, v[1]);
		snap_put_u32(w, v[2]);
	}
	for (i = 0; !ret && i < vm->nr_vcpus; i++) {
		what = "an IMSIC register";
		ret = aia_save_imsic(vm, i, vm->arch.aia_nr_ids, w);
	}
	snap_end(w);
	if (ret)
		snprintf(why, why_len, "the AIA: reading %s: %s", what, strerror(-ret));
	return ret;
}

/* Each hart's interrupt file: delivery, threshold, enabled and pending identities. */
static int aia_restore_imsic(struct vm *vm, unsigned int hart, uint32_t nr_ids,
			     const struct riscv_imsic_state *m)
{
	unsigned int i;
	int ret;

	ret = imsic_set(vm, hart, IMSIC_EIDELIVERY, m->eidelivery);
	if (!ret)
		ret = imsic_set(vm, hart, IMSIC_EITHRESHOLD, m->eithreshold);
	for (i = 0; !ret && i < riscv_aia_nr_eix(nr_ids); i++) {
		ret = imsic_set(vm, hart, IMSIC_EIE(i), m->eie[i]);
		if (!ret)
			ret = imsic_set(vm, hart, IMSIC_EIP(i), m->eip[i]);
	}
	return ret;
}

/*
 * The APLIC of a VM that has not run: interrupts are off (domaincfg.IE clear), so nothing
 * it is given here goes out as an MSI until domaincfg, last. The input levels come through
 * KVM_IRQ_LINE, which may mark sources pending: the pending bits are cleared and set after.
 */
static int aia_restore_aplic(struct vm *vm, const struct riscv_aia_state *s)
{
	unsigned int i;
	int ret = 0;

	for (i = 1; !ret && i <= RISCV_SNAP_AIA_SOURCES; i++) {
		ret = aplic_set(vm, APLIC_SOURCECFG(i), s->sourcecfg[i]);
		if (!ret)
			ret = aplic_set(vm, APLIC_TARGET(i), s->target[i]);
	}
	for (i = 1; !ret && i <= RISCV_SNAP_AIA_SOURCES; i++) {
		struct kvm_irq_level line = { .irq = i, .level = 1 };

		if (aplic_wire_level(s->sourcecfg[i], s->input[i / 32] >> (i % 32) & 1) &&
		    ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) < 0)
			ret = -errno;
	}
	for (i = 0; !ret && i < RISCV_AIA_WORDS; i++) {
		ret = aplic_set(vm, APLIC_IN_CLRIP(i), 0xffffffffu);
		if (!ret)
			ret = aplic_set(vm, APLIC_SETIP(i), s->pending[i]);
		if (!ret)
			ret = aplic_set(vm, APLIC_SETIE(i), s->enabled[i]);
	}
	if (!ret)
		ret = aplic_set(vm, APLIC_DOMAINCFG, s->domaincfg);
	return ret;
}

int aia_restore(struct vm *vm, const struct riscv_aia_state *s, char *why, size_t why_len)
{
	unsigned int i;
	int ret = 0;

	if (s->nr_ids != vm->arch.aia_nr_ids) {
		snprintf(why, why_len,
			 "the AIA: the snapshot's IMSICs have %u identities, this KVM's %u",
			 s->nr_ids, vm->arch.aia_nr_ids);
		return -EINVAL;
	}
	for (i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = aia_restore_imsic(vm, i, s->nr_ids, &s->imsic[i]);
	if (ret) {
		snprintf(why, why_len, "the AIA: hart %u's IMSIC: %s", i - 1, strerror(-ret));
		return ret;
	}
	ret = aia_restore_aplic(vm, s);
	if (ret)
		snprintf(why, why_len, "the AIA: the APLIC: %s", strerror(-ret));
	return ret;
}
