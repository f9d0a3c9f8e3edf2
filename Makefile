# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# kafkatap: the libbpf-bootstrap pipeline (clang -> bpftool gen object ->
# bpftool gen skeleton -> userspace), quiet unless V=1.

OUTPUT ?= .output
BIN ?= kafkatap
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PYTHON ?= /usr/bin/python3
SPECS ?= ../shared/kafka-protocol/message
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/;s/ppc64le/powerpc/;s/mips.*/mips/;s/riscv64/riscv/;s/loongarch64/loongarch/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror $(BPF_EXTRA) \
	-Iinclude -I/usr/include/$(MULTIARCH)
CFLAGS ?= -g -O2
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror \
	-std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUTPUT) \
	-DKAFKATAP_VERSION='"$(VERSION)"' $(EXTRA_CFLAGS)
LDLIBS := -lbpf -lelf -lz -lpcap -lmicrohttpd -lncursesw -lm -lpthread

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS := bpf/kafkatap.bpf.c
# user/ is in folders by layer (README: Layout); every .c of them is built.
USER_SRCS := $(wildcard user/*/*.c user/*/*/*.c)
# The codec (runtime and generated messages) has encoders for tests only:
# a second build of it has them.
CODEC_SRCS := user/proto/kc.c user/proto/gen/kafka_msgs_gen.c user/proto/gen/kafka_errors_gen.c
CODEC_ENC_OBJS := $(patsubst user/%.c,$(OUTPUT)/codec-enc/%.o,$(CODEC_SRCS))
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/user/cmd/main.o,$(USER_OBJS))
SKEL := $(OUTPUT)/kafkatap.skel.h
TESTS := $(patsubst tests/%.c,$(OUTPUT)/tests/%,$(wildcard tests/*.c))
TOOLS := $(patsubst tools/%.c,$(OUTPUT)/tools/%,$(wildcard tools/*.c))
DEPS := $(USER_OBJS:.o=.d) $(CODEC_ENC_OBJS:.o=.d) $(OUTPUT)/kafkatap.bpf.d \
	$(patsubst %,%.d,$(TESTS)) $(patsubst %,%.d,$(TOOLS))

.DELETE_ON_ERROR:
.PHONY: all clean test tests-build demo deps gen check-gen bench san-build fuzz dashboards

all: $(BIN) $(TOOLS)

$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/tools:
	$(Q)mkdir -p $@

$(OUTPUT)/kafkatap.tmp.bpf.o: bpf/kafkatap.bpf.c | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(OUTPUT)/kafkatap.bpf.d -MT $@ -c $< -o $@

$(OUTPUT)/kafkatap.bpf.o: $(OUTPUT)/kafkatap.tmp.bpf.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(SKEL): $(OUTPUT)/kafkatap.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name kafkatap_bpf > $@

$(OUTPUT)/user/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# Only the loader includes the skeleton.
$(OUTPUT)/user/kernel/loader.o: $(SKEL)

$(OUTPUT)/codec-enc/%.o: user/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -DKC_WITH_ENCODERS -MMD -MP -c $< -o $@

$(BIN): $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP -MF $@.d $< $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

# Round trips need the encoders: link the codec built with them.
$(OUTPUT)/tests/codec_test: tests/codec_test.c $(CODEC_ENC_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -DKC_WITH_ENCODERS -Itests -MMD -MP -MF $@.d $< $(CODEC_ENC_OBJS) -lcmocka -o $@

$(OUTPUT)/tools/%: tools/%.c | $(OUTPUT)/tools
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -MF $@.d $< $(LDLIBS) -lrdkafka -o $@

tests-build: $(BIN) $(TESTS) $(TOOLS)

# The agent and the tests that link it, under ASan and UBSan, apart in
# .output/san (tests/san_test.sh builds and runs them). -O0: the generated
# codec takes minutes to compile optimised with sanitizers, seconds without.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
san-build:
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(OUTPUT)/san BIN=$(OUTPUT)/san/kafkatap \
		EXTRA_CFLAGS="-O0 $(SAN_FLAGS)" $(OUTPUT)/san/kafkatap \
		$(patsubst $(OUTPUT)/%,$(OUTPUT)/san/%,$(TESTS))

# The two commands of the README. Both install what is missing first.
test: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)tests/run.sh

# make demo DURATION=20 stops by itself after 20 s.
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh $(DURATION)

deps:
	$(Q)tools/install-deps.sh

bench: all
	$(Q)bench/run.sh

# libFuzzer targets (fuzz/): FUZZ_SECONDS per target, 0 for no limit.
FUZZ_SECONDS ?= 60
fuzz:
	$(Q)fuzz/run.sh $(FUZZ_SECONDS)

# Regenerate the code derived from Kafka's specs (committed; see README).
# ERRORS: errors.tsv (code, name) from Kafka's Errors.java, beside the specs.
ERRORS ?= $(SPECS)/../errors.tsv
gen:
	$(PYTHON) tools/gen_apis.py $(SPECS) $(ERRORS) user/proto/gen
	$(PYTHON) tools/gen_structure.py $(SPECS) user/proto/gen/structure_gen.c
	$(PYTHON) tools/gen_codec.py $(SPECS) $(ERRORS) user/proto/gen

# The committed generated code is what the generators make from the specs.
check-gen:
	$(Q)rm -rf $(OUTPUT)/gen && mkdir -p $(OUTPUT)/gen
	$(Q)$(PYTHON) tools/gen_apis.py $(SPECS) $(ERRORS) $(OUTPUT)/gen
	$(Q)$(PYTHON) tools/gen_structure.py $(SPECS) $(OUTPUT)/gen/structure_gen.c
	$(Q)$(PYTHON) tools/gen_codec.py $(SPECS) $(ERRORS) $(OUTPUT)/gen
	$(Q)diff -ru user/proto/gen $(OUTPUT)/gen
	@echo "check-gen: generated code matches $(SPECS)"

# The Grafana dashboards (committed) from tools/gen_dashboards.py; the deploy
# test requires them to be what it generates.
dashboards:
	$(PYTHON) tools/gen_dashboards.py deploy/dashboards

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) $(BIN)

-include $(DEPS)
