// net/http.c -- the HTTP/1.1 server on port 80 (RFC 9110, 9112), a small
// program on the TCP socket calls, run from every poll round:
//
//   accept -> read -> a whole request head? -> answer -> keep-alive or close
//
// Routes, as the Python server's (dos64lab/services/http.py): "/" (and
// "/index.html"), a status page; "/api/status", the status document
// (status.c); both GET and HEAD; anything else GET/HEAD is 404, any other
// method 405 with Allow. One more, for benchmarks: "/bytes/N", N bytes of
// a fixed pattern (byte i is i mod 251), streamed as the window allows. A malformed request is 400 and the connection
// closes (its framing is lost). HTTP/1.1 connections stay open until the
// client says "Connection: close" (HTTP/1.0: unless it says keep-alive)
// or is silent for IDLE_TIMEOUT. A request's body (Content-Length) is read
// and dropped; chunked bodies are not taken (the answer closes).
// Requests are answered one at a time per connection, in order, once the
// send buffer has room for the largest answer: nothing is written half.
#include "net.h"

#define HTTP_PORT     80
#define HTTP_BACKLOG  32
#define HTTP_CONNS    48
#define REQ_MAX       4096            // a request head (request line + headers)
#define RESP_MAX      (40 * 1024)
#define IDLE_TIMEOUT  (15 * SEC)
#define SERVER        "DOS64/" DOS64_VERSION " (C)"
#define BYTES_MAX     (1UL << 30)
#define PATTERN       (251 * 256)     // one period of the /bytes pattern, 64256 bytes

static struct conn {
  int used;
  int sock;
  char req[REQ_MAX];
  int len;
  uint64_t skip;                      // body bytes still to drop
  uint64_t stream, streamed;          // /bytes/N: bytes still to send, bytes sent
  int close_after;                    // close once the answer is out
  uint64_t last_active;
} conns[HTTP_CONNS];

static int listener = -1;
static char body[RESP_MAX];
static uint8_t pattern[PATTERN];
static char resp[RESP_MAX + 1024];
static uint64_t requests, status_counts[6];   // 2xx .. 5xx by hundreds

struct request {
  char method[16];
  char path[256];
  int minor;                          // HTTP/1.minor
  int keep_alive;
  int64_t content_length;             // -1: none
  int chunked;
  int has_host;
};

void httpd_start(void)
{
  for (int i = 0; i < PATTERN; i++)
    pattern[i] = (uint8_t)(i % 251);
  if (listener < 0)
    listener = tcp_listen(HTTP_PORT, HTTP_BACKLOG);
}

void httpd_stop(void)
{
  if (listener < 0)
    return;
  uint64_t now = clock_us();
  tcp_unlisten(listener, now);
  listener = -1;
  for (int i = 0; i < HTTP_CONNS; i++) {
    if (conns[i].used) {
      tcp_abort(conns[i].sock, now);
      conns[i].used = 0;
    }
  }
}

int httpd_running(void)
{
  return listener >= 0;
}

static const char *reason(int status)
{
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 431: return "Request Header Fields Too Large";
  case 505: return "HTTP Version Not Supported";
  default:  return "Error";
  }
}

static void http_date(char *out, int cap)
{
  static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  struct civil c;
  civil_from_unix(unix_time_us() / SEC, &c);
  ksnprintf(out, cap, "%s, %02d %s %d %02d:%02d:%02d GMT", days[c.weekday], c.day,
            months[c.month - 1], c.year, c.hour, c.minute, c.second);
}

// Write one whole response; the caller checked the room.
static void respond(struct conn *c, int status, const char *type, const char *extra,
                    const char *data, int n, int head_only, int keep_alive, int minor)
{
  char date[40];
  http_date(date, sizeof date);
  char length[32] = "";
  if (n >= 0)
    ksnprintf(length, sizeof length, "\r\nContent-Length: %d", n);
  int h = ksnprintf(resp, sizeof resp,
                    "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: " SERVER "\r\n%s"
                    "Content-Type: %s%s\r\n%s\r\n",
                    status, reason(status), date,
                    !keep_alive ? "Connection: close\r\n" : minor == 0 ? "Connection: keep-alive\r\n" : "",
                    type, length, extra);
  if (!head_only && h + n < (int)sizeof resp) {
    memcpy(resp + h, data, n);
    h += n;
  }
  tcp_send(c->sock, resp, h);
  requests++;
  if (status / 100 >= 2 && status / 100 <= 5)
    status_counts[status / 100]++;
}

