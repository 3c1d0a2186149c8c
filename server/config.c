/* farjitd — configuration (see config.h). */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farjit/error.h"
#include "server/log.h"

enum { K_U32, K_STR, K_LVL };

typedef struct setting {
  const char *key;
  int kind;
  size_t off;
  const char *def;
  const char *help;
} setting;

static const setting settings[] = {
#define FJ_CFG_ROW(key, kind, f, def, help) {#key, K_##kind, offsetof(fj_srv_config, f), def, help},
  FJ_SRV_SETTINGS(FJ_CFG_ROW)
#undef FJ_CFG_ROW
};

static int set(fj_srv_config *c, const char *key, const char *val, char *err, size_t errlen,
               const char *where) {
  if (strcmp(key, "listen") == 0) {
    if (c->nlisten >= FJ_SRV_MAX_LISTEN) {
      snprintf(err, errlen, "%s: more than %d listen addresses", where, FJ_SRV_MAX_LISTEN);
      return FJ_ECONFIG;
    }
    c->listen[c->nlisten++] = strdup(val);
    return 0;
  }
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
    const setting *s = &settings[i];
    if (strcmp(key, s->key) != 0) continue;
    void *p = (char *)c + s->off;
    if (s->kind == K_STR) {
      free(*(char **)p);
      *(char **)p = strdup(val);
    } else if (s->kind == K_LVL) {
      int l = fj_log_level_parse(val);
      if (l < 0) {
        snprintf(err, errlen, "%s: %s: unknown level '%s'", where, key, val);
        return FJ_ECONFIG;
      }
      *(int *)p = l;
    } else {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(val, &end, 0);
      if (errno || end == val || *end || v > UINT32_MAX || val[0] == '-') {
        snprintf(err, errlen, "%s: %s: '%s' is not a number below 2^32", where, key, val);
        return FJ_ECONFIG;
      }
      *(uint32_t *)p = (uint32_t)v;
    }
    return 0;
  }
  snprintf(err, errlen, "%s: unknown setting '%s'", where, key);
  return FJ_ECONFIG;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  return s;
}

static int load_file(fj_srv_config *c, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return FJ_ECONFIG;
  }
  char line[1024], where[600];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *s = trim(line);
    if (!*s) continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      snprintf(err, errlen, "%s: expected 'key = value'", where);
      rc = FJ_ECONFIG;
      break;
    }
    *eq = 0;
    rc = set(c, trim(s), trim(eq + 1), err, errlen, where);
  }
  fclose(f);
  return rc;
}

void fj_config_free(fj_srv_config *c) {
  for (int i = 0; i < c->nlisten; i++) free(c->listen[i]);
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    if (settings[i].kind == K_STR) free(*(char **)((char *)c + settings[i].off));
  memset(c, 0, sizeof *c);
}

int fj_config_load(fj_srv_config *c, int argc, char **argv, const char **config_path,
                   char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    if (set(c, settings[i].key, settings[i].def, err, errlen, "default")) return FJ_ECONFIG;
  /* Flags: split into key/value first so --config is applied before the others. */
  const char *cfg = NULL;
  char *keys[128], *vals[128];
  char keybuf[128][64];
  int n = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || n == 128) {
      snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
      return FJ_ECONFIG;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    size_t kl = eq ? (size_t)(eq - a) : strlen(a);
    if (kl >= sizeof keybuf[0]) kl = sizeof keybuf[0] - 1;
    memcpy(keybuf[n], a, kl);
    keybuf[n][kl] = 0;
    for (char *p = keybuf[n]; *p; p++)
      if (*p == '-') *p = '_';
    if (eq) {
      vals[n] = (char *)eq + 1;
    } else if (i + 1 < argc) {
      vals[n] = argv[++i];
    } else {
      snprintf(err, errlen, "--%s needs a value", keybuf[n]);
      return FJ_ECONFIG;
    }
    keys[n] = keybuf[n];
    if (strcmp(keys[n], "config") == 0) cfg = vals[n];
    else n++;
  }
  if (config_path) *config_path = cfg;
  if (cfg && load_file(c, cfg, err, errlen)) return FJ_ECONFIG;
  /* A `listen` flag replaces the file's list rather than adding to it. */
  int flag_listen = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(keys[i], "listen") == 0 && !flag_listen++) {
      for (int j = 0; j < c->nlisten; j++) free(c->listen[j]);
      c->nlisten = 0;
    }
    if (set(c, keys[i], vals[i], err, errlen, "command line")) return FJ_ECONFIG;
  }
  if (c->nlisten == 0) {
    snprintf(err, errlen, "no listen address (e.g. --listen tls://[::]:7070)");
    return FJ_ECONFIG;
  }
  if (c->threads == 0 || c->threads > 1024) {
    snprintf(err, errlen, "threads must be 1..1024");
    return FJ_ECONFIG;
  }
  if (c->max_inflight == 0 || c->max_connections == 0) {
    snprintf(err, errlen, "max_inflight and max_connections must be at least 1");
    return FJ_ECONFIG;
  }
  return 0;
}

void fj_config_usage(void *file) {
  FILE *f = file;
  fprintf(f,
          "usage: farjitd [--config FILE] [--KEY VALUE | --KEY=VALUE]...\n"
          "\n"
          "farjit compile server: receives eBPF traces, returns machine-code blobs.\n"
          "Settings come from FILE (`key = value` lines, # comments), then from flags.\n"
          "SIGTERM/SIGINT drain gracefully; SIGHUP reloads FILE, certificates and PSK keys.\n"
          "\n"
          "  --config FILE            configuration file\n"
          "  --listen ADDR            repeatable; tls://HOST:PORT, tcp://HOST:PORT (plaintext),\n"
          "                           unix:PATH (plaintext), tls+unix:PATH.  IPv6: tls://[::1]:7070\n");
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
    char flag[64];
    snprintf(flag, sizeof flag, "--%s %s", settings[i].key,
             settings[i].kind == K_U32 ? "N" : settings[i].kind == K_LVL ? "LEVEL" : "S");
    fprintf(f, "  %-24s %s", flag, settings[i].help);
    if (settings[i].def[0]) fprintf(f, " [%s]", settings[i].def);
    fputc('\n', f);
  }
  fprintf(f, "  --help, --version\n");
}
