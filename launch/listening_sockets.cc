#include "fixture/launch/listening_sockets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/unique_fd.h"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace fixture {
namespace {

// TCP_LISTEN as /proc/net/tcp{,6} print it ("st" column).
constexpr absl::string_view kTcpListen = "0A";
// __SO_ACCEPTCON in the "Flags" column of /proc/net/unix: listen(2) was called.
constexpr uint32_t kUnixAcceptCon = 0x10000;

// One process's /proc directory, opened once so that every later read is of
// the same process (a reused pid cannot slip in between).
struct ProcDir {
  UniqueFd fd;
  std::string path;  // "/proc/123" or "/proc/self", for messages
};

// The status of a failed call on `path`; ENOENT and ESRCH, which is what
// /proc answers once the process has exited, as NOT_FOUND saying so.
absl::Status ProcError(int error, absl::string_view call, const std::string& path) {
  absl::Status status = ErrnoStatus(error, absl::StrCat(call, "(", path, ")"));
  if (error == ENOENT || error == ESRCH) {
    return absl::NotFoundError(absl::StrCat(status.message(), " (the process does not exist or has exited)"));
  }
  return status;
}

absl::StatusOr<ProcDir> OpenProcDir(pid_t pid) {
  ProcDir dir;
  dir.path = pid == 0 ? std::string("/proc/self") : absl::StrCat("/proc/", pid);
  dir.fd.reset(open(dir.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.fd) return ProcError(errno, "open", dir.path);
  return dir;
}

// The whole of `relative` (below `dir`); errno of open(2)/read(2) in
// `*error` (0 on success) so that the caller can treat ENOENT specially.
absl::StatusOr<std::string> ReadProcFile(const ProcDir& dir, const char* relative, int* error) {
  std::string path = absl::StrCat(dir.path, "/", relative);
  UniqueFd fd(openat(dir.fd.get(), relative, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    *error = errno;
    return ProcError(errno, "open", path);
  }
  std::string content;
  char buffer[16384];
  for (;;) {
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = errno;
      return ProcError(errno, "read", path);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  *error = 0;
  return content;
}

// The inodes of the sockets among the process's descriptors.
absl::StatusOr<absl::flat_hash_set<uint64_t>> SocketInodes(const ProcDir& dir) {
  std::string path = absl::StrCat(dir.path, "/fd");
  UniqueFd fd_dir(openat(dir.fd.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd_dir) return ProcError(errno, "open", path);
  // fdopendir owns the descriptor it is given; it gets a duplicate, so that
  // `fd_dir` stays usable for readlinkat and closes on every path.
  int listed = fcntl(fd_dir.get(), F_DUPFD_CLOEXEC, 0);
  if (listed < 0) return ErrnoStatus(errno, absl::StrCat("fcntl(F_DUPFD_CLOEXEC, ", path, ")"));
  DIR* entries = fdopendir(listed);
  if (entries == nullptr) {
    int error = errno;
    close(listed);
    return ErrnoStatus(error, absl::StrCat("fdopendir(", path, ")"));
  }
  absl::flat_hash_set<uint64_t> inodes;
  absl::Status failure;
  for (;;) {
    errno = 0;
    struct dirent* entry = readdir(entries);
    if (entry == nullptr) {
      if (errno != 0) failure = ProcError(errno, "readdir", path);
      break;
    }
    if (entry->d_name[0] == '.') continue;
    char target[64];
    ssize_t n = readlinkat(fd_dir.get(), entry->d_name, target, sizeof target - 1);
    if (n < 0) {
      if (errno == ENOENT) continue;  // closed meanwhile
      failure = ProcError(errno, "readlink", absl::StrCat(path, "/", entry->d_name));
      break;
    }
    absl::string_view link(target, static_cast<size_t>(n));
    uint64_t inode = 0;
    if (absl::ConsumePrefix(&link, "socket:[") && absl::ConsumeSuffix(&link, "]") && absl::SimpleAtoi(link, &inode)) {
      inodes.insert(inode);
    }
  }
  closedir(entries);
  if (!failure.ok()) return failure;
  return inodes;
}

}  // namespace

std::string TcpHost(const void* address, bool v6) {
  char text[INET6_ADDRSTRLEN];
  in6_addr v6_address;
  if (v6) memcpy(&v6_address, address, sizeof v6_address);
  if (v6 && IN6_IS_ADDR_V4MAPPED(&v6_address)) {
    if (inet_ntop(AF_INET, &v6_address.s6_addr[12], text, sizeof text) == nullptr) return "";
    return text;
  }
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, address, text, sizeof text) == nullptr) return "";
  return v6 ? absl::StrCat("[", text, "]") : std::string(text);
}

namespace {

// "0100007F:1F90" (the kernel prints each 32-bit word of the address in host
// order) -> the address as inet_ntop writes it, and the port.
bool ParseTcpAddress(absl::string_view field, bool v6, std::string* host, int* port) {
  std::vector<absl::string_view> parts = absl::StrSplit(field, ':');
  size_t words = v6 ? 4 : 1;
  if (parts.size() != 2 || parts[0].size() != 8 * words || parts[1].size() != 4) return false;
  uint32_t address[4] = {};
  for (size_t i = 0; i < words; ++i) {
    if (!absl::SimpleHexAtoi(parts[0].substr(8 * i, 8), &address[i])) return false;
  }
  uint32_t port_value = 0;
  if (!absl::SimpleHexAtoi(parts[1], &port_value) || port_value > 65535) return false;
  *host = TcpHost(address, v6);
  if (host->empty()) return false;
  *port = static_cast<int>(port_value);
  return true;
}

// The listening sockets of /proc/<pid>/net/tcp or tcp6 whose inode is in
// `inodes`, appended to `out`.
void ParseTcpTable(absl::string_view table, bool v6, const absl::flat_hash_set<uint64_t>& inodes,
                   std::vector<ListeningSocket>* out) {
  bool header = true;
  for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    if (std::exchange(header, false)) continue;
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 10 || fields[3] != kTcpListen) continue;
    uint64_t inode = 0;
    if (!absl::SimpleAtoi(fields[9], &inode) || !inodes.contains(inode)) continue;
    ListeningSocket socket;
    std::string host;
    if (!ParseTcpAddress(fields[1], v6, &host, &socket.port)) continue;
    socket.kind = v6 ? ListeningSocket::Kind::kTcp6 : ListeningSocket::Kind::kTcp4;
    socket.address = absl::StrCat(host, ":", socket.port);
    socket.inode = inode;
    out->push_back(std::move(socket));
  }
}

// The next whitespace-separated field of `*rest`, consumed.
absl::string_view NextField(absl::string_view* rest) {
  *rest = absl::StripLeadingAsciiWhitespace(*rest);
  size_t end = rest->find_first_of(" \t");
  absl::string_view field = rest->substr(0, end);
  rest->remove_prefix(field.size());
  return field;
}

// The same for /proc/<pid>/net/unix: sockets listen(2) was called on that
// have a name.
void ParseUnixTable(absl::string_view table, const absl::flat_hash_set<uint64_t>& inodes,
                    std::vector<ListeningSocket>* out) {
  bool header = true;
  for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    if (std::exchange(header, false)) continue;
    // Num: RefCount Protocol Flags Type St Inode[ Path]; the inode is
    // right-aligned in 5 columns, the path follows it after one space and
    // may itself contain spaces.
    absl::string_view rest = line;
    absl::string_view fields[7];
    for (absl::string_view& field : fields) field = NextField(&rest);
    uint32_t flags = 0;
    uint64_t inode = 0;
    if (!absl::SimpleHexAtoi(fields[3], &flags) || (flags & kUnixAcceptCon) == 0) continue;
    if (!absl::SimpleAtoi(fields[6], &inode) || !inodes.contains(inode)) continue;
    if (!absl::ConsumePrefix(&rest, " ") || rest.empty()) continue;  // unnamed
    ListeningSocket socket;
    socket.kind = ListeningSocket::Kind::kUnix;
    // The kernel shows an abstract name's leading NUL as '@'.
    socket.address =
        absl::ConsumePrefix(&rest, "@") ? absl::StrCat("unix-abstract:", rest) : absl::StrCat("unix:", rest);
    socket.inode = inode;
    out->push_back(std::move(socket));
  }
}

}  // namespace

