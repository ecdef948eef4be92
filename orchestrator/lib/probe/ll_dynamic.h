// The dynamic low-latency HLS rules of iptvctl probe (RFC 8216bis), the ones that need the
// server to be asked while it publishes (the static ones, on one playlist's text, are elsewhere):
//  - ll-blocking-late: a blocking reload (_HLS_msn, _HLS_part) for the next part is answered
//    more than one PART-TARGET after that part was published. The publication is observed by a
//    second client polling the playlist without blocking (every PART-TARGET/10, at most 50 ms):
//    the first poll that lists the part bounds the publication from above, so a late answer is
//    never blamed on the poll;
//  - ll-blocking-early: the blocking answer does not hold the part it asked for;
//  - ll-blocking-refused: a playlist saying CAN-BLOCK-RELOAD=YES refuses the blocking request;
//  - ll-delta-mismatch: a Playlist Delta Update (_HLS_skip=YES) of the same version differs from
//    the full playlist (media sequence, the segments after EXT-X-SKIP, the parts and hints);
//  - ll-delta-boundary: a delta skips segments inside CAN-SKIP-UNTIL of the end, or is asked for
//    and not given although segments are old enough (EXT-X-SKIP missing).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "probe/cmaf_check.h"  // Issue
#include "probe/http_client.h"

namespace iptv::probe {

// The delta rules on two texts of the same playlist version (pure; `full` and `delta` as served).
std::vector<Issue> check_delta(const std::string &full, const std::string &delta);

// One blocking reload's timing: `answered_ms` when its answer arrived, `seen_ms` when a
// non-blocking poll first listed the part (nullopt: no poll saw it before the answer).
// ll-blocking-late when answered_ms - seen_ms > part_target_s (in ms).
std::optional<Issue> judge_blocking(double answered_ms, std::optional<double> seen_ms,
                                    double part_target_s);

struct LlDynamicOptions {
  int rounds = 8;      // blocking reloads measured
  int timeout_s = 10;  // per request
  double max_s = 30;   // give up after this long
};

struct LlDynamicResult {
  bool low_latency = false;    // the playlist has EXT-X-PART-INF
  std::vector<double> lag_ms;  // per measured blocking reload: answer - first poll that saw it
  int deltas_checked = 0;
  std::vector<Issue> issues;
};

// Runs both rules against the media playlist at `url` (two HttpClients on two threads).
LlDynamicResult check_ll_dynamic(const std::string &url, const LlDynamicOptions &opts);

// `url` with `query` appended (`?` or `&`).
std::string with_query(const std::string &url, const std::string &query);

}  // namespace iptv::probe
