// A hook for viewer-side signals: the origin tells an observer about every request it answered
// under /hls/<channel>/... once the path parsed (status, bytes, the request's headers and query
// for the User-Agent, a trusted region header and CMCD). The origin knows nothing of what the
// observer does with it (the daemon aggregates it: core/viewers/viewer_stats.h).
//
// Called on the origin's server thread for each answered request: it must be quick and must not
// call back into the Origin.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace iptv {

struct ObservedRequest {
  std::string_view channel;    // decoded channel id
  std::string_view rel;        // "/<rendition>/<file>" or "/<file>", decoded
  bool known_channel = false;  // the origin serves this channel
  int status = 0;
  uint64_t bytes = 0;      // body bytes sent
  std::string_view query;  // the raw query string ("" none)
  // A request header by name (case-insensitive), nullptr when absent.
  std::function<const char *(const char *)> header;
};

class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void on_request(const ObservedRequest &r) = 0;
};

}  // namespace iptv
