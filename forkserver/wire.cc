#include "fixture/forkserver/wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "fixture/launch/errno_status.h"

namespace fixture::forkserver {

absl::Status SendMessage(int sock, const google::protobuf::MessageLite& message, const std::vector<int>& fds) {
  std::string bytes = message.SerializeAsString();
  struct iovec iov = {bytes.data(), bytes.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kRequestFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int error = errno;
    return ErrnoStatus(error, "sendmsg(fork server socket)");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ReceiveMessage(int sock, std::string* bytes, std::vector<UniqueFd>* fds) {
  bytes->resize(kMaxMessage);
  struct iovec iov = {bytes->data(), bytes->size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kRequestFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int error = errno;
    return ErrnoStatus(error, "recvmsg(fork server socket)");
  }
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof fd);
      fds->emplace_back(fd);
    }
  }
  if (n == 0 && fds->empty()) return false;
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    return absl::ResourceExhaustedError(absl::StrCat("a message over ", kMaxMessage, " bytes was cut short"));
  }
  bytes->resize(static_cast<size_t>(n));
  return true;
}

void SetEnvironment(const EnvironmentChange& change, internal::ForkRequest* request) {
  for (const auto& [key, value] : change.set) request->add_env_set(absl::StrCat(key, "=", value));
  for (const std::string& key : change.unset) request->add_env_unset(key);
  for (const std::string& prefix : change.unset_prefixes) request->add_env_unset_prefixes(prefix);
}

EnvironmentChange EnvironmentOf(const internal::ForkRequest& request) {
  EnvironmentChange change;
  for (const std::string& entry : request.env_set()) {
    size_t eq = entry.find('=');
    change.set.emplace_back(entry.substr(0, eq), eq == std::string::npos ? "" : entry.substr(eq + 1));
  }
  change.unset.assign(request.env_unset().begin(), request.env_unset().end());
  change.unset_prefixes.assign(request.env_unset_prefixes().begin(), request.env_unset_prefixes().end());
  return change;
}

}  // namespace fixture::forkserver