static void error(struct conn *c, int status, const char *why, int head_only, int keep_alive, int minor)
{
  int n = ksnprintf(body, sizeof body, "%d %s\n%s\n", status, reason(status), why);
  respond(c, status, "text/plain; charset=utf-8", status == 405 ? "Allow: GET, HEAD\r\n" : "",
          body, n, head_only, keep_alive, minor);
}

static int status_page(void)
{
  static char doc[24 * 1024];
  status_json(doc, sizeof doc);
  int n = ksnprintf(body, sizeof body,
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>DOS64 status</title>\n"
    "<style>body{font:14px monospace;margin:2em}pre{white-space:pre-wrap;word-break:break-all}</style>\n"
    "</head><body>\n<h1>DOS64 %s &mdash; the kernel's own network stack</h1>\n"
    "<p>%s %s via %s, up %lu s, %lu HTTP requests served.</p>\n"
    "<p>The same document as <a href=\"/api/status\">/api/status</a>:</p>\n<pre>%s</pre>\n"
    "</body></html>\n",
    DOS64_VERSION, mac_str(iface.mac), ip4_str(iface.addr), ip4_str(iface.gateway),
    clock_us() / SEC, requests, doc);
  return n < (int)sizeof body ? n : (int)sizeof body - 1;
}

static int is_tchar(char ch)          // RFC 9110 5.6.2 token characters
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
      || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int token_has(const char *v, const char *word)   // "close" in "keep-alive, Close"
{
  int n = (int)strlen(word);
  while (*v) {
    while (*v == ' ' || *v == '\t' || *v == ',')
      v++;
    const char *w = v;
    while (*v && *v != ',')
      v++;
    const char *e = v;
    while (e > w && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (e - w == n && strncasecmp(w, word, n) == 0)
      return 1;
  }
  return 0;
}

// Parse the head at c->req[0..end) (NUL-terminated lines). 0 if fine, else
// the status to answer.
static int parse(char *head, struct request *r)
{
  memset(r, 0, sizeof *r);
  r->content_length = -1;
  char *line = head, *next = strchr(line, '\n');
  *next = 0;
  if (next > line && next[-1] == '\r')
    next[-1] = 0;
  // request-line = method SP request-target SP HTTP-version (RFC 9112 3)
  int i = 0;
  while (is_tchar(line[i]) && i < (int)sizeof r->method - 1)
    r->method[i] = line[i], i++;
  if (i == 0 || line[i] != ' ')
    return 400;
  char *target = line + i + 1, *sp = strchr(target, ' ');
  if (!sp || sp == target || sp - target >= (int)sizeof r->path || target[0] != '/')
    return 400;
  memcpy(r->path, target, sp - target);
  char *q = strchr(r->path, '?');
  if (q)
    *q = 0;
  for (char *p = r->path; *p; p++)
    if ((uint8_t)*p <= ' ' || *p == 0x7f)
      return 400;
  const char *version = sp + 1;
  if (strncmp(version, "HTTP/1.", 7) != 0 || version[7] < '0' || version[7] > '9' || version[8])
    return strncmp(version, "HTTP/", 5) == 0 && version[5] >= '2' && version[5] <= '9' ? 505 : 400;
  r->minor = version[7] - '0';
  r->keep_alive = r->minor >= 1;

  for (line = next + 1; *line; line = next + 1) {
    next = strchr(line, '\n');
    if (!next)
      return 400;
    *next = 0;
    if (next > line && next[-1] == '\r')
      next[-1] = 0;
    if (!*line)
      break;                          // the empty line: end of the head
    char *colon = line;
    while (is_tchar(*colon))
      colon++;
    if (colon == line || *colon != ':')
      return 400;                     // no field name, or whitespace before the colon (5.1)
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    for (char *p = v; *p; p++)
      if (((uint8_t)*p < ' ' && *p != '\t') || *p == 0x7f)
        return 400;
    if (strcasecmp(line, "host") == 0) {
      if (r->has_host)
        return 400;                   // RFC 9112 3.2: exactly one Host
      r->has_host = 1;
    } else if (strcasecmp(line, "connection") == 0) {
      if (token_has(v, "close"))
        r->keep_alive = 0;
      else if (token_has(v, "keep-alive") && r->minor == 0)
        r->keep_alive = 1;
    } else if (strcasecmp(line, "content-length") == 0) {
      if (!*v || r->content_length >= 0)
        return 400;
      int64_t n = 0;
      for (char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > 1000000000000L)
          return 400;
        n = n * 10 + (*p - '0');
      }
      r->content_length = n;
    } else if (strcasecmp(line, "transfer-encoding") == 0) {
      r->chunked = 1;
    }
  }
  if (r->chunked && r->content_length >= 0)
    return 400;                       // RFC 9112 6.1: both is a smuggling attempt
  if (r->minor >= 1 && !r->has_host)
    return 400;                       // RFC 9112 3.2
  return 0;
}

