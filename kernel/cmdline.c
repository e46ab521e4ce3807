// cmdline.c -- kernel options from the command line (QEMU -append).
//
// Words are separated by spaces. The only option so far:
//   net=host    (default) the lab's host-side Python driver owns the NIC;
//               the kernel never touches the NIC, nor PCI config space
//               except when the user types PCI.
//   net=kernel  reserved for the native driver to come: accepted and
//               reported, but for now the kernel still leaves the NIC alone.
// Unknown net= values fall back to host with a warning; other words are
// ignored. The last net= wins.
#include "defs.h"

static enum net_mode mode = NET_HOST;

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
    if (n < 4 || strncmp(w, "net=", 4) != 0)
      continue;
    const char *v = w + 4;
    size_t vn = n - 4;
    if (vn == 4 && strncmp(v, "host", 4) == 0) {
      mode = NET_HOST;
    } else if (vn == 6 && strncmp(v, "kernel", 6) == 0) {
      mode = NET_KERNEL;
    } else {
      kputs("WARNING: unknown option value net=");
      for (size_t i = 0; i < vn; i++)
        uart_putc(v[i]);
      kputs(", using net=host\n");
      mode = NET_HOST;
    }
  }

  if (mode == NET_KERNEL)
    kputs("net=kernel: native NIC driver not built yet; the NIC stays untouched\n");
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
