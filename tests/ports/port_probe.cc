// port_probe: an unrelated process that tries to get a reserved port, for
// port_reservation_test. It prints one line of key=value pairs and exits 0
// (2 for bad usage, 3 when --uid cannot be taken on).
//
//   port_probe bind0 --host=127.0.0.1 --count=3000 --avoid=P [--reuseaddr] [--reuseport]
//       holds up to COUNT sockets bound to HOST:0 at once (so that each gets
//       another port) and counts those that got P:
//       "bound=3000 hits=0 error=" (error: errno name of the bind that
//       failed and ended the run, e.g. EADDRINUSE once the range is used up)
//   port_probe bind --host=127.0.0.1 --port=P [--reuseaddr] [--reuseport] [--listen]
//       one explicit bind of HOST:P: "result=ok" or "result=EADDRINUSE"
//   port_probe connect --port=L --count=1000 --avoid=P
//       COUNT connects (no bind: the kernel picks the local port) to
//       127.0.0.1:L, each closed by RST (no TIME_WAIT left behind), and
//       counts those whose local port was P: "connected=1000 hits=0 error="
//   port_probe netns --range=40000:40007 [--autobind_reuse] [--reserve=addr,port]
//       in a new network namespace (needs CAP_SYS_ADMIN) whose ephemeral range
//       is RANGE: reserves a port as PortReservation does (or with the
//       options of --reserve), then, in a forked child, binds 127.0.0.1:0 until
//       the range is used up, once per option set (and on 127.0.0.2, [::1]),
//       then connects to a listener until the range is used up; one line each:
//       "reserved=P options=none bound=7 got_reserved=0 error=EADDRINUSE"
//   --uid=U (any command): no supplementary groups, setgid(U) and setuid(U) first.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fixture/launch/unique_fd.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to bind (bind0, bind).");
ABSL_FLAG(int, port, 0, "bind: the port to bind; connect: the listener's port.");
ABSL_FLAG(int, count, 1000, "bind0, connect: how many.");
ABSL_FLAG(int, avoid, 0, "bind0, connect: the reserved port, counted when it is handed out.");
ABSL_FLAG(bool, reuseaddr, false, "Set SO_REUSEADDR before bind.");
ABSL_FLAG(bool, reuseport, false, "Set SO_REUSEPORT before bind.");
ABSL_FLAG(bool, listen, false, "bind: listen(2) after a successful bind.");
ABSL_FLAG(int, uid, -1, "Become this uid (and gid) first.");
ABSL_FLAG(std::string, range, "40000:40007", "netns: ip_local_port_range as LOW:HIGH.");
ABSL_FLAG(bool, autobind_reuse, false, "netns: set net.ipv4.ip_autobind_reuse=1.");
ABSL_FLAG(std::string, reserve, "addr,port", "netns: the reservation's options, of addr,port.");

namespace {

using fixture::UniqueFd;

std::string ErrnoName(int error) {
  const char* name = strerrorname_np(error);
  return name != nullptr ? name : absl::StrCat("errno ", error);
}

// A stream socket for `host` with the options asked for; -1 (errno set) on failure.
int Socket(const std::string& host, bool reuseaddr, bool reuseport) {
  int family = host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int on = 1;
  if ((reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) ||
      (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)) {
    int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

// bind(fd, host:port); 0 or -1 with errno.
int Bind(int fd, const std::string& host, int port) {
  sockaddr_storage address{};
  socklen_t length;
  if (host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) return errno = EINVAL, -1;
    length = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&address);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) return errno = EINVAL, -1;
    length = sizeof *in;
  }
  return bind(fd, reinterpret_cast<sockaddr*>(&address), length);
}

// The local port of `fd`, or -1.
int LocalPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return -1;
  return ntohs(address.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

struct Bind0Result {
  int bound = 0;
  int hits = 0;
  std::string error;
};

// Holds up to `count` sockets bound to host:0 at once.
Bind0Result Bind0(const std::string& host, int count, int avoid, bool reuseaddr, bool reuseport) {
  Bind0Result result;
  std::vector<UniqueFd> held;
  for (int i = 0; i < count; ++i) {
    UniqueFd fd(Socket(host, reuseaddr, reuseport));
    if (!fd || Bind(fd.get(), host, 0) != 0) {
      result.error = ErrnoName(errno);
      break;
    }
    ++result.bound;
    if (LocalPort(fd.get()) == avoid) ++result.hits;
    held.push_back(std::move(fd));
  }
  return result;
}

int RunBind0() {
  Bind0Result result = Bind0(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_count), absl::GetFlag(FLAGS_avoid),
                             absl::GetFlag(FLAGS_reuseaddr), absl::GetFlag(FLAGS_reuseport));
  printf("bound=%d hits=%d error=%s\n", result.bound, result.hits, result.error.c_str());
  return 0;
}

int RunBind() {
  std::string host = absl::GetFlag(FLAGS_host);
  UniqueFd fd(Socket(host, absl::GetFlag(FLAGS_reuseaddr), absl::GetFlag(FLAGS_reuseport)));
  if (!fd || Bind(fd.get(), host, absl::GetFlag(FLAGS_port)) != 0 ||
      (absl::GetFlag(FLAGS_listen) && listen(fd.get(), 8) != 0)) {
    printf("result=%s\n", ErrnoName(errno).c_str());
  } else {
    printf("result=ok\n");
  }
  return 0;
}

