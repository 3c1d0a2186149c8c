/* farjitd — connections per client address, so that one host cannot take every connection
 * slot (max_connections_per_client).  Loop thread only.  Unix-socket peers are local and not
 * counted.  Entries exist while the address has connections. */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

struct fj_client_addr {
  char key[64];
  uint32_t conns;
  fj_client_addr *next;
};

static unsigned slot(const char *key) {
  uint32_t h = 2166136261u;  /* FNV-1a */
  for (; *key; key++) h = (h ^ (uint8_t)*key) * 16777619u;
  return h % FJ_SRV_ADDR_BUCKETS;
}

fj_client_addr *fj_clients_acquire(fj_srv *s, const char *key, uint32_t *count) {
  fj_client_addr **head = &s->addrs[slot(key)], *a;
  for (a = *head; a && strcmp(a->key, key) != 0; a = a->next) {}
  if (!a) {
    a = calloc(1, sizeof *a);
    if (!a) return NULL;
    size_t n = strlen(key) < sizeof a->key - 1 ? strlen(key) : sizeof a->key - 1;
    memcpy(a->key, key, n);
    a->next = *head;
    *head = a;
  }
  *count = ++a->conns;
  return a;
}

void fj_clients_release(fj_srv *s, fj_client_addr *a) {
  if (!a || --a->conns) return;
  for (fj_client_addr **pp = &s->addrs[slot(a->key)]; *pp; pp = &(*pp)->next) {
    if (*pp == a) {
      *pp = a->next;
      break;
    }
  }
  free(a);
}
