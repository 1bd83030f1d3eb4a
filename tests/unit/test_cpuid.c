/* CPUID normalization: APIC IDs, topology, hypervisor signature. */
#include "arch/arch.h"
#include "arch/x86_64/cpu.h"
#include "unit.h"

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned int nr, uint32_t fn,
				     uint32_t index)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (e[i].function == fn && e[i].index == index)
			return &e[i];
	return NULL;
}

static void test_cpuid_per_vcpu(void **state)
{
	struct kvm_cpuid_entry2 e[8] = {
		{ .function = 1, .ebx = 0x00000800, .ecx = 0, .edx = 0 },
		{ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0x40000000, .eax = 0x40000001 },
		{ .function = 0x80000008, .ecx = 0x7001 },
	};
	unsigned int nr = 4;
	struct kvm_cpuid_entry2 *l1, *b0, *b1, *b2, *sig;

	(void)state;
	x86_cpuid_normalize(e, &nr, 8, 3, 4);
	assert_int_equal(nr, 6); /* leaf 0xb subleaves 1 and 2 added */
	l1 = find(e, nr, 1, 0);
	assert_int_equal(l1->ebx >> 24, 3);		/* initial APIC ID */
	assert_int_equal((l1->ebx >> 16) & 0xff, 4);	/* logical processors */
	assert_int_equal(l1->ebx & 0xffff, 0x0800);	/* CLFLUSH size kept */
	assert_true(l1->ecx & (1U << 31));		/* hypervisor present */
	assert_true(l1->edx & (1U << 28));		/* HTT: more than one logical CPU */
	b0 = find(e, nr, 0xb, 0);
	b1 = find(e, nr, 0xb, 1);
	b2 = find(e, nr, 0xb, 2);
	assert_non_null(b1);
	assert_non_null(b2);
	assert_int_equal(b0->edx, 3);
	assert_int_equal(b0->ebx, 1);
	assert_int_equal((b0->ecx >> 8) & 0xff, 1); /* SMT level */
	assert_int_equal(b1->eax, 2);		    /* 4 cores: 2 bits of APIC ID */
	assert_int_equal(b1->ebx, 4);
	assert_int_equal((b1->ecx >> 8) & 0xff, 2); /* core level */
	assert_int_equal((b2->ecx >> 8) & 0xff, 0); /* end of the list */
	sig = find(e, nr, 0x40000000, 0);
	assert_memory_equal(&sig->ebx, "KVMK", 4);
	assert_memory_equal(&sig->ecx, "VMKV", 4);
	assert_memory_equal(&sig->edx, "M\0\0\0", 4);
	assert_int_equal(find(e, nr, 0x80000008, 0)->ecx & 0xff, 3);
}

static void test_cpuid_single(void **state)
{
	struct kvm_cpuid_entry2 e[2] = { { .function = 1, .edx = 0 } };
	unsigned int nr = 1;

	(void)state;
	x86_cpuid_normalize(e, &nr, 2, 0, 1);
	assert_int_equal(nr, 1); /* no leaf 0xb: nothing added */
	assert_int_equal(e[0].ebx >> 24, 0);
	assert_false(e[0].edx & (1U << 28));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpuid_per_vcpu),
		cmocka_unit_test(test_cpuid_single),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
