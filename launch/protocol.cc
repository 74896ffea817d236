#include "fixture/launch/protocol.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fixture/launch/errno_status.h"
#include "fixture/launch/poll.h"

namespace fixture::launch {
namespace {

void PutLittleEndian32(uint32_t value, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t GetLittleEndian32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

}  // namespace

absl::Status WriteReadyNotice(int fd, const v1::ReadyNotice& notice) {
  std::string body = notice.SerializeAsString();
  if (body.size() + kFrameHeaderSize > static_cast<size_t>(kMaxFrameSize)) {
    return absl::InvalidArgumentError(absl::StrCat("ReadyNotice is ", body.size(), " bytes; at most ",
                                                   kMaxFrameSize - kFrameHeaderSize, " fit in one pipe write"));
  }
  std::string frame(kFrameHeaderSize, '\0');
  frame[0] = kReadyTag;
  PutLittleEndian32(static_cast<uint32_t>(body.size()), &frame[1]);
  frame += body;
  ssize_t n;
  do {
    n = ::write(fd, frame.data(), frame.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int error = errno;
    return ErrnoStatus(error, absl::StrCat("write(ready fd ", fd, ")"));
  }
  if (static_cast<size_t>(n) != frame.size()) {
    return absl::DataLossError(absl::StrCat("write(ready fd ", fd, ") wrote ", n, " of ", frame.size(), " bytes"));
  }
  return absl::OkStatus();
}

void EncodeExecError(int error, char frame[kExecErrorFrameSize]) {
  frame[0] = kExecErrorTag;
  PutLittleEndian32(static_cast<uint32_t>(error), frame + 1);
}

namespace {

// The outcome of the complete frame at the start of `seen`; nullopt while it
// is incomplete; DataLoss for bytes that are no frame.
absl::StatusOr<std::optional<Outcome>> ParseFrame(const std::string& seen) {
  if (seen.empty()) return std::nullopt;
  if (seen[0] != kReadyTag && seen[0] != kExecErrorTag) {
    return absl::DataLossError(
        absl::StrCat("readiness pipe: unexpected bytes \"", absl::CEscape(seen.substr(0, 16)), "\""));
  }
  if (seen.size() < kFrameHeaderSize) return std::nullopt;
  const uint32_t number = GetLittleEndian32(&seen[1]);
  Outcome outcome;
  if (seen[0] == kExecErrorTag) {
    outcome.kind = Outcome::kExecError;
    outcome.exec_errno = static_cast<int>(number);
    return outcome;
  }
  if (number > kMaxFrameSize - kFrameHeaderSize) {
    return absl::DataLossError(
        absl::StrCat("readiness pipe: frame length ", number, " exceeds ", kMaxFrameSize - kFrameHeaderSize));
  }
  if (seen.size() < kFrameHeaderSize + number) return std::nullopt;
  outcome.kind = Outcome::kReady;
  if (!outcome.notice.ParseFromArray(seen.data() + kFrameHeaderSize, static_cast<int>(number))) {
    return absl::DataLossError("readiness pipe: the ReadyNotice does not parse");
  }
  return outcome;
}

}  // namespace

absl::StatusOr<Outcome> AwaitReady(int fd, absl::Time deadline, int exit_fd) {
  std::string seen;
  char buffer[kMaxFrameSize];
  bool exited = false;  // Once the child is gone, only what is in the pipe counts.
  for (;;) {
    absl::StatusOr<std::optional<Outcome>> frame = ParseFrame(seen);
    if (!frame.ok()) return frame.status();
    if (frame->has_value()) return **frame;
    absl::StatusOr<int> ready =
        PollAnyReadable({fd, exited ? -1 : exit_fd}, exited ? absl::Now() : deadline, "readiness pipe");
    if (!ready.ok()) return ready.status();
    if (*ready == 1) {
      exited = true;
      continue;
    }
    if (*ready < 0) {
      if (!exited) return Outcome{Outcome::kTimedOut};
      if (!seen.empty()) {
        return absl::DataLossError(
            absl::StrCat("readiness pipe: the child exited inside a frame, after ", seen.size(), " bytes"));
      }
      return Outcome{Outcome::kExited};
    }
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return ErrnoStatus(errno, "read(readiness pipe)");
    }
    if (n == 0) {
      if (!seen.empty()) {
        return absl::DataLossError(absl::StrCat("readiness pipe: EOF inside a frame after ", seen.size(), " bytes"));
      }
      return Outcome{};  // kClosed
    }
    seen.append(buffer, static_cast<size_t>(n));
  }
}

std::string EncodeEndpointPorts(const std::map<std::string, int>& ports) {
  return absl::StrJoin(ports, ",", absl::PairFormatter("="));
}

absl::StatusOr<std::map<std::string, int>> ParseEndpointPorts(absl::string_view text) {
  std::map<std::string, int> ports;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> name_port = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    int port = 0;
    if (name_port.first.empty() || !absl::SimpleAtoi(name_port.second, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(kEndpointPortsEnv, "=\"", text, "\": entry \"", entry,
                                                     "\" is not NAME=PORT with a port in 1..65535"));
    }
    if (!ports.emplace(std::string(name_port.first), port).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(kEndpointPortsEnv, "=\"", text, "\": endpoint \"", name_port.first, "\" is given twice"));
    }
  }
  return ports;
}

}  // namespace fixture::launch
