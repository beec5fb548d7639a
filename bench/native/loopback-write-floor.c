/*
 * The kernel's floor of the origin's held-request wake: the CPU of ONE write(2) of a prepared
 * ~1.2 KB response to each of N loopback TCP connections, with nothing but the syscall around it.
 *
 * The process listens on 127.0.0.1, forks a reader that opens N TCP connections to it (a separate
 * process, like the bench's held client, so each side fits N descriptors and the writes wake a
 * process sleeping in epoll_wait, as a real wake does), accepts them (TCP_NODELAY, as node:http
 * sets; each sends a request line first, which the writer reads, and every accepted socket sits in
 * an epoll set for input, as in a Node server), then per round writes the buffer once to every accepted socket and measures the writer's
 * CPU for that loop (CLOCK_PROCESS_CPUTIME_ID; user/system from getrusage). The reader reads every
 * connection through epoll and reports when each one had its bytes (CLOCK_MONOTONIC, shared by
 * both processes), so the delivery p50/p99 of the same loop is measured too.
 *
 *   gcc -O2 -o floor loopback-write-floor.c && ./floor <n> <bytes> <rounds>
 *
 * Prints one JSON object on stdout. Compiled by bench/loopback-write-floor.ts at run time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "loopback-write-floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static double tv_us(struct timeval tv) { return tv.tv_sec * 1e6 + tv.tv_usec; }

static void read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, (char *)buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die("pipe read");
    got += (size_t)r;
  }
}

static void write_full(int fd, const void *buf, size_t len) {
  if (write(fd, buf, len) != (ssize_t)len) die("pipe write");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* What each connection sends first, as the bench's held client does (a request line and a few fields). */
static const char REQUEST[] = "GET /floor HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";

/* The reader: N connections, every one read through epoll; per round, when each had `bytes`. */
static void reader(int port, int n, int bytes, int rounds, int to_writer, int from_writer) {
  int *fds = calloc((size_t)n, sizeof(int));
  int *got = calloc((size_t)n, sizeof(int));
  double *done = calloc((size_t)n, sizeof(double));
  struct epoll_event *events = calloc(1024, sizeof(struct epoll_event));
  char *buf = malloc(65536);
  if (!fds || !got || !done || !events || !buf) die("calloc");
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[i] < 0) die("socket");
    if (connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    write_full(fds[i], REQUEST, sizeof REQUEST - 1);
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) die("epoll_ctl");
  }
  char ok = 1;
  write_full(to_writer, &ok, 1);
  for (int r = 0; r < rounds; r++) {
    memset(got, 0, (size_t)n * sizeof(int));
    int complete = 0;
    while (complete < n) {
      int k = epoll_wait(ep, events, 1024, -1);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) die("epoll_wait");
      for (int e = 0; e < k; e++) {
        int i = (int)events[e].data.u32;
        for (;;) {
          ssize_t m = read(fds[i], buf, 65536);
          if (m > 0) {
            got[i] += (int)m;
            if (got[i] == bytes) {
              done[i] = mono_ms();
              complete++;
            }
            continue;
          }
          if (m < 0 && (errno == EAGAIN || errno == EINTR)) break;
          die("read (connection closed early)");
        }
      }
    }
    double t0;
    read_full(from_writer, &t0, sizeof t0);
    for (int i = 0; i < n; i++) done[i] -= t0;
    qsort(done, (size_t)n, sizeof(double), cmp_double);
    double q[3] = {done[n / 2], done[(int)((n - 1) * 0.99)], done[n - 1]};
    write_full(to_writer, q, sizeof q);
  }
  exit(0);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  int bytes = argc > 2 ? atoi(argv[2]) : 1200;
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  if (n < 1 || bytes < 1 || bytes > 65536 || rounds < 1) {
    fprintf(stderr, "usage: loopback-write-floor <n> <bytes 1..65536> <rounds>\n");
    return 2;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t want = (rlim_t)n + 64;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    if (rl.rlim_max < want) rl.rlim_max = want; /* allowed as root only */
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit RLIMIT_NOFILE");
  }
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0) die("socket");
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(ls, 4096) < 0) die("listen");
  socklen_t alen = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &alen);
  int port = ntohs(a.sin_port);

  int up[2], down[2]; /* reader → writer, writer → reader */
  if (pipe(up) < 0 || pipe(down) < 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(ls);
    close(up[0]);
    close(down[1]);
    reader(port, n, bytes, rounds, up[1], down[0]);
  }
  close(up[1]);
  close(down[0]);

  int *fds = calloc((size_t)n, sizeof(int));
  if (!fds) die("calloc");
  /* Like a Node server: each accepted socket non-blocking, watched for input by an epoll set, its
     request read before the wake (so the kernel state matches: a delayed ACK owed, EPOLLIN armed). */
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  char req[sizeof REQUEST];
  for (int i = 0; i < n; i++) {
    fds[i] = accept(ls, NULL, NULL);
    if (fds[i] < 0) die("accept");
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    read_full(fds[i], req, sizeof REQUEST - 1);
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) die("epoll_ctl");
  }
  char ok;
  read_full(up[0], &ok, 1);

  /* A response the size of the origin's held answer: head + body, prepared once. */
  char *wire = malloc((size_t)bytes);
  if (!wire) die("malloc");
  const char *head = "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.apple.mpegurl\r\n"
                     "cache-control: public, max-age=180\r\nconnection: keep-alive\r\n";
  memset(wire, 'a', (size_t)bytes);
  size_t hl = strlen(head);
  memcpy(wire, head, hl < (size_t)bytes ? hl : (size_t)bytes);

  printf("{\"n\":%d,\"bytes\":%d,\"rounds\":[", n, bytes);
  for (int r = 0; r < rounds; r++) {
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    double c0 = cpu_ns();
    double t0 = mono_ms();
    for (int i = 0; i < n; i++) {
      ssize_t w = write(fds[i], wire, (size_t)bytes);
      if (w != bytes) die("write (short, would block or failed)");
    }
    double t1 = mono_ms();
    double c1 = cpu_ns();
    getrusage(RUSAGE_SELF, &u1);
    write_full(down[1], &t0, sizeof t0);
    double q[3];
    read_full(up[0], q, sizeof q);
    printf("%s{\"cpuUsPerWrite\":%.3f,\"userUsPerWrite\":%.3f,\"sysUsPerWrite\":%.3f,\"wallUsPerWrite\":%.3f,"
           "\"deliveredMs\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}",
           r ? "," : "", (c1 - c0) / 1e3 / n, (tv_us(u1.ru_utime) - tv_us(u0.ru_utime)) / n,
           (tv_us(u1.ru_stime) - tv_us(u0.ru_stime)) / n, (t1 - t0) * 1e3 / n, q[0], q[1], q[2]);
  }
  printf("]}\n");
  fflush(stdout);
  int status;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
