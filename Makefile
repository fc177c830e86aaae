# Rapport — build, test, run and benchmark.
#
#   make            build everything into build/ (make programs: the programs alone)
#   make run        build, then start the broker, every service and the gateway
#                   on loopback (data in ./var)
#   make test       every test: C unit tests and system tests (pytest)
#   make test-asan  the same, built with AddressSanitizer + UBSan
#   make bench      benchmarks, printed as ratios against in-run references
#   make bench-ab REV=<commit> [ROUNDS=4]
#                   this tree's POST against REV's, runs interleaved
#
# The public targets first install missing Debian packages (tools/deps.sh),
# then re-enter make to build, so pkg-config sees what was just installed.

B       ?= build
SAN     ?=
PYTHON  := /usr/bin/python3

MSGPACK := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PKGS    := libczmq libzmq $(MSGPACK) lmdb libevent jansson libsodium libical libcurl
CC      ?= cc
CFLAGS  := -std=c11 -D_GNU_SOURCE -UNDEBUG -Wall -Wextra -Werror -O2 -g \
           -Ilibshared/include $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  := $(wildcard libshared/src/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
LIB      := $(B)/lib/librapport.a
SERVICES := $(notdir $(wildcard services/*))
PROGRAMS := $(SERVICES:%=$(B)/bin/rapport-%)
UNITS    := $(patsubst tests/unit/%.c,$(B)/test/%,$(wildcard tests/unit/test_*.c))
TOOLS    := $(patsubst tests/system/%.c,$(B)/test/%,$(filter-out %_routes.c,$(wildcard tests/system/*.c))) \
            $(B)/test/rapport-gateway-tally
BENCHES  := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

.SECONDARY:
.PHONY: all deps build programs run test test-asan bench bench-ab clean format lint check-format

all: deps
	@$(MAKE) --no-print-directory build

deps:
	@tools/deps.sh

build: $(PROGRAMS) $(UNITS) $(TOOLS) $(BENCHES)

# The programs alone, without tests and benchmarks (the container image).
programs: $(PROGRAMS)

$(B)/obj/%.o: %.c $(wildcard libshared/include/rapport/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  AR    $@"
	@ar rcs $@ $^

# One program per service folder: every .c in services/<name>/ links into rapport-<name>.
# The gateway also links every service's HTTP routes (services/<s>/routes.c:
# rows of data, libshared route.h), which it finds in the rp_routes section.
ROUTE_OBJS   := $(patsubst %.c,$(B)/obj/%.o,$(filter-out services/gateway/%,$(wildcard services/*/routes.c)))
service_objs = $(patsubst %.c,$(B)/obj/%.o,$(wildcard services/$(1)/*.c)) $(if $(filter gateway,$(1)),$(ROUTE_OBJS))
.SECONDEXPANSION:
$(B)/bin/rapport-%: $$(call service_objs,$$*) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) $(filter-out $(LIB),$^) $(LIB) $(LDLIBS) -o $@

# A unit test test_<service>_<module> links that service's objects, all but
# main.o (so it runs the module's self-test from the code the program runs);
# test_<libshared module> links librapport.a alone.
unit_objs = $(if $(filter $(firstword $(subst _, ,$(1))),$(SERVICES)),$(filter-out %/main.o,$(call service_objs,$(firstword $(subst _, ,$(1))))))
$(B)/test/test_%: $(B)/obj/tests/unit/test_%.o $$(call unit_objs,$$*) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) $(filter-out $(LIB),$^) $(LIB) $(LDLIBS) -o $@

$(B)/test/%: $(B)/obj/tests/system/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The gateway folds user.* events with the users service's own apply, on a
# replica of its store (services/gateway/directory.h): it links the users
# objects that apply needs, not the program, its ops and their handlers.
USERS_FOLD := $(patsubst %,$(B)/obj/services/users/%.o,apply user apikey preferences)
$(B)/bin/rapport-gateway: $(USERS_FOLD)
$(filter $(B)/test/test_gateway_%,$(UNITS)): $(USERS_FOLD)

# The opportunities service folds customer.* events with the customers
# service's own apply into its store (docs/opportunities.md): it links the
# customers objects that apply needs, not the program, its ops and handlers.
# The customers fold takes user.* with the users service's apply too (leads
# go round-robin to a team's active sales users: services/customers/lead.h).
CUSTOMERS_FOLD := $(patsubst %,$(B)/obj/services/customers/%.o,apply customer activity assign contact merge query timeline page scope order stats grading unmatched reference lead) $(USERS_FOLD)
$(B)/bin/rapport-opportunities: $(CUSTOMERS_FOLD)
$(filter $(B)/test/test_opportunities_%,$(UNITS)): $(CUSTOMERS_FOLD)
$(B)/bin/rapport-customers: $(USERS_FOLD)

# The reminders service folds customer.*, user.* and opportunity.* events
# with those services' own applies (docs/reminders.md § Shape): owners,
# managers, birthdays, activities and stages are the journal's.
OPPORTUNITIES_FOLD := $(filter-out %/main.o,$(call service_objs,opportunities)) $(CUSTOMERS_FOLD)
$(B)/bin/rapport-reminders: $(OPPORTUNITIES_FOLD)
$(filter $(B)/test/test_reminders_%,$(UNITS)): $(OPPORTUNITIES_FOLD)
$(filter $(B)/test/test_customers_%,$(UNITS)): $(USERS_FOLD)

# The notifications service folds with the reminders service's own apply
# (which holds the opportunities', customers' and users' folds): a fired
# reminder's subject and assignee, derived reminders' among them, are the
# journal's (docs/notifications.md § Shape).
REMINDERS_FOLD := $(filter-out %/main.o,$(call service_objs,reminders)) $(OPPORTUNITIES_FOLD)
$(B)/bin/rapport-notifications: $(REMINDERS_FOLD)
$(filter $(B)/test/test_notifications_%,$(UNITS)): $(REMINDERS_FOLD)

# TEST ONLY: the gateway with the tally demo's routes too (tests/system/tally_routes.c);
# the production gateway does not answer /api/v1/tally.
$(B)/test/rapport-gateway-tally: $(filter-out %/main.o,$(call service_objs,gateway)) $(B)/obj/services/gateway/main.o $(B)/obj/tests/system/tally_routes.o $(USERS_FOLD) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The gateway embeds docs/openapi.json (services/gateway/openapi.c, .incbin).
$(B)/obj/services/gateway/openapi.o: docs/openapi.json

$(B)/bench/%: $(B)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) $(filter-out $(LIB),$^) $(LIB) $(LDLIBS) -o $@

# The reports' benchmark runs the opportunities code in-process (its apply
# fills the store, report_build answers): the service's objects but main.o.
$(B)/bench/bench_reports: $(OPPORTUNITIES_FOLD)

run: deps
	@$(MAKE) --no-print-directory build
	@tools/run.sh $(B)

test: deps
	@$(MAKE) --no-print-directory build
	RAPPORT_BUILD=$(B) $(PYTHON) -m pytest -q tests/unit tests/system

test-asan: deps
	@$(MAKE) --no-print-directory B=build/asan SAN=1 build
	RAPPORT_BUILD=build/asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(PYTHON) -m pytest -q tests/unit tests/system

bench: deps
	@$(MAKE) --no-print-directory build
	@tools/bench.sh $(B)

bench-ab: deps
	@tools/bench_ab.sh $(or $(REV),$(error make bench-ab needs REV=<commit>)) $(ROUNDS)

format:
	clang-format -i $(wildcard libshared/include/rapport/*.h libshared/src/*.c services/*/*.[ch] tests/*/*.c bench/*.c)

check-format:
	@clang-format --dry-run -Werror $(wildcard libshared/include/rapport/*.h libshared/src/*.c services/*/*.[ch] tests/*/*.c bench/*.c)

# Self-tests assert on calls with effects (czmq style); -UNDEBUG above keeps
# every assert compiled in, so that cppcheck warning does not apply.
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=assertWithSideEffect -Ilibshared/include libshared/src services tests/unit bench

# Rapport on a real Docker engine with docker/compose.yml (tests/docker/run.sh):
# installs the engine, compose and debootstrap if missing (tools/docker-deps.sh),
# starts its own dockerd when none runs, builds the image, runs the story.
.PHONY: docker-test
docker-test: deps
	@tools/docker-deps.sh
	@tests/docker/run.sh

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
