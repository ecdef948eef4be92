#include "hlssink_segmenter.h"

#include <algorithm>

namespace iptv {

std::optional<Segmenter::Start> Segmenter::on_keyframe(int64_t anchor_ns, bool discontinuity) {
  int64_t idx = index_of(anchor_ns);
  if (!started_) {
    started_ = true;
    index_ = idx;
    uint64_t seq = next_;
    if (epoch_ && idx > 0) seq = std::max<uint64_t>(seq, (uint64_t)idx);
    next_ = seq + 1;
    return Start{seq, resumed_ || discontinuity};
  }
  if (idx > index_ || discontinuity) {
    index_ = std::max(idx, index_);
    uint64_t seq = next_++;
    return Start{seq, discontinuity};
  }
  return std::nullopt;
}

}  // namespace iptv
