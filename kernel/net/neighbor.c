// net/neighbor.c -- the neighbour (ARP) cache, and the packets waiting for
// an answer. RFC 826 with the timers of RFC 1122 2.3.2.1, as the Python
// twin (dos64lab/iface/neighbor.py), which in turn fixes what smoltcp's
// users asked for:
//
// * entries expire (ENTRY_LIFETIME) and traffic from the neighbour
//   refreshes them;
// * requests are rate-limited per address (REQUEST_INTERVAL), not
//   cache-wide, so one silent host does not block the others;
// * packets waiting for an answer are queued per address (bounded:
//   PENDING_PER_NEIGHBOR each, PENDING_ADDRESSES addresses, PENDING_PACKETS
//   in all) and leave when the reply comes, so the first ping is never
//   lost; after RESOLVE_TIMEOUT they are dropped and counted;
// * an unsolicited ARP may add an entry but not overwrite a live one,
//   unless it answers our own request, nor push one out of a full cache.
//
// Nothing here sends frames: the interface asks what to send.
#include "net.h"

struct neighbor neighbors[NEIGHBOR_CAPACITY];

static struct resolving {             // an address we asked for
  ip4_t ip;
  int active;
  uint64_t first_asked, next_ask;
} resolving[PENDING_ADDRESSES];

static struct waiting {               // a packet waiting for its next hop's MAC
  ip4_t hop;
  int used;
  uint64_t order;                     // FIFO per address
  struct pkt p;
} waiting[PENDING_PACKETS];
static uint64_t order;

static struct neighbor *find(ip4_t ip)
{
  for (int i = 0; i < NEIGHBOR_CAPACITY; i++)
    if (neighbors[i].expires_at && neighbors[i].ip == ip)
      return &neighbors[i];
  return 0;
}

static struct resolving *find_resolving(ip4_t ip)
{
  for (int i = 0; i < PENDING_ADDRESSES; i++)
    if (resolving[i].active && resolving[i].ip == ip)
      return &resolving[i];
  return 0;
}

const uint8_t *neighbor_lookup(ip4_t ip, uint64_t now)
{
  struct neighbor *n = find(ip);
  if (!n || n->expires_at <= now)
    return 0;
  n->last_used = now;
  return n->mac;
}

int neighbor_asked(ip4_t ip)
{
  return find_resolving(ip) != 0;
}

// An ARP from ip says it is at mac. Returns why it was refused (the
// counter's suffix), or 0. Its waiting packets are then neighbor_dequeue's.
const char *neighbor_learn(ip4_t ip, const uint8_t *mac, uint64_t now, int solicited)
{
  struct neighbor *n = find(ip);
  if (n && n->expires_at <= now) {
    n->expires_at = 0;                // expired: forget it first
    n = 0;
  }
  if (!solicited && n && memcmp(n->mac, mac, ETH_ALEN) != 0)
    return "conflict";
  if (!n) {
    struct neighbor *lru = 0;
    for (int i = 0; i < NEIGHBOR_CAPACITY && !n; i++) {
      struct neighbor *e = &neighbors[i];
      if (e->expires_at <= now)
        n = e;                        // a free (or expired) slot
      else if (!lru || e->last_used < lru->last_used)
        lru = e;
    }
    if (!n && !solicited)
      return "cache_full";
    if (!n)
      n = lru;                        // an answer to us: the least recently used goes
  }
  n->ip = ip;
  memcpy(n->mac, mac, ETH_ALEN);
  n->expires_at = now + ENTRY_LIFETIME;
  n->last_used = now;
  struct resolving *r = find_resolving(ip);
  if (r)
    r->active = 0;
  return 0;
}

int neighbor_known(ip4_t ip)
{
  return find(ip) != 0;
}

// Traffic from ip with the MAC we know keeps the entry alive.
void neighbor_refresh(ip4_t ip, const uint8_t *mac, uint64_t now)
{
  struct neighbor *n = find(ip);
  if (n && n->expires_at > now && memcmp(n->mac, mac, ETH_ALEN) == 0)
    n->expires_at = now + ENTRY_LIFETIME;
}

static struct resolving *start_resolving(ip4_t ip, uint64_t now)
{
  struct resolving *r = find_resolving(ip);
  for (int i = 0; i < PENDING_ADDRESSES && !r; i++) {
    if (!resolving[i].active) {
      r = &resolving[i];
      r->ip = ip;
      r->active = 1;
      r->first_asked = now;
      r->next_ask = now;              // ask at once
    }
  }
  return r;
}

