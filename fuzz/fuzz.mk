# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Builds the libFuzzer targets; called by fuzz/run.sh (make fuzz), not by
# the main Makefile's default targets. Two passes:
#
#   make -k -f fuzz/fuzz.mk objs      every userspace file that needs neither
#                                     libbpf nor the skeleton, instrumented;
#                                     a file that does not compile is left
#                                     out (its object deleted), not fatal
#   make -f fuzz/fuzz.mk targets      libkt.a from the objects that built,
#                                     then one binary per fuzz/fuzz_*.c: the
#                                     linker takes from libkt.a what each needs
OUT := .output/fuzz
CC := clang
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS := -g -O1 $(SAN) -std=gnu11 -D_GNU_SOURCE -Wall -Wno-unused-parameter \
	-DKAFKATAP_VERSION='"fuzz"' -DKC_WITH_ENCODERS \
	-Iinclude -Iuser -I.output -Ifuzz
# cmd/ (main, options, subcommands), core/ (event loop, session) and kernel/
# (loader, preflight checks, attach) need libbpf, the skeleton, netlink or
# define main();
# metrics/http.c needs microhttpd; kernel/feed.c is linked into fuzz_frame
# only, with fuzz/bpf_stubs.c in place of libbpf.
EXCLUDE := $(wildcard user/cmd/*.c user/core/*.c) user/kernel/loader.c user/kernel/preflight.c \
	user/kernel/tc.c user/kernel/feed.c user/metrics/http.c
LIB_SRCS := $(filter-out $(EXCLUDE),$(wildcard user/*/*.c user/*/*/*.c))
LIB_OBJS := $(patsubst %.c,$(OUT)/obj/%.o,$(LIB_SRCS))
TARGETS := $(patsubst fuzz/%.c,$(OUT)/%,$(wildcard fuzz/fuzz_*.c))
EXTRA_fuzz_frame := $(OUT)/obj/user/kernel/feed.o $(OUT)/obj/fuzz/bpf_stubs.o
EXTRA_fuzz_pcap := $(EXTRA_fuzz_frame)
LDLIBS := -lpcap -lm

.DELETE_ON_ERROR:
.PHONY: objs targets
.SECONDARY:
.SECONDEXPANSION:

objs: $(LIB_OBJS) $(OUT)/obj/user/kernel/feed.o $(OUT)/obj/fuzz/bpf_stubs.o

targets: $(TARGETS) $(OUT)/gen_codec_seeds

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ  $<"
	@$(CC) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(OUT)/libkt.a: $(wildcard $(LIB_OBJS))
	@rm -f $@
	@ar rcs $@ $^

$(OUT)/fuzz_%: fuzz/fuzz_%.c $(OUT)/libkt.a $$(EXTRA_fuzz_$$*)
	@echo "  FUZZER   $@"
	@$(CC) $(CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d $< $(EXTRA_$(notdir $@)) \
		$(OUT)/libkt.a $(LDLIBS) -o $@

# Not a fuzzer: writes seeds for fuzz_codec with the codec's own encoders.
$(OUT)/gen_codec_seeds: fuzz/gen_codec_seeds.c $(OUT)/libkt.a
	@echo "  SEEDGEN  $@"
	@$(CC) $(CFLAGS) -MMD -MP -MF $@.d $< $(OUT)/libkt.a $(LDLIBS) -o $@

-include $(wildcard $(OUT)/obj/user/*/*.d $(OUT)/obj/user/*/*/*.d $(OUT)/obj/fuzz/*.d $(OUT)/*.d)
