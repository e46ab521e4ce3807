// shell.c -- a DOS-like command interpreter on the COM1 console.
//
// Prompt "C:\>", one command per line, names case-insensitive, arguments
// after the first space. Line editing is the bare minimum a serial
// terminal needs: printable bytes are echoed, BS (0x08) and DEL (0x7f)
// rub out one character with "\b \b", ^U the whole line, CR or LF ends the line, and the LF or
// NUL that follows a CR (telnet sends CR LF or CR NUL) is swallowed.
// Every other byte is ignored and the line holds at most LINE_MAX
// characters (more ring the bell), so no input can crash or wedge the shell.
#include "defs.h"
#include "x86.h"

#define LINE_MAX 200
#define PROMPT "C:\\>"
#define DEBUG_EXIT_PORT 0xF4    // QEMU -device isa-debug-exit,iobase=0xf4,iosize=0x04

static char line[LINE_MAX + 1];
static int after_cr;            // last byte was CR: swallow one LF or NUL

static void read_line(void)
{
  int len = 0;
  for (;;) {
    int c = console_getc();
    if (after_cr) {
      after_cr = 0;
      if (c == '\n' || c == 0)
        continue;
    }
    if (c == '\r' || c == '\n') {
      after_cr = (c == '\r');
      line[len] = 0;
      kputs("\n");
      return;
    }
    if (c == 0x08 || c == 0x7f) {
      if (len > 0) {
        len--;
        kputs("\b \b");
      }
    } else if (c == 0x15) {             // ^U: kill the whole line
      for (; len > 0; len--)
        kputs("\b \b");
    } else if (c >= 0x20 && c < 0x7f) {
      if (len < LINE_MAX) {
        line[len++] = (char)c;
        console_putc((char)c);
      } else {
        console_putc('\a');
      }
    }
    // anything else: ignored
  }
}

static void cmd_help(const char *args);

static void cmd_ver(const char *args)
{
  (void)args;
  kputs("DOS64 Version " DOS64_VERSION "\n");
  kputs("x86-64 long mode, Multiboot 1, built with gcc " __VERSION__ "\n");
}

static void cmd_mem(const char *args)
{
  (void)args;
  mem_print();
}

static void cmd_pci(const char *args)
{
  (void)args;
  pci_list();
}

static void cmd_uptime(const char *args)
{
  (void)args;
  uint64_t t = pit_ticks();
  kprintf("Uptime: %lu.%02lu s (%lu ticks)\n", t / HZ, (t % HZ) * 100 / HZ, t);
}

static void cmd_echo(const char *args)
{
  kprintf("%s\n", args);
}

static void cmd_cls(const char *args)
{
  (void)args;
  kputs("\x1b[2J\x1b[H");
}

static void cmd_cmdline(const char *args)
{
  (void)args;
  kprintf("%s\n", boot_cmdline());
}

static void cmd_panic(const char *args)
{
  (void)args;
  kputs("Writing to unmapped address 0x100000000...\n");
  // Only [0, 4 GiB) is mapped (boot.S): this store page-faults.
  asm volatile("movq $0xD05, (%0)" : : "r"(0x100000000UL) : "memory");
  panic("PANIC command: the write to 0x100000000 did not fault");
}

static void cmd_exit(const char *args)
{
  (void)args;
  kputs("Bye.\n");
  uart_flush();
  outb(DEBUG_EXIT_PORT, 0);     // QEMU exits with status (0 << 1) | 1 = 1
  // Still here: the device is absent.
  kputs("EXIT needs QEMU's isa-debug-exit device "
        "(-device isa-debug-exit,iobase=0xf4,iosize=0x04)\n");
}

static const struct command {
  const char *name;
  void (*fn)(const char *args);
  const char *help;
} commands[] = {
  { "CLS",     cmd_cls,     "Clear the screen (ANSI escape)" },
  { "CMDLINE", cmd_cmdline, "Show the kernel command line (QEMU -append)" },
  { "DHCP",    cmd_dhcp,    "Ask for a new DHCP lease, step by step (net=kernel)" },
  { "ECHO",    cmd_echo,    "Print the rest of the line: ECHO text" },
  { "EXIT",    cmd_exit,    "Leave QEMU (needs the isa-debug-exit device)" },
  { "HELP",    cmd_help,    "List the commands" },
  { "HTTPD",   cmd_httpd,   "The web server on port 80: HTTPD start|stop (net=kernel)" },
  { "IFCONFIG", cmd_ifconfig, "The network interface: MAC, address, NIC (net=kernel)" },
  { "MEM",     cmd_mem,     "Memory map, DMA region and free memory" },
  { "NETSTAT", cmd_netstat, "Sockets, ARP cache and counters (net=kernel)" },
  { "PANIC",   cmd_panic,   "Crash on purpose: write to unmapped 0x100000000" },
  { "PCI",     cmd_pci,     "Scan the PCI buses and list every function" },
  { "PING",    cmd_ping,    "Echo requests: PING a.b.c.d [count] (net=kernel)" },
  { "UPTIME",  cmd_uptime,  "Time since boot" },
  { "VER",     cmd_ver,     "Show the DOS64 version" },
  { "WGET",    cmd_wget,    "Fetch a URL: WGET http://a.b.c.d[:port]/path (net=kernel)" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void cmd_help(const char *args)
{
  (void)args;
  for (size_t i = 0; i < NCOMMANDS; i++)
    kprintf("%-8s %s\n", commands[i].name, commands[i].help);
}

static void run(char *s)
{
  while (*s == ' ')
    s++;
  if (*s == 0)
    return;
  char *args = s;
  while (*args && *args != ' ')
    args++;
  if (*args)
    *args++ = 0;                // args: everything after the first space

  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (strcasecmp(s, commands[i].name) == 0) {
      if (console_from_telnet() && (commands[i].fn == cmd_exit || commands[i].fn == cmd_panic)) {
        kprintf("%s is not available over telnet: it would stop DOS64 for everyone.\n",
                commands[i].name);
        return;
      }
      commands[i].fn(args);
      return;
    }
  }
  kputs("Bad command or file name\n");
}

void shell_run(void)
{
  for (;;) {
    kputs(PROMPT);
    read_line();
    run(line);
  }
}