// Ask for ip before anything waits for it (the gateway, once configured).
void neighbor_resolve(ip4_t ip, uint64_t now)
{
  if (!neighbor_lookup(ip, now))
    start_resolving(ip, now);
}

// Queue packet p until hop answers; 0 (dropped) when its queue is full, or
// hop is new and too many addresses already wait.
int neighbor_enqueue(ip4_t hop, struct pkt *p, uint64_t now)
{
  struct resolving *r = start_resolving(hop, now);
  if (!r)
    return 0;
  int queued = 0;
  struct waiting *slot = 0;
  for (int i = 0; i < PENDING_PACKETS; i++) {
    if (waiting[i].used && waiting[i].hop == hop)
      queued++;
    else if (!waiting[i].used && !slot)
      slot = &waiting[i];
  }
  if (queued >= PENDING_PER_NEIGHBOR || !slot)
    return 0;
  slot->used = 1;
  slot->hop = hop;
  slot->order = order++;
  slot->p.len = p->len;
  memcpy(slot->p.data, p->data, p->len);
  return 1;
}

// The oldest packet waiting for ip, or 0. Give it back with neighbor_free.
struct pkt *neighbor_dequeue(ip4_t ip)
{
  struct waiting *best = 0;
  for (int i = 0; i < PENDING_PACKETS; i++)
    if (waiting[i].used && waiting[i].hop == ip && (!best || waiting[i].order < best->order))
      best = &waiting[i];
  return best ? &best->p : 0;
}

void neighbor_free(struct pkt *p)
{
  for (int i = 0; i < PENDING_PACKETS; i++)
    if (&waiting[i].p == p)
      waiting[i].used = 0;
}

// An address to ask for now (each at most once per REQUEST_INTERVAL).
int neighbor_due_request(uint64_t now, ip4_t *ip)
{
  for (int i = 0; i < PENDING_ADDRESSES; i++) {
    struct resolving *r = &resolving[i];
    if (r->active && now >= r->next_ask) {
      r->next_ask = now + REQUEST_INTERVAL;
      *ip = r->ip;
      return 1;
    }
  }
  return 0;
}

// Forget old entries; give up on addresses that never answered. Returns
// how many waiting packets were dropped.
int neighbor_expire(uint64_t now)
{
  for (int i = 0; i < NEIGHBOR_CAPACITY; i++)
    if (neighbors[i].expires_at && neighbors[i].expires_at <= now)
      neighbors[i].expires_at = 0;
  int dropped = 0;
  for (int i = 0; i < PENDING_ADDRESSES; i++) {
    struct resolving *r = &resolving[i];
    if (!r->active || now - r->first_asked < RESOLVE_TIMEOUT)
      continue;
    r->active = 0;
    STAT(arp_resolve_failed);
    for (int j = 0; j < PENDING_PACKETS; j++) {
      if (waiting[j].used && waiting[j].hop == r->ip) {
        waiting[j].used = 0;
        STAT(ipv4_tx_drop_no_arp_reply);
        dropped++;
      }
    }
  }
  return dropped;
}

uint64_t neighbor_poll_at(void)
{
  uint64_t t = NEVER;
  for (int i = 0; i < NEIGHBOR_CAPACITY; i++)
    if (neighbors[i].expires_at && neighbors[i].expires_at < t)
      t = neighbors[i].expires_at;
  for (int i = 0; i < PENDING_ADDRESSES; i++) {
    struct resolving *r = &resolving[i];
    if (!r->active)
      continue;
    uint64_t due = r->next_ask < r->first_asked + RESOLVE_TIMEOUT ? r->next_ask : r->first_asked + RESOLVE_TIMEOUT;
    if (due < t)
      t = due;
  }
  return t;
}

int neighbor_pending_count(void)
{
  int n = 0;
  for (int i = 0; i < PENDING_ADDRESSES; i++)
    n += resolving[i].active;
  return n;
}

ip4_t neighbor_pending_addr(int k)
{
  for (int i = 0; i < PENDING_ADDRESSES; i++)
    if (resolving[i].active && k-- == 0)
      return resolving[i].ip;
  return 0;
}
