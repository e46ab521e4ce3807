// multiboot.c -- take what the boot loader handed us.
//
// The Multiboot info (Multiboot spec 0.6.96, 3.3) lives in memory the
// kernel does not own, so we copy the two things we use -- the memory map
// and the command line -- into kernel variables first thing, and never
// look at the loader's copy again.
//
// The command line starts with the kernel's own file name (QEMU, like GRUB,
// passes "<image> <-append text>"); boot_cmdline() returns only the part
// after that first word, i.e. exactly the -append text.
#include "defs.h"
#include "multiboot.h"

#define CMDLINE_MAX 256

struct mmap_region boot_mmap[MAX_MMAP];
int boot_nmmap;
static char cmdline[CMDLINE_MAX];
static const char *cmdline_args = "";

void multiboot_init(uint32_t magic, uint32_t info)
{
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
    panic("not started by a Multiboot loader (EAX=0x%x, want 0x%x)",
          magic, MULTIBOOT_BOOTLOADER_MAGIC);
  const struct multiboot_info *mbi = (const void *)(uintptr_t)info;

  if (mbi->flags & MBI_FLAG_CMDLINE) {
    strncpy0(cmdline, (const char *)(uintptr_t)mbi->cmdline, sizeof cmdline);
    const char *p = cmdline;
    while (*p && *p != ' ')       // skip argv[0], the image file name,
      p++;
    if (*p == ' ')                // and the one space QEMU puts after it
      p++;
    cmdline_args = p;
  }

  if (!(mbi->flags & MBI_FLAG_MMAP))
    panic("boot loader gave no memory map (multiboot flags 0x%x)", mbi->flags);
  uintptr_t p = mbi->mmap_addr;
  uintptr_t end = p + mbi->mmap_length;
  while (p + sizeof(struct multiboot_mmap_entry) <= end) {
    const struct multiboot_mmap_entry *e = (const void *)p;
    if (e->size < 20)
      panic("malformed multiboot memory map entry at 0x%lx (size %u)", p, e->size);
    if (boot_nmmap == MAX_MMAP)
      panic("more than %d memory map entries", MAX_MMAP);
    boot_mmap[boot_nmmap].base = e->base;
    boot_mmap[boot_nmmap].length = e->length;
    boot_mmap[boot_nmmap].type = e->type;
    boot_nmmap++;
    p += e->size + 4;
  }
  if (boot_nmmap == 0)
    panic("multiboot memory map is empty");
}

const char *boot_cmdline(void)
{
  return cmdline_args;
}