absl::string_view KindName(ListeningSocket::Kind kind) {
  switch (kind) {
    case ListeningSocket::Kind::kTcp4:
      return "tcp4";
    case ListeningSocket::Kind::kTcp6:
      return "tcp6";
    case ListeningSocket::Kind::kUnix:
      return "unix";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, const ListeningSocket& socket) {
  return out << KindName(socket.kind) << " " << socket.address << " (inode " << socket.inode << ")";
}

absl::StatusOr<std::vector<ListeningSocket>> ListeningSockets(pid_t pid) {
  absl::StatusOr<ProcDir> dir = OpenProcDir(pid);
  if (!dir.ok()) return dir.status();
  absl::StatusOr<absl::flat_hash_set<uint64_t>> inodes = SocketInodes(*dir);
  if (!inodes.ok()) return inodes.status();

  std::vector<ListeningSocket> sockets;
  int error = 0;
  absl::StatusOr<std::string> tcp = ReadProcFile(*dir, "net/tcp", &error);
  if (!tcp.ok()) return tcp.status();
  ParseTcpTable(*tcp, /*v6=*/false, *inodes, &sockets);

  absl::StatusOr<std::string> tcp6 = ReadProcFile(*dir, "net/tcp6", &error);
  if (tcp6.ok()) {
    ParseTcpTable(*tcp6, /*v6=*/true, *inodes, &sockets);
  } else if (error == ENOENT) {
    // No IPv6 in this kernel, or the process exited after net/tcp was read:
    // net/tcp tells them apart.
    if (faccessat(dir->fd.get(), "net/tcp", R_OK, 0) != 0) return ProcError(errno, "access", dir->path + "/net/tcp");
  } else {
    return tcp6.status();
  }

  absl::StatusOr<std::string> unix_table = ReadProcFile(*dir, "net/unix", &error);
  if (!unix_table.ok()) return unix_table.status();
  ParseUnixTable(*unix_table, *inodes, &sockets);
  return sockets;
}

}  // namespace fixture
