// net/stage1_stubs.c -- placeholders until TCP and the services land.
#include "net.h"

void tcp_input(uint64_t now, const struct ip_hdr *ip, int broadcast, uint8_t *payload, int len)
{
  (void)now; (void)ip; (void)broadcast; (void)payload; (void)len;
  STAT(tcp_rx_drop_no_socket);
}
int tcp_poll(uint64_t now) { (void)now; return 0; }
int services_poll(uint64_t now) { (void)now; return 0; }
void tcp_netstat(void) {}
void httpd_start(void) {}
void telnet_start(void) {}
void telnet_putc(char c) { (void)c; }
int telnet_getc(void) { return -1; }
void cmd_wget(const char *args) { (void)args; kputs("WGET: not yet\n"); }
void cmd_httpd(const char *args) { (void)args; kputs("HTTPD: not yet\n"); }
