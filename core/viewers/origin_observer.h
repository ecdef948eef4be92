// The origin's request hook (origin/request_observer.h) feeding a ViewerStats: reads the
// User-Agent, the configured trusted region header and CMCD (query argument or headers) of each
// answered /hls request. Requests for channels the origin does not serve are not counted (their
// ids would be whatever clients send), nor the probe's own (kProbeUserAgentPrefix).
#pragma once

#include <memory>
#include <string>

#include "origin/request_observer.h"
#include "viewers/viewer_stats.h"

namespace iptv::viewers {

// The User-Agent of the probe's HTTP client (lib/probe: iptvctl probe, iptvd's self-watch and
// diagnosis): such requests are not counted as viewers.
inline constexpr const char *kProbeUserAgentPrefix = "iptvctl-probe/";

class OriginViewerObserver : public RequestObserver {
 public:
  // `region_header`: the request header a trusted front end sets to the viewer's region ("" to
  // read none: every region is "unknown").
  OriginViewerObserver(std::shared_ptr<ViewerStats> stats, std::string region_header)
      : stats_(std::move(stats)), region_header_(std::move(region_header)) {}
  void on_request(const ObservedRequest &r) override;

 private:
  std::shared_ptr<ViewerStats> stats_;
  std::string region_header_;
};

// Splits an origin path under the channel ("/720p/seg-3.ts") into rendition ("720p"; "" for a
// file at the channel's root) and whether it is media (not a playlist/manifest) or DASH.
void classify_rel(const std::string &rel, std::string *rendition, bool *media, bool *dash);

}  // namespace iptv::viewers
