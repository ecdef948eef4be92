#include "hlssink_fmp4.h"

namespace iptv {

AccessUnit annexb_access_unit(std::span<const uint8_t> annexb, bool hevc) {
  AccessUnit au;
  au.sample.reserve(annexb.size());
  for (auto nal : cmaf::split_annexb(annexb)) {
    if (nal.empty()) continue;
    int type = hevc ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;
    std::vector<cmaf::Bytes> *ps = nullptr;
    if (hevc) {
      if (type == 35) continue;
      ps = type == 32 ? &au.vps : type == 33 ? &au.sps : type == 34 ? &au.pps : nullptr;
    } else {
      if (type == 9) continue;
      ps = type == 7 ? &au.sps : type == 8 ? &au.pps : nullptr;
    }
    if (ps) {
      ps->emplace_back(nal.begin(), nal.end());
      continue;
    }
    uint32_t n = static_cast<uint32_t>(nal.size());
    for (int sh : {24, 16, 8, 0}) au.sample.push_back(static_cast<uint8_t>(n >> sh));
    au.sample.insert(au.sample.end(), nal.begin(), nal.end());
  }
  return au;
}

uint64_t ns_to_timescale(uint64_t ns, uint32_t timescale) {
  return ns / 1000000000ull * timescale + ns % 1000000000ull * timescale / 1000000000ull;
}

}  // namespace iptv
