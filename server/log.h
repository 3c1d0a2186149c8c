/* farjitd — structured logs: one line per event on stderr, logfmt style
 *   ts=2026-11-21T05:50:27.123Z level=info event=accept conn=3 peer=127.0.0.1:5000
 * Loop thread and workers may both log (each line is one fprintf, which stdio locks). */
#ifndef FARJIT_SERVER_LOG_H
#define FARJIT_SERVER_LOG_H

enum fj_log_level { FJ_LOG_DEBUG, FJ_LOG_INFO, FJ_LOG_WARN, FJ_LOG_ERROR };

extern int fj_log_min;  /* events below this level are dropped */

/* Level by name ("debug", "info", "warn", "error") or -1. */
int fj_log_level_parse(const char *s);
/* fmt continues the line with more key=value pairs (may be ""). */
void fj_log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
