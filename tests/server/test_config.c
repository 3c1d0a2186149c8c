/* server/config.c: defaults, file, flags over file, listen lists, errors that name the place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "farjit/error.h"
#include "server/config.h"
#include "server/log.h"

static char path[64];

static void write_conf(const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int load(fj_srv_config *c, char *err, int argc, char **argv) {
  const char *cfg;
  return fj_config_load(c, argc, argv, &cfg, err, 256);
}

static void test_defaults_and_flags(void **st) {
  (void)st;
  fj_srv_config c;
  char err[256];
  char *argv[] = {"farjitd", "--listen", "tcp://127.0.0.1:1", "--max-inflight=3", "--threads",
                  "7", "--log_level", "debug", NULL};
  assert_int_equal(load(&c, err, 8, argv), 0);
  assert_int_equal(c.nlisten, 1);
  assert_string_equal(c.listen[0], "tcp://127.0.0.1:1");
  assert_int_equal(c.max_inflight, 3);   /* dashes and = work */
  assert_int_equal(c.threads, 7);
  assert_int_equal(c.log_level, FJ_LOG_DEBUG);
  assert_int_equal(c.max_trace, 81968);  /* defaults */
  assert_int_equal(c.compile_budget_ms, 5000);
  assert_string_equal(c.server_id, "farjitd");
  assert_string_equal(c.cache_dir, "");
  fj_config_free(&c);
}

static void test_file_then_flags(void **st) {
  (void)st;
  write_conf("# comment\n"
             "listen = tls://[::]:7070   # trailing comment\n"
             "listen = unix:/run/x.sock\n"
             "\n"
             "  max_connections=  9\n"
             "server_id = edge 1\n"
             "cache_mem_bytes = 0x1000\n");
  fj_srv_config c;
  char err[256];
  char *argv[] = {"farjitd", "--config", path, "--max_connections", "11", NULL};
  assert_int_equal(load(&c, err, 5, argv), 0);
  assert_int_equal(c.nlisten, 2);
  assert_string_equal(c.listen[0], "tls://[::]:7070");
  assert_string_equal(c.listen[1], "unix:/run/x.sock");
  assert_int_equal(c.max_connections, 11);  /* the flag wins */
  assert_string_equal(c.server_id, "edge 1");
  assert_int_equal(c.cache_mem_bytes, 4096);
  fj_config_free(&c);
  /* A --listen flag replaces the file's list instead of adding to it. */
  char *argv2[] = {"farjitd", "--listen", "tcp://127.0.0.1:2", "--config", path, NULL};
  assert_int_equal(load(&c, err, 5, argv2), 0);
  assert_int_equal(c.nlisten, 1);
  assert_string_equal(c.listen[0], "tcp://127.0.0.1:2");
  fj_config_free(&c);
}

static void expect_error(const char *file_text, char **argv, int argc, const char *text) {
  if (file_text) write_conf(file_text);
  fj_srv_config c;
  char err[256] = "";
  assert_int_equal(load(&c, err, argc, argv), FJ_ECONFIG);
  if (!strstr(err, text)) fail_msg("error '%s' lacks '%s'", err, text);
  fj_config_free(&c);
}

static void test_errors(void **st) {
  (void)st;
  char *with_file[] = {"farjitd", "--config", path, NULL};
  char where[128];
  snprintf(where, sizeof where, "%s:3: unknown setting 'bogus'", path);
  expect_error("listen = tcp://x:1\n\nbogus = 1\n", with_file, 3, where);
  snprintf(where, sizeof where, "%s:1: expected 'key = value'", path);
  expect_error("just words\n", with_file, 3, where);
  expect_error("threads = -1\nlisten = tcp://x:1\n", with_file, 3, "threads: '-1' is not a number");
  expect_error("threads = 99999999999\nlisten = tcp://x:1\n", with_file, 3, "below 2^32");
  expect_error("log_level = loud\nlisten = tcp://x:1\n", with_file, 3, "unknown level 'loud'");
  char *no_listen[] = {"farjitd", NULL};
  expect_error(NULL, no_listen, 1, "no listen address");
  char *zero_threads[] = {"farjitd", "--listen", "tcp://x:1", "--threads", "0", NULL};
  expect_error(NULL, zero_threads, 5, "threads must be 1..1024");
  char *dangling[] = {"farjitd", "--listen", NULL};
  expect_error(NULL, dangling, 2, "--listen needs a value");
  char *positional[] = {"farjitd", "serve", NULL};
  expect_error(NULL, positional, 2, "unexpected argument 'serve'");
  char *missing[] = {"farjitd", "--config", "/nonexistent/farjitd.conf", NULL};
  expect_error(NULL, missing, 3, "/nonexistent/farjitd.conf: No such file");
  char *nine[] = {"farjitd", "--listen", "a", "--listen", "b", "--listen", "c", "--listen", "d",
                  "--listen", "e", "--listen", "f", "--listen", "g", "--listen", "h", "--listen",
                  "i", NULL};
  expect_error(NULL, nine, 19, "more than 8 listen addresses");
}

static void test_usage_lists_every_key(void **st) {
  (void)st;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fj_config_usage(f);
  fclose(f);
#define FJ_CHECK_KEY(key, kind, field, def, help) assert_non_null(strstr(buf, "--" #key " "));
  FJ_SRV_SETTINGS(FJ_CHECK_KEY)
#undef FJ_CHECK_KEY
  assert_non_null(strstr(buf, "--listen ADDR"));
  free(buf);
}

static int setup(void **st) {
  (void)st;
  snprintf(path, sizeof path, "/tmp/fj_test_conf.%d", (int)getpid());
  return 0;
}

static int teardown(void **st) {
  (void)st;
  unlink(path);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults_and_flags),
    cmocka_unit_test(test_file_then_flags),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_usage_lists_every_key),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
