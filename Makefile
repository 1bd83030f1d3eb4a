# ember: build, test and demo. See README.md.
ARCH	?= x86_64
STATIC	?= 0
ASAN	?= 0

# ARCH=aarch64 cross-compiles a static arm64 binary with Debian's cross gcc and the arm64
# libraries installed through multiarch (tools/deps.sh).
ifeq ($(ARCH),aarch64)
CROSS	?= aarch64-linux-gnu-
CC	:= $(CROSS)gcc
AR	:= $(CROSS)ar
STATIC	:= 1
CROSS_LIBS := build/cross-aarch64/usr/lib/aarch64-linux-gnu
CROSS_DEPS := $(CROSS_LIBS)/libhttp_parser.a
LDFLAGS	+= -L$(CROSS_LIBS)
endif
# ARCH=riscv64 likewise, with the libraries built from Debian's sources (Debian 12 has no
# riscv64 port to install them from).
ifeq ($(ARCH),riscv64)
CROSS	?= riscv64-linux-gnu-
CC	:= $(CROSS)gcc
AR	:= $(CROSS)ar
STATIC	:= 1
CROSS_LIBS := build/cross-riscv64/lib
# liblzma.a came last: a build dir made before it has the others and is topped up.
CROSS_DEPS := $(CROSS_LIBS)/libjansson.a $(CROSS_LIBS)/libseccomp.a $(CROSS_LIBS)/liblzma.a
CROSS_INC := -Ibuild/cross-riscv64/include
LDFLAGS	+= -L$(CROSS_LIBS)
endif
CC	?= gcc
CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	   -fno-strict-aliasing -MMD -MP -Isrc/arch/$(ARCH) $(CROSS_INC)
LDLIBS	+= -ljansson -lhttp_parser -luring -lseccomp -llzma -lpthread

ifeq ($(ASAN),1)
VARIANT	:= asan
CFLAGS	+= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
LDFLAGS	+= -fsanitize=address,undefined -fno-sanitize-recover=all
EMBER	:= build/ember-asan
else ifneq ($(filter aarch64 riscv64,$(ARCH)),)
VARIANT	:= static
LDFLAGS	+= -static
EMBER	:= build/ember-$(ARCH)
else ifeq ($(STATIC),1)
VARIANT	:= static
LDFLAGS	+= -static
EMBER	:= build/ember-static
else
VARIANT	:= default
# The libraries ember uses are linked in from their Debian archives; only libc stays
# shared. Each shared library costs the dynamic loader ~0.1 ms at every start, which a
# snapshot restore pays (bench/snapshot: exec to socket 2.1 -> 1.7 ms).
LDLIBS	:= -Wl,-Bstatic $(filter-out -lpthread,$(LDLIBS)) -Wl,-Bdynamic -lpthread
EMBER	:= build/ember
endif

