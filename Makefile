# farjit — top-level build.
#
#   make            build everything (-std=c11 -Wall -Wextra -Werror -O2 -g)
#   make test       install deps, build, run every test program; ends with "N passed, M failed"
#   make asan       the same tests under AddressSanitizer + UndefinedBehaviorSanitizer (= make test SAN=1)
#   make run        the README's demo: build and run an example program
#   make bench      benchmarks (never part of pass/fail)
#
# Each directory contributes a module.mk that appends to the variables below; this file only
# holds the rules they share.  BUILD may be pointed elsewhere to keep parallel work apart.

BUILD ?= build
SAN   ?=
ifeq ($(SAN),1)
  B := $(BUILD)/san
else
  B := $(BUILD)/rel
endif

CC      ?= cc
CFLAGS_BASE := -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE -Iinclude -I. -I$(B)/gen
ifeq ($(SAN),1)
  CFLAGS_BASE += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
CFLAGS  := $(CFLAGS_BASE) $(EXTRA_CFLAGS)

# Filled in by module.mk files.
LIBS         :=   # static libraries ($(B)/lib/lib*.a)
BINS         :=   # programs ($(B)/bin/*)
TEST_BINS    :=   # test programs run by `make test` (cmocka or "N passed, M failed" output)
TEST_SCRIPTS :=   # shell tests, run the same way (they get $(B) as $$FJ_BUILD)
BENCHES      :=   # bench targets
GEN          :=   # generated sources/headers that must exist before compiling

objs = $(patsubst %.c,$(B)/obj/%.o,$(1))

.PHONY: all test asan run bench deps clean
all:

include $(sort $(wildcard */*.mk */*/*.mk))

all: $(GEN) $(LIBS) $(BINS) $(TEST_BINS)

$(B)/obj/%.o: %.c | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CFLAGS_$(firstword $(subst /, ,$<))) -MMD -MP -c $< -o $@

$(B)/lib/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

deps:
	@tools/deps.sh

NPROC := $(shell nproc 2>/dev/null || echo 2)

test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@FJ_BUILD=$(B) tests/run_all.sh $(TEST_BINS) $(TEST_SCRIPTS)

asan:
	@$(MAKE) --no-print-directory test SAN=1

bench: deps all $(BENCHES)

clean:
	rm -rf $(BUILD)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
