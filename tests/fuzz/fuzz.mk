# SPDX-License-Identifier: GPL-2.0
#
# libFuzzer targets (included by the top Makefile). See tests/fuzz/README.md.
#
#   make fuzz                 build every fuzzer, run each for FUZZ_SECONDS
#   make fuzz FUZZ_SECONDS=600 FUZZERS="http config"
#   make fuzz-build           build only
#   tests/fuzz/run-short.sh   the short run of `make test` (5 s each)
#
# The user/*.c sources a fuzzer needs are compiled again here, with the
# sanitizers and coverage, into build/fuzz/obj/ (never mixed with the normal
# build's objects). fuzz_xdp and fuzz_tc drive the BPF programs through
# BPF_PROG_TEST_RUN: ASan/UBSan cannot see into the kernel, so they are plain
# libFuzzer targets (coverage of the harness plus the programs' verdicts fed
# back as extra counters), built from objects of their own in build/fuzz/plain/.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz

FUZZ_SAN       := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_BASEFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iheaders -Iuser -I$(BUILD)
FUZZ_CFLAGS    := $(FUZZ_BASEFLAGS) $(FUZZ_SAN) -DFUZZ_UBSAN_SUPP='"$(CURDIR)/tests/fuzz/ubsan.supp"'
# UBSan's pointer-overflow check reports through a handler that returns, so
# tests/fuzz/ubsan.supp can name an open bug of that kind (there was one, B4 in
# README.md); every report not suppressed still stops the run (halt_on_error=1,
# set by fuzz_common.h), and LB_FUZZ_STRICT=1 drops the list.
FUZZ_OBJFLAGS  := $(FUZZ_CFLAGS) -fsanitize-recover=pointer-overflow
FUZZ_PFLAGS    := $(FUZZ_BASEFLAGS) -fsanitize=fuzzer
# The harnesses are ours: hold them to -Werror. The code under test is built as
# the normal build has it, but a clang warning there must not stop a fuzz run.
FUZZ_WARN      := -Wall -Wextra -Wno-unused-parameter -Werror

# Sanitized fuzzers and what each links from user/.
FUZZ_SAN_TARGETS   := http config directory dispatcher peer redirect
FUZZ_USER_http       := http http_path host
# Every user/config*.c: a new section's file must not break the fuzzer's link.
FUZZ_USER_config     := $(patsubst user/%.c,%,$(wildcard user/config*.c)) yaml_doc directory directory_rules host http_path redirect
FUZZ_USER_directory  := directory directory_rules host http_path
# The dispatcher grows new neighbours (metrics, health, ...): it links every
# user object but main's, as the unit tests do, so its fuzzer keeps linking.
FUZZ_USER_dispatcher := $(filter-out main,$(patsubst user/%.c,%,$(wildcard user/*.c)))
FUZZ_USER_peer       := peer_sync flow_table
FUZZ_USER_redirect   := redirect host reply
FUZZ_LIBS_peer       := -lbpf
FUZZ_LIBS_config     := -lyaml
FUZZ_LIBS_dispatcher := -lxdp -lbpf -lelf -lz -lyaml -lm

# BPF fuzzers (root at run time), plain libFuzzer.
FUZZ_BPF_TARGETS := xdp tc
FUZZ_USER_xdp    := packet
FUZZ_USER_tc     := packet
FUZZ_SKEL_xdp    := $(BUILD)/balancer.skel.h
FUZZ_SKEL_tc     := $(BUILD)/backend.skel.h $(BUILD)/backend_replay.skel.h
FUZZ_LIBS_xdp    := -lbpf -lelf -lz
FUZZ_LIBS_tc     := -lbpf -lelf -lz

FUZZ_ALL  := $(FUZZ_SAN_TARGETS) $(FUZZ_BPF_TARGETS)
FUZZERS   ?= $(FUZZ_ALL)
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_ALL))
FUZZ_HDRS := $(wildcard user/*.h headers/*.h tests/fuzz/*.h)

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZERS)

$(FUZZ_DIR)/obj $(FUZZ_DIR)/plain $(FUZZ_DIR)/crashes:
	mkdir -p $@

# user/*.c with sanitizers and coverage, for the sanitized fuzzers.
# Some user objects include the BPF skeletons, as in the normal build.
$(FUZZ_DIR)/obj/%.o: user/%.c $(FUZZ_HDRS) $(SKELS) | $(FUZZ_DIR)/obj
	$(FUZZ_CC) $(FUZZ_OBJFLAGS) -c $< -o $@

# user/*.c with coverage only, for the BPF fuzzers.
$(FUZZ_DIR)/plain/%.o: user/%.c $(FUZZ_HDRS) | $(FUZZ_DIR)/plain
	$(FUZZ_CC) $(FUZZ_PFLAGS) -c $< -o $@

# One link rule per fuzzer: its harness, its objects and its libraries.
define FUZZ_SAN_RULE
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(patsubst %,$(FUZZ_DIR)/obj/%.o,$(FUZZ_USER_$(1))) \
		$(FUZZ_HDRS) | $(FUZZ_DIR)/crashes
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) -Itests/fuzz $$< \
		$(patsubst %,$(FUZZ_DIR)/obj/%.o,$(FUZZ_USER_$(1))) -o $$@ $(FUZZ_LIBS_$(1))
endef

define FUZZ_BPF_RULE
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(patsubst %,$(FUZZ_DIR)/plain/%.o,$(FUZZ_USER_$(1))) \
		$(FUZZ_SKEL_$(1)) $(FUZZ_HDRS) | $(FUZZ_DIR)/crashes
	$(FUZZ_CC) $(FUZZ_PFLAGS) $(FUZZ_WARN) -Itests/fuzz $$< \
		$(patsubst %,$(FUZZ_DIR)/plain/%.o,$(FUZZ_USER_$(1))) -o $$@ $(FUZZ_LIBS_$(1))
endef

$(foreach f,$(FUZZ_SAN_TARGETS),$(eval $(call FUZZ_SAN_RULE,$(f))))
$(foreach f,$(FUZZ_BPF_TARGETS),$(eval $(call FUZZ_BPF_RULE,$(f))))