int RunConnect() {
  int count = absl::GetFlag(FLAGS_count), avoid = absl::GetFlag(FLAGS_avoid);
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(absl::GetFlag(FLAGS_port));
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int connected = 0, hits = 0;
  std::string error;
  for (int i = 0; i < count; ++i) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
      error = ErrnoName(errno);
      break;
    }
    ++connected;
    if (LocalPort(fd.get()) == avoid) ++hits;
    linger reset{1, 0};  // close by RST: no TIME_WAIT on this side
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  printf("connected=%d hits=%d error=%s\n", connected, hits, error.c_str());
  return 0;
}

bool WriteFile(const char* path, const std::string& text) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
  return fd && write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// netns: binds per option set, at most; more than the range's size when the
// kernel lets port-0 binds share ports (ip_autobind_reuse).
constexpr int kNetnsBinds = 64;

int RunNetns() {
  std::vector<std::string> range = absl::StrSplit(absl::GetFlag(FLAGS_range), ':');
  if (range.size() != 2) return 2;
  if (unshare(CLONE_NEWNET) != 0) {
    printf("error=unshare:%s\n", ErrnoName(errno).c_str());
    return 0;
  }
  // The new namespace's loopback starts down.
  UniqueFd control(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq request{};
  strcpy(request.ifr_name, "lo");
  if (!control || ioctl(control.get(), SIOCGIFFLAGS, &request) != 0 ||
      (request.ifr_flags |= IFF_UP, ioctl(control.get(), SIOCSIFFLAGS, &request) != 0)) {
    printf("error=lo:%s\n", ErrnoName(errno).c_str());
    return 0;
  }
  if (!WriteFile("/proc/sys/net/ipv4/ip_local_port_range", absl::StrCat(range[0], " ", range[1])) ||
      !WriteFile("/proc/sys/net/ipv4/ip_autobind_reuse", absl::GetFlag(FLAGS_autobind_reuse) ? "1" : "0")) {
    printf("error=sysctl:%s\n", ErrnoName(errno).c_str());
    return 0;
  }
  std::string reserve = absl::GetFlag(FLAGS_reserve);
  UniqueFd reservation(Socket("127.0.0.1", absl::StrContains(reserve, "addr"), absl::StrContains(reserve, "port")));
  if (!reservation || Bind(reservation.get(), "127.0.0.1", 0) != 0) {
    printf("error=reserve:%s\n", ErrnoName(errno).c_str());
    return 0;
  }
  int reserved = LocalPort(reservation.get());
  struct Options {
    const char* name;
    const char* host;
    bool reuseaddr, reuseport;
  };
  for (Options options :
       {Options{"none", "127.0.0.1", false, false}, Options{"addr", "127.0.0.1", true, false},
        Options{"port", "127.0.0.1", false, true}, Options{"addr,port", "127.0.0.1", true, true},
        Options{"any:none", "0.0.0.0", false, false}, Options{"any:addr", "0.0.0.0", true, false},
        Options{"127.0.0.2:none", "127.0.0.2", false, false}, Options{"[::1]:none", "::1", false, false}}) {
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      Bind0Result result = Bind0(options.host, kNetnsBinds, reserved, options.reuseaddr, options.reuseport);
      printf("reserved=%d options=%s bound=%d got_reserved=%d error=%s\n", reserved, options.name, result.bound,
             result.hits, result.error.c_str());
      fflush(stdout);
      _exit(0);
    }
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // connect(2) picks its local port itself: connections to a listener
  // outside the range until the range is used up.
  UniqueFd listener(Socket("127.0.0.1", false, false));
  if (!listener || Bind(listener.get(), "127.0.0.1", 0) != 0 || listen(listener.get(), kNetnsBinds) != 0) {
    printf("error=listener:%s\n", ErrnoName(errno).c_str());
    return 0;
  }
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(LocalPort(listener.get()));
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<UniqueFd> connections;
  int hits = 0;
  std::string error;
  for (int i = 0; i < kNetnsBinds; ++i) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
      error = ErrnoName(errno);
      break;
    }
    if (LocalPort(fd.get()) == reserved) ++hits;
    connections.push_back(std::move(fd));
  }
  printf("reserved=%d options=connect bound=%zu got_reserved=%d error=%s\n", reserved, connections.size(), hits,
         error.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    fprintf(stderr, "usage: port_probe bind0|bind|connect|netns [flags]\n");
    return 2;
  }
  // Thousands of sockets held at once.
  rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (int uid = absl::GetFlag(FLAGS_uid); uid >= 0) {
    if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0) {
      printf("result=setuid:%s\n", ErrnoName(errno).c_str());
      return 3;
    }
  }
  std::string command = args[1];
  if (command == "bind0") return RunBind0();
  if (command == "bind") return RunBind();
  if (command == "connect") return RunConnect();
  if (command == "netns") return RunNetns();
  fprintf(stderr, "port_probe: unknown command %s\n", command.c_str());
  return 2;
}
