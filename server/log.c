/* farjitd — structured logs (see log.h). */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int fj_log_min = FJ_LOG_INFO;

static const char *const names[] = {"debug", "info", "warn", "error"};

int fj_log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

void fj_log(int level, const char *event, const char *fmt, ...) {
  if (level < fj_log_min) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char line[1024];
  int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000, names[level], event);
  if (n > 0 && (size_t)n < sizeof line && fmt[0]) {
    line[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
  }
  fprintf(stderr, "%s\n", line);
}
