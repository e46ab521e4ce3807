// cmdline.c -- kernel options from the command line (QEMU -append).
//
// Words are separated by spaces. The options:
//   net=host    (default) the lab's host-side Python driver owns the NIC;
//               the kernel never touches the NIC, nor PCI config space
//               except when the user types PCI.
//   net=kernel  DOS64's own driver and stack run the NIC (net/); the lab
//               only observes.
//   virtio=modern (default) | virtio=legacy
//               net=kernel: which transport of a transitional virtio-net
//               device the driver tries first (the other is the fallback).
// Unknown values fall back to the default with a warning; other words are
// ignored. The last one of each wins.
#include "defs.h"

static enum net_mode mode = NET_HOST;
static int prefer_modern = 1;

static void warn(const char *opt, const char *v, size_t vn, const char *fallback)
{
  kprintf("WARNING: unknown option value %s=", opt);
  for (size_t i = 0; i < vn; i++)
    console_putc(v[i]);
  kprintf(", using %s=%s\n", opt, fallback);
}

static int is(const char *v, size_t vn, const char *word)
{
  return vn == strlen(word) && strncmp(v, word, vn) == 0;
}

void cmdline_init(void)
{
  const char *p = boot_cmdline();
  while (*p) {
    while (*p == ' ')
      p++;
    const char *w = p;
    while (*p && *p != ' ')
      p++;
    size_t n = p - w;
    if (n >= 4 && strncmp(w, "net=", 4) == 0) {
      const char *v = w + 4;
      size_t vn = n - 4;
      if (is(v, vn, "host")) {
        mode = NET_HOST;
      } else if (is(v, vn, "kernel")) {
        mode = NET_KERNEL;
      } else {
        warn("net", v, vn, "host");
        mode = NET_HOST;
      }
    } else if (n >= 7 && strncmp(w, "virtio=", 7) == 0) {
      const char *v = w + 7;
      size_t vn = n - 7;
      if (is(v, vn, "modern") || is(v, vn, "legacy"))
        prefer_modern = is(v, vn, "modern");
      else
        warn("virtio", v, vn, "modern");
    }
  }

  if (mode == NET_KERNEL)
    kputs("net=kernel: DOS64 drives the NIC itself; the lab only observes\n");
  else
    kputs("net=host: the NIC belongs to the host-side driver; the kernel keeps off it\n");
}

enum net_mode net_mode(void)
{
  return mode;
}

const char *net_mode_name(void)
{
  return mode == NET_KERNEL ? "kernel" : "host";
}

int virtio_prefer_modern(void)
{
  return prefer_modern;
}
