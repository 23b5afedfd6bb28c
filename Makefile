# SPDX-License-Identifier: GPL-2.0
#
# latebind build. BPF objects (bpf/*.bpf.c) become skeletons (build/*.skel.h) that
# are embedded in the one `latebind` binary; tests link the same user objects.

PREFIX  ?= /usr/local
DESTDIR ?=
ARCH    ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
BUILD    := build

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

CFLAGS_COMMON := -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror
CFLAGS   += $(CFLAGS_COMMON) -std=gnu11 -D_GNU_SOURCE -Iheaders -Iuser -I$(BUILD)
LDLIBS   += -lxdp -lbpf -lelf -lz -lyaml -pthread

# -mcpu=v3: atomic compare-and-swap on flow state (exactly-once active counts).
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
              -Ivmlinux/$(ARCH) -Iheaders -Ibpf

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h headers/*.h)
# Lab-only BPF programs (tests/lab/*.bpf.c): loaded by the lab's shell with
# ip/bpftool, never embedded in latebind, so objects only (no skeletons).
LAB_BPF_SRCS := $(wildcard tests/lab/*.bpf.c)
LAB_BPF_OBJS := $(patsubst tests/lab/%.bpf.c,$(BUILD)/lab/%.bpf.o,$(LAB_BPF_SRCS))

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
# Everything but main() so tests can link the real code.
LIB_OBJS  := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))

UNIT_SRCS := $(wildcard tests/unit/*.c)
BPFT_SRCS := $(wildcard tests/bpf/*.c)

.DELETE_ON_ERROR:
.PHONY: FORCE all deps install uninstall clean vmlinux test test-unit test-bpf test-lab test-fuzz \
        lab-up lab-down demo bench bench-reload format

all: $(BUILD)/latebind $(BPF_OBJS) $(LAB_BPF_OBJS)

$(BUILD) $(BUILD)/user $(BUILD)/tests $(BUILD)/lab $(BUILD)/bench:
	mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/$(ARCH)/vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/lab/%.bpf.o: tests/lab/%.bpf.c vmlinux/$(ARCH)/vmlinux.h | $(BUILD)/lab
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# Every user object may include any skeleton; regenerate them first.
$(BUILD)/user/%.o: user/%.c $(wildcard user/*.h) $(wildcard headers/*.h) $(SKELS) | $(BUILD)/user
	$(CC) $(CFLAGS) -c $< -o $@

# The version string is rewritten only when `git describe` changes, so exactly
# the one object that embeds it is rebuilt then.
$(BUILD)/version.txt: FORCE | $(BUILD)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(BUILD)/user/version.o: $(BUILD)/version.txt
$(BUILD)/user/version.o: CFLAGS += -DLATEBIND_VERSION='"$(VERSION)"'
FORCE:

$(BUILD)/latebind: $(USER_OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/unit_tests: $(UNIT_SRCS) $(LIB_OBJS) $(wildcard tests/unit/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit $(UNIT_SRCS) $(LIB_OBJS) -o $@ $(LDLIBS) \
		$$(pkg-config --libs check)

$(BUILD)/tests/bpf_tests: $(BPFT_SRCS) $(LIB_OBJS) $(SKELS) $(wildcard tests/bpf/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/bpf $(BPFT_SRCS) $(LIB_OBJS) -o $@ $(LDLIBS) \
		$$(pkg-config --libs check)

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

deps:
	@scripts/deps.sh

install: $(BUILD)/latebind
	install -D -m 0755 $(BUILD)/latebind $(DESTDIR)$(PREFIX)/sbin/latebind

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/latebind

# --- tests -----------------------------------------------------------------
# Each layer prints its own summary; tests/run.sh adds them up into one
# closing "N passed, N failed" line and fails if anything failed.
test: deps all $(BUILD)/tests/unit_tests $(BUILD)/tests/bpf_tests
	@tests/run.sh unit bpf lab fuzz

test-unit: deps $(BUILD)/tests/unit_tests
	@tests/run.sh unit

test-bpf: deps all $(BUILD)/tests/bpf_tests
	@tests/run.sh bpf

test-lab: deps all
	@tests/run.sh lab

test-fuzz: deps all
	@tests/run.sh fuzz

lab-up: deps all
	tests/lab/lab.sh up

lab-down:
	tests/lab/lab.sh down

demo: deps all
	tests/lab/demo.sh

bench: deps all
	bench/run.sh

# Reload time at BENCH_ROUTES routes; links the daemon's own objects, like the tests.
$(BUILD)/bench/reload: bench/reload.c bench/site_head.h $(LIB_OBJS) | $(BUILD)/bench
	$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS)

# Routing decisions per second (bench/run.sh's decisions section), on the same objects.
$(BUILD)/bench/decisions: bench/decisions.c bench/site_head.h $(LIB_OBJS) | $(BUILD)/bench
	$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS)

# The frame hand-off between dispatcher threads: the ring's cost per frame, a wake-up's per batch.
$(BUILD)/bench/tring: bench/tring.c $(LIB_OBJS) | $(BUILD)/bench
	$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS)

bench-reload: $(BUILD)/bench/reload
	$(BUILD)/bench/reload --routes $${BENCH_ROUTES:-1000000}

# `make fuzz` and its objects (libFuzzer, ASan, UBSan): tests/fuzz/fuzz.mk.
-include tests/fuzz/fuzz.mk

format:
	clang-format -i bpf/*.c bpf/*.h headers/*.h user/*.c user/*.h tests/unit/*.c tests/bpf/*.c

clean:
	rm -rf $(BUILD)
