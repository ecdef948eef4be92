// The time-shift keys of a channel record (docs/channels.md, docs/timeshift.md):
//   dvr:     {window_seconds: 3600}            players seek back within the live playlist
//   catchup: {days: 3, max_gigabytes: 200}     time-addressed URLs over the kept programme
// catch-up is allowed only as far as the rights allow (rights.catchup_days).
#include <cmath>

#include "records/yaml_walker.h"

namespace iptv {

// encryption: {method: aes-128, rotate_segments: N}: every segment encrypted (AES-128-CBC), a new
// key every N segments (docs/encryption.md).
static void parse_encryption(YamlWalker &w, const YAML::Node &root, ChannelRecord &rec) {
  const YAML::Node en = root["encryption"];
  if (!en.IsDefined() || en.IsNull() || !w.mapping(en, "encryption", {"method", "rotate_segments"}))
    return;
  std::string method;
  if (!en["method"].IsDefined()) {
    w.error(en, "encryption.method", "is required (aes-128)");
    return;
  }
  if (!w.choice(en["method"], "encryption.method", {"aes-128", "none"}, method)) return;
  rec.encryption.line = en["method"].Mark().line + 1;
  if (method == "none") return;
  if (rec.dash) {
    // Whole-segment AES-128 is HLS's; a DASH player would fetch undecryptable segments.
    w.error(en["method"], "encryption.method",
            "aes-128 is HLS encryption: turn dash off for an encrypted channel");
    return;
  }
  if (rec.hls.part_seconds > 0) {
    // Whole-segment AES-128 encrypts a segment file; the parts of low-latency HLS would be
    // written and served in the clear beside it.
    w.error(en["method"], "encryption.method",
            "aes-128 cannot be combined with hls.low_latency (segments are encrypted whole, "
            "parts would be served in the clear): turn one of them off");
    return;
  }
  rec.encryption.enabled = true;
  rec.encryption.rotate_segments = 10;
  w.integer(en["rotate_segments"], "encryption.rotate_segments", rec.encryption.rotate_segments, 1,
            100000);
}

void parse_timeshift(YamlWalker &w, const YAML::Node &root, ChannelRecord &rec) {
  parse_encryption(w, root, rec);
  const YAML::Node dvr = root["dvr"];
  if (dvr.IsDefined() && !dvr.IsNull() && w.mapping(dvr, "dvr", {"window_seconds"})) {
    const YAML::Node hls = root["hls"];
    if (hls.IsDefined() && hls.IsMap() && hls["dvr_seconds"].IsDefined() &&
        dvr["window_seconds"].IsDefined())
      w.error(dvr["window_seconds"], "dvr.window_seconds",
              "is also set as hls.dvr_seconds: keep one of them");
    else
      w.number(dvr["window_seconds"], "dvr.window_seconds", rec.hls.dvr_seconds, 0, 7 * 86400);
  }
  const YAML::Node cu = root["catchup"];
  if (!cu.IsDefined() || cu.IsNull() || !w.mapping(cu, "catchup", {"days", "max_gigabytes"}))
    return;
  w.number(cu["max_gigabytes"], "catchup.max_gigabytes", rec.catchup.max_gigabytes, 0, 1e6);
  if (!w.number(cu["days"], "catchup.days", rec.catchup.days, 0, 365)) return;
  if (cu["days"].IsDefined()) rec.catchup.line = cu["days"].Mark().line + 1;
  if (rec.catchup.days <= 0) return;
  if (rec.rights.catchup_days <= 0)
    w.error(cu["days"], "catchup.days",
            "catch-up needs rights that allow it: set rights.catchup_days (the licence's limit)");
  else if (rec.catchup.days > rec.rights.catchup_days + 1e-9)
    w.error(cu["days"], "catchup.days",
            "keeps " + YamlWalker::fmt(rec.catchup.days) + " days, beyond the rights (" +
                "rights.catchup_days: " + YamlWalker::fmt(rec.rights.catchup_days) + ")");
}

}  // namespace iptv
