# tests/server (engineer D): cache unit test; farjitd end to end (real processes on loopback).
$(B)/tests/test_cache: $(call objs,tests/server/test_cache.c server/cache.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lmbedcrypto -lcmocka
TEST_BINS += $(B)/tests/test_cache
