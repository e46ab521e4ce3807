// net/stats.c -- the stack's counters: every frame dropped is counted by
// reason, under the Python twin's names (<layer>_rx_drop_<reason>, ...),
// so NETSTAT, /api/status and the tests read one vocabulary in both stacks.
#include "net.h"

uint64_t net_stats[NSTATS];

const char *const net_stat_names[NSTATS] = {
#define X(name) #name,
  NET_COUNTERS(X)
#undef X
};