// Answer the request whose head ends at c->req[end]. Returns 0 if the
// connection must close afterwards.
static int answer(struct conn *c, int end)
{
  static char text[REQ_MAX + 1];
  struct request r;
  memcpy(text, c->req, end);
  text[end] = 0;
  int bad = parse(text, &r);
  if (bad) {
    error(c, bad, bad == 505 ? "DOS64 speaks HTTP/1.0 and HTTP/1.1" : "malformed request", 0, 0, 1);
    return 0;
  }
  int keep = r.keep_alive && !r.chunked;
  if (r.content_length > 0)
    c->skip = (uint64_t)r.content_length;
  int get = strcmp(r.method, "GET") == 0, head = strcmp(r.method, "HEAD") == 0;
  if (!get && !head) {
    char why[300];
    ksnprintf(why, sizeof why, "%s takes GET, HEAD", r.path);
    error(c, 405, why, 0, keep, r.minor);
  } else if (strcmp(r.path, "/api/status") == 0) {
    int n = status_json(body, sizeof body);
    if (n >= (int)sizeof body)
      n = (int)sizeof body - 1;
    respond(c, 200, "application/json", "Cache-Control: no-store\r\n", body, n, head, keep, r.minor);
  } else if (strncmp(r.path, "/bytes/", 7) == 0 && r.path[7]) {
    uint64_t n = 0;
    const char *p = r.path + 7;
    for (; *p >= '0' && *p <= '9' && n <= BYTES_MAX; p++)
      n = n * 10 + (uint64_t)(*p - '0');
    if (*p || n > BYTES_MAX) {
      error(c, 404, "/bytes/N takes N up to 1073741824", head, keep, r.minor);
    } else {
      char type[64];
      ksnprintf(type, sizeof type, "application/octet-stream\r\nContent-Length: %lu", n);
      respond(c, 200, type, "", "", -1, 1, keep, r.minor);   // the head; the body streams
      c->stream = head ? 0 : n;
      c->streamed = 0;
    }
  } else if (strcmp(r.path, "/") == 0 || strcmp(r.path, "/index.html") == 0) {
    int n = status_page();
    respond(c, 200, "text/html; charset=utf-8", "Cache-Control: no-cache\r\n", body, n, head, keep, r.minor);
  } else {
    char why[300];
    ksnprintf(why, sizeof why, "%s is not here", r.path);
    error(c, 404, why, head, keep, r.minor);
  }
  return keep;
}

// The end of the head in c->req (the index after its blank line), or 0.
static int head_end(const struct conn *c)
{
  for (int i = 1; i < c->len; i++) {
    if (c->req[i] != '\n')
      continue;
    if (c->req[i - 1] == '\n')
      return i + 1;
    if (i >= 2 && c->req[i - 1] == '\r' && c->req[i - 2] == '\n')
      return i + 1;
  }
  return 0;
}

static void drop(struct conn *c)
{
  tcp_close(c->sock);
  c->used = 0;
}

// Send what fits of a /bytes/N body; 1 while some is left.
static int stream(struct conn *c)
{
  while (c->stream) {
    int room = tcp_send_room(c->sock);
    uint64_t off = c->streamed % PATTERN;
    uint64_t n = PATTERN - off;
    if (n > c->stream)
      n = c->stream;
    if ((uint64_t)room < n)
      n = (uint64_t)room;
    if (n == 0)
      return 1;
    tcp_send(c->sock, pattern + off, (int)n);
    c->stream -= n;
    c->streamed += n;
  }
  return 0;
}

