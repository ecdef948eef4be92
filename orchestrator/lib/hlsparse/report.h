// What iptvctl probe prints: a short table per rendition and the findings, as text for people
// or JSON for tools. Free of GStreamer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hlsparse/checker.h"

namespace iptv::hlsparse {

struct StreamReport {
  std::string url;
  double duration_s = 0;             // how long it was followed
  std::optional<double> startup_ms;  // first request to first decoded frame
  std::string startup_detail;        // "multivariant 3 ms, media 2 ms, segment 10 ms, ..."
  std::vector<RenditionSummary> renditions;
  std::vector<Finding> findings;
};

struct Report {
  StreamReport a;
  std::optional<StreamReport> b;  // --compare
  std::optional<CompareResult> comparison;
  bool probed = true;  // false: nothing could be probed (exit 2)
  std::string fatal;   // why, when !probed

  int errors() const;
  int warnings() const;
  int exit_code() const { return !probed ? 2 : errors() ? 1 : 0; }
};

StreamReport make_stream_report(const std::string &url, const Checker &checker);

std::string to_text(const Report &r);
std::string to_json(const Report &r);  // one JSON object, pretty-printed

}  // namespace iptv::hlsparse
