#include "worker/status.h"

#include <errno.h>
#include <unistd.h>

namespace iptv::worker {

bool StatusWriter::write(const wire::StatusLine &status) {
  return write_line(wire::encode_status(status));
}

bool StatusWriter::write_line(const std::string &text) {
  if (out_) return out_->write_line(prefix_ + text);
  std::string line = text + "\n";
  std::lock_guard<std::mutex> g(lock_);
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

Command parse_command(const std::string &line) {
  Command c;
  try {
    wire::Command w = wire::parse_command(line);
    c.cmd = wire::command_name(w);
    if (auto *r = std::get_if<wire::CmdRendition>(&w)) {
      c.name = r->name;
      c.enabled = r->enabled;
    }
    if (auto *k = std::get_if<wire::CmdKey>(&w)) {
      c.period = k->period;
      c.key_id = k->key_id;
      c.key = k->key;
      c.iv = k->iv;
    }
    if (auto *f = std::get_if<wire::CmdFencingToken>(&w)) c.fencing_token = f->token;
  } catch (const wire::WireError &e) {
    c.error = e.what();
  }
  return c;
}

}  // namespace iptv::worker