static int serve(struct conn *c, uint64_t now)
{
  int did = 0;
  if (c->stream) {
    stream(c);
    c->last_active = now;
    if (c->stream && !tcp_error_of(c->sock))
      return 1;                       // the next request waits for this body
    if (c->close_after) {
      drop(c);
      return 1;
    }
  }
  for (;;) {
    if (c->skip) {                    // a body nobody reads
      char sink[512];
      int n = tcp_recv(c->sock, sink, c->skip < sizeof sink ? (int)c->skip : (int)sizeof sink);
      if (n <= 0)
        break;
      c->skip -= n;
      c->last_active = now;
      continue;
    }
    if (c->len < REQ_MAX) {
      int n = tcp_recv(c->sock, c->req + c->len, REQ_MAX - c->len);
      if (n > 0) {
        c->len += n;
        c->last_active = now;
      }
    }
    int end = head_end(c);
    if (!end) {
      if (c->len == REQ_MAX) {
        if (tcp_send_room(c->sock) >= RESP_MAX) {
          error(c, 431, "the request head is larger than 4096 bytes", 0, 0, 1);
          drop(c);
        }
        return 1;
      }
      break;
    }
    if (tcp_send_room(c->sock) < (int)sizeof resp)
      break;                          // answer once the last one is on its way
    int keep = answer(c, end);
    did = 1;
    int body = c->skip < (uint64_t)(c->len - end) ? (int)c->skip : c->len - end;
    c->skip -= body;                  // the body's first bytes came with the head
    memmove(c->req, c->req + end + body, c->len - end - body);
    c->len -= end + body;
    c->close_after = !keep;
    if (stream(c))
      return 1;                       // a /bytes body is on its way (closed after, if asked)
    if (!keep) {
      drop(c);
      return 1;
    }
  }
  if (tcp_error_of(c->sock) || (tcp_eof(c->sock) && c->len == 0 && !c->skip)
      || now - c->last_active > IDLE_TIMEOUT) {
    drop(c);                          // reset, closed by the client, or silent too long
    return 1;
  }
  return did;
}

// Idle connections time out; a connection waiting in the backlog is taken
// as soon as a slot is free.
uint64_t httpd_poll_at(uint64_t now)
{
  uint64_t t = NEVER;
  int free_slot = 0;
  for (int i = 0; i < HTTP_CONNS; i++) {
    if (!conns[i].used)
      free_slot = 1;
    else if (conns[i].last_active + IDLE_TIMEOUT < t)
      t = conns[i].last_active + IDLE_TIMEOUT + 1;
  }
  if (free_slot && listener >= 0 && tcp_acceptable(listener))
    return now;
  return t;
}

int httpd_poll(uint64_t now)
{
  int did = 0;
  for (int i = 0; i < HTTP_CONNS; i++) {
    struct conn *c = &conns[i];
    if (!c->used && listener >= 0) {
      int s = tcp_accept(listener);
      if (s >= 0) {
        c->used = 1;
        c->sock = s;
        c->len = 0;
        c->skip = c->stream = 0;
        c->close_after = 0;
        c->last_active = now;
        did = 1;
      }
    }
    if (c->used)
      did |= serve(c, now);
  }
  return did;
}

void cmd_httpd(const char *args)
{
  if (!net_command_ok("HTTPD"))
    return;
  while (*args == ' ')
    args++;
  if (strcasecmp(args, "start") == 0) {
    httpd_start();
    kprintf("HTTPD: %s on port %d\n", listener >= 0 ? "listening" : "cannot listen", HTTP_PORT);
  } else if (strcasecmp(args, "stop") == 0) {
    httpd_stop();
    kputs("HTTPD: stopped\n");
  } else if (!*args) {
    int open = 0;
    for (int i = 0; i < HTTP_CONNS; i++)
      open += conns[i].used;
    kprintf("HTTPD: %s on port %d, %d connections, %lu requests (2xx %lu, 4xx %lu, 5xx %lu)\n",
            listener >= 0 ? "running" : "stopped", HTTP_PORT, open, requests,
            status_counts[2], status_counts[4], status_counts[5]);
  } else {
    kputs("usage: HTTPD [start|stop]\n");
  }
}
