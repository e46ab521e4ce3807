// net/virtqueue.c -- the driver's half of a split virtqueue (virtio 1.x 2.7).
//
// Three areas in memory the driver and the device share:
//
//   desc[size]   {addr, len, flags, next}                   driver writes
//   avail        {flags, idx, ring[size]}                   driver writes
//   used         {flags, idx, ring[size] of {id, len}}      device writes
//
// The driver adds a buffer by filling a descriptor and putting its index in
// avail.ring[avail.idx % size]; virtq_kick publishes avail.idx, then rings
// the doorbell unless the device set VRING_USED_F_NO_NOTIFY (2.7.10). The
// device returns a buffer by writing {id, len} to used.ring[used.idx % size]
// and bumping used.idx; virtq_reap takes entries from last_used_idx up to
// used.idx and puts their descriptors back on the free list (free_head,
// num_free), as Linux virtio_ring.c does. Every buffer here is one
// descriptor (header and frame together), so a chain is never longer.
//
// The rings come from kalloc in the legacy layout (2.7.2 "Legacy
// Interfaces"): desc at a page boundary, avail right after it, used at the
// next 4096-byte boundary -- which a modern device accepts too.
// A device returning a descriptor the driver never lent is impossible
// state: panic. The Python twin: dos64lab/hw/virtio/virtqueue.py.
#include "virtio.h"
#include "../x86.h"

void virtq_init(struct virtq *q, struct transport *t, uint16_t index, uint16_t size, int no_interrupt)
{
  if (size == 0 || (size & (size - 1)))
    panic("virtq: queue %u size %u is not a power of two", index, size);
  uint64_t avail_off = 16UL * size;
  uint64_t used_off = (avail_off + 6 + 2UL * size + 4095) & ~4095UL;
  uint8_t *block = kalloc(used_off + 6 + 8UL * size, 4096);

  memset(q, 0, sizeof *q);
  q->t = t;
  q->index = index;
  q->size = size;
  q->desc = (volatile struct virtq_desc *)block;
  q->avail = (volatile struct virtq_avail *)(block + avail_off);
  q->used = (volatile struct virtq_used *)(block + used_off);
  q->lent = kalloc(size, 1);
  for (uint16_t i = 0; i < size; i++)
    q->desc[i].next = (uint16_t)((i + 1) % size);
  q->free_head = 0;
  q->num_free = size;
  q->avail->flags = no_interrupt ? VRING_AVAIL_F_NO_INTERRUPT : 0;
}

// Lend one buffer to the device. Returns its descriptor index, or -1 if
// every descriptor is lent. Nothing reaches the device before virtq_kick.
int virtq_add(struct virtq *q, uint64_t addr, uint32_t len, int device_writes)
{
  if (q->num_free == 0)
    return -1;
  uint16_t head = q->free_head;
  volatile struct virtq_desc *d = &q->desc[head];
  q->free_head = d->next;
  q->num_free--;
  d->addr = addr;
  d->len = len;
  d->flags = device_writes ? VRING_DESC_F_WRITE : 0;
  q->lent[head] = 1;
  q->avail->ring[q->avail_idx % q->size] = head;       // driver writes avail.ring
  q->avail_idx++;
  return head;
}

// Publish avail.idx, then notify unless the device said not to (2.7.13).
void virtq_kick(struct virtq *q)
{
  if (q->avail->idx == q->avail_idx)
    return;                           // nothing new since the last kick
  barrier();                          // ring entries before the index (2.7.13 step 3)
  q->avail->idx = q->avail_idx;
  mfence();                           // publish idx before reading used.flags (2.7.13 step 4)
  if (q->used->flags & VRING_USED_F_NO_NOTIFY) {
    q->kicks_suppressed++;
    return;
  }
  transport_notify(q->t, q);
  q->kicks++;
}

// Take back one buffer the device has finished with: its descriptor index
// (with *len, the bytes the device wrote), or -1 if there is none.
int virtq_reap(struct virtq *q, uint32_t *len)
{
  uint16_t used_idx = q->used->idx;
  if (used_idx == q->last_used_idx)
    return -1;
  barrier();                          // the entry after the index that covers it
  uint16_t pending = (uint16_t)(used_idx - q->last_used_idx);
  if (pending > virtq_in_flight(q))
    panic("virtq %u: used.idx %u is %u past last_used_idx %u, but only %u buffers are lent",
          q->index, used_idx, pending, q->last_used_idx, virtq_in_flight(q));
  volatile struct virtq_used_elem *e = &q->used->ring[q->last_used_idx % q->size];
  uint32_t id = e->id;
  *len = e->len;
  if (id >= q->size || !q->lent[id])
    panic("virtq %u: device returned descriptor %u, which is not lent", q->index, id);
  q->lent[id] = 0;
  q->desc[id].next = q->free_head;    // back on the free list, as its new head
  q->free_head = (uint16_t)id;
  q->num_free++;
  q->last_used_idx++;
  return (int)id;
}
