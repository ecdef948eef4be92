// Status lines of iptvd-worker: one JSON object per line on the status fd, written through the
// protocol's types (wire/status.h). Thread-safe. GStreamer-free.
#pragma once

#include <mutex>
#include <string>

#include "wire/status.h"

namespace iptv::worker {

class StatusWriter {
 public:
  explicit StatusWriter(int fd) : fd_(fd) {}
  // A channel's writer in a group process (group.h): its lines go through `out`, each
  // prefixed with "<channel_id>\t".
  StatusWriter(StatusWriter &out, std::string channel_id)
      : fd_(-1), out_(&out), prefix_(std::move(channel_id) + "\t") {}
  // Writes `line` as one line. Returns false when the fd is gone (the daemon died).
  bool write(const wire::StatusLine &line);
  // Writes one raw line (the newline is added).
  bool write_line(const std::string &line);

 private:
  std::mutex lock_;
  int fd_;
  StatusWriter *out_ = nullptr;
  std::string prefix_;
};

// One stdin command line (wire::Command), flattened for the worker. `cmd` is empty and `error`
// says why when the line is not a command.
struct Command {
  std::string cmd;   // failover | return | rendition | stop | key | fencing_token
  std::string name;  // rendition name
  bool enabled = true;
  // key: an AES-128 key for iptvhlssink (add-key); key and iv in hex.
  uint64_t period = 0;
  std::string key_id, key, iv;
  int64_t fencing_token = 0;  // fencing_token
  std::string error;
};
Command parse_command(const std::string &line);

}  // namespace iptv::worker