OBJDIR	:= build/obj-$(ARCH)-$(VARIANT)
SRCS	:= $(wildcard src/util/*.c src/vmm/*.c src/virtio/*.c src/devices/*.c src/machine/*.c \
	   src/seccomp/*.c src/snapshot/*.c src/mmds/*.c \
	   src/config/*.c src/api/*.c src/arch/$(ARCH)/*.c)
OBJS	:= $(SRCS:%.c=$(OBJDIR)/%.o)
LIB	:= $(OBJDIR)/libember.a

# emberctl: its own program, built like ember (same variant and ARCH) and linked with
# libember.a for ember's config parser; build/emberctl next to build/ember,
# build/emberctl-asan next to build/ember-asan, and so on.
CTL	:= $(EMBER:build/ember%=build/emberctl%)
CTL_OBJS := $(patsubst %.c,$(OBJDIR)/%.o,$(wildcard src/ctl/*.c))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(OBJDIR)/tests/%)

# ember-jailer: its own program, linked with libc alone and statically (like Firecracker's
# jailer), built with its own flags whatever the variant: the sanitizers are for ember.
ifeq ($(ARCH),x86_64)
JAILER	:= build/ember-jailer
else
JAILER	:= build/ember-jailer-$(ARCH)
endif
JAILER_OBJDIR := build/obj-$(ARCH)-jailer
JAILER_SRCS := $(wildcard src/jailer/*.c) src/util/util.c
JAILER_OBJS := $(JAILER_SRCS:%.c=$(JAILER_OBJDIR)/%.o)
JAILER_CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -Werror -Wshadow \
	-Wno-missing-field-initializers -fno-strict-aliasing -MMD -MP

# ember-switch, the virtual switch between VMs: a program of its own like the jailer (libc
# alone, static, the jailer's flags whatever the variant). Its learning table and forwarding
# decision have no sockets: the unit tests and the fuzzer build them for the host.
ifeq ($(ARCH),x86_64)
SWITCH	:= build/ember-switch
else
SWITCH	:= build/ember-switch-$(ARCH)
endif
SWITCH_SRCS := $(wildcard src/switch/*.c) src/util/util.c
SWITCH_OBJS := $(SWITCH_SRCS:%.c=$(JAILER_OBJDIR)/%.o)
SWITCH_CORE_SRCS := src/switch/table.c src/switch/forward.c

# The snapshot tools, with the jailer's flags, whatever the variant: ember-rebase-snap (like
# Firecracker's rebase-snap; libc alone, static) and uffd-handler, the example page-fault
# handler of the Uffd memory backend that the tests serve restored VMs with (jansson).
ifeq ($(ARCH),x86_64)
REBASE	:= build/ember-rebase-snap
UFFD_HANDLER := build/uffd-handler
else
REBASE	:= build/ember-rebase-snap-$(ARCH)
UFFD_HANDLER := build/uffd-handler-$(ARCH)
endif
REBASE_OBJS := $(patsubst %.c,$(JAILER_OBJDIR)/%.o,$(wildcard src/snaptools/*.c))
UFFD_HANDLER_OBJS := $(JAILER_OBJDIR)/tests/snapshot/uffd_handler.o

.PHONY: all unit guests check demo asan deps clean format check-arch-ifdefs bench fuzz fuzz-build print-fuzz-targets

all: $(EMBER) $(CTL) $(JAILER) $(SWITCH) $(REBASE) $(UFFD_HANDLER)

$(JAILER_OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(JAILER_CFLAGS) -c -o $@ $<

$(JAILER): $(JAILER_OBJS)
	$(CC) -static -o $@ $^

$(REBASE): $(REBASE_OBJS)
	$(CC) -static -o $@ $^

$(SWITCH): $(SWITCH_OBJS)
	$(CC) -static -o $@ $^

# jansson's headers and library: the host's, or for a cross build the cross libraries'.
$(UFFD_HANDLER_OBJS): JAILER_CFLAGS += $(CROSS_INC)
$(UFFD_HANDLER_OBJS): | $(CROSS_DEPS)
$(UFFD_HANDLER): $(UFFD_HANDLER_OBJS)
	$(CC) $(if $(CROSS_LIBS),-static -L$(CROSS_LIBS)) -o $@ $^ -ljansson

$(OBJDIR)/%.o: %.c | $(CROSS_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Made afresh: ar would keep the objects of source files that no longer exist.
$(LIB): $(OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(EMBER): $(OBJDIR)/src/main.o $(OBJDIR)/src/usage.o $(LIB) | $(CROSS_DEPS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(CTL): $(CTL_OBJS) $(LIB) | $(CROSS_DEPS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

ifneq ($(CROSS_DEPS),)
# One script makes them all: a grouped target (&:), so make -j runs it once, not per file.
$(CROSS_DEPS) &:
	tools/cross-libs.sh $(ARCH) build/cross-$(ARCH)
endif

$(OBJDIR)/tests/%: tests/unit/%.c tests/unit/unit.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LIB) $(LDFLAGS) -lcmocka $(LDLIBS)

# emberctl's unit tests link its objects, all but its main().
CTL_LIB_OBJS := $(filter-out $(OBJDIR)/src/ctl/main.o,$(CTL_OBJS))
$(OBJDIR)/tests/test_ctl: tests/unit/test_ctl.c tests/unit/unit.h $(CTL_LIB_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(CTL_LIB_OBJS) $(LIB) $(LDFLAGS) -lcmocka $(LDLIBS)

# The Uffd test hands guest memory to the example handler.
$(OBJDIR)/tests/test_uffd: | $(UFFD_HANDLER)

# The FDT tests read ember's blobs back with the host's libfdt.
$(OBJDIR)/tests/test_fdt: LDLIBS += -lfdt

# The arm64 and riscv64 device tree and Image header code is plain C: the unit tests build
# it for the host, whatever ARCH is, and check its blobs with the host's libfdt and dtc.
ARM64_HOST_SRCS := src/arch/aarch64/fdt_tree.c src/arch/aarch64/image.c \
		   src/arch/aarch64/snapshot_format.c
$(OBJDIR)/tests/test_arm64_%: tests/unit/test_arm64_%.c $(ARM64_HOST_SRCS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(ARM64_HOST_SRCS) $(LIB) $(LDFLAGS) -lcmocka $(LDLIBS) -lfdt
RISCV64_HOST_SRCS := src/arch/riscv64/fdt_tree.c src/arch/riscv64/image.c \
		     src/arch/riscv64/snapshot_format.c
$(OBJDIR)/tests/test_riscv64_%: tests/unit/test_riscv64_%.c $(RISCV64_HOST_SRCS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(RISCV64_HOST_SRCS) $(LIB) $(LDFLAGS) -lcmocka $(LDLIBS) -lfdt

$(OBJDIR)/tests/test_switch_%: tests/unit/test_switch_%.c $(SWITCH_CORE_SRCS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(SWITCH_CORE_SRCS) $(LIB) $(LDFLAGS) -lcmocka $(LDLIBS)

unit: $(UNIT_TESTS)
	@tests/unit/run.sh $(UNIT_TESTS)

guests:
	$(MAKE) -C tests/guest OUT=$(abspath build/guest)

deps:
	@tools/deps.sh

# Every tier; ends with "N passed, N failed".
check: deps
	@tools/check.sh

demo: deps
	@tools/demo.sh

asan:
	$(MAKE) ASAN=1 all unit

bench: all guests
	@bench/startup
	@bench/api
	@bench/jailer
	@bench/snapshot
	@bench/fleet

# libFuzzer (clang, ASan + UBSan): every tests/fuzz/fuzz_<name>.c is a target, its
# inputs' meaning in its head comment. ember's sources are compiled once into
# build/fuzz/libember-fuzz.a (coverage-instrumented) and each target links what it uses.
# A target's tests/fuzz/fuzz_<name>.dict and tests/fuzz/corpus/<name>/ give libFuzzer the
# words of its format and valid inputs to start from (jansson is not instrumented: without
# them it would rarely get past it); tests/fuzz/regress/<name>/ holds every input that once
# crashed it, replayed first. `make fuzz` runs each FUZZ_SECONDS (tools/fuzz-run.sh);
# tools/fuzz-campaign.sh runs them for millions of inputs.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SRCS := $(filter-out src/main.c src/ctl/main.c,$(wildcard src/util/*.c src/vmm/*.c src/virtio/*.c \
	     src/machine/*.c src/devices/*.c src/seccomp/*.c src/snapshot/*.c src/config/*.c \
	     src/mmds/*.c src/api/*.c src/arch/$(ARCH)/*.c src/ctl/*.c)) $(SWITCH_CORE_SRCS)
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	       -MMD -MP -Isrc -Isrc/arch/$(ARCH)
FUZZ_DIR  ?= build/fuzz
FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIB  := $(FUZZ_DIR)/libember-fuzz.a
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -MF $@.d -MT $@ -o $@ $< $(FUZZ_LIB) $(LDLIBS)

# The FDT targets ask the host's libfdt too (tests/fuzz/fdt_walk.h).
$(FUZZ_DIR)/fuzz_fdt $(FUZZ_DIR)/fuzz_fdt_%: LDLIBS += -lfdt

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do FUZZ_DIR=$(FUZZ_DIR) tools/fuzz-run.sh $$t $(FUZZ_SECONDS) || exit 1; done

print-fuzz-targets:
	@echo $(FUZZ_TARGETS)

check-arch-ifdefs:
	@tools/check-arch-ifdefs.sh

format:
	clang-format -i $(wildcard src/*.c src/*/*.[ch] src/*/*/*.[ch] tests/unit/*.[ch])

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(CTL_OBJS:.o=.d) $(OBJDIR)/src/main.d $(UNIT_TESTS:=.d) \
	 $(JAILER_OBJS:.o=.d) $(REBASE_OBJS:.o=.d) $(UFFD_HANDLER_OBJS:.o=.d) $(SWITCH_OBJS:.o=.d) \
	 $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)
