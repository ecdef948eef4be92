#include "hlssink_continuity.h"

#include <algorithm>

namespace iptv {

void TsContinuity::restart() {
  for (auto &p : pids_) p.mapped = false;
}

uint8_t TsContinuity::rewrite_header(const uint8_t hdr[4]) {
  ++packets_;
  const unsigned pid = ((hdr[1] & 0x1fu) << 8) | hdr[2];
  if (pid == 0x1fff) return hdr[3];
  const bool payload = (hdr[3] & 0x10) != 0;
  const uint8_t cc = hdr[3] & 0x0f;
  Pid &s = pids_[pid];
  if (!s.mapped) {
    if (s.seen) {
      const uint8_t want = payload ? (uint8_t)((s.last_out + 1) & 0x0f) : s.last_out;
      s.offset = (uint8_t)((want - cc) & 0x0f);
    } else {
      s.offset = 0;
    }
    s.mapped = true;
  }
  const uint8_t out = (uint8_t)((cc + s.offset) & 0x0f);
  s.last_out = out;
  s.seen = true;
  return (uint8_t)((hdr[3] & 0xf0) | out);
}

void TsContinuity::rewrite(uint8_t *data, size_t size) {
  size_t i = 0;
  while (i < size) {
    if (pos_ == 0 && data[i] != 0x47) {
      ++skipped_;
      ++i;
      continue;
    }
    if (pos_ < 4) {
      hdr_[pos_] = data[i];
      if (pos_ == 3) data[i] = rewrite_header(hdr_);
      ++pos_;
      ++i;
      continue;
    }
    const size_t step = std::min(kPacketSize - pos_, size - i);
    i += step;
    pos_ += step;
    if (pos_ == kPacketSize) pos_ = 0;
  }
}

}  // namespace iptv
