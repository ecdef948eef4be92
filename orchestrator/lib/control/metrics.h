// Prometheus text exposition (format 0.0.4) of the daemon: per channel and rendition from a
// MetricsSnapshot, the origin's token denials, the HTTP server's requests by route and status and
// its latency histograms. GStreamer-free; unit-tested and checked with `promtool check metrics`.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "control/directory.h"
#include "origin/origin.h"

namespace iptv::control {

// Requests by route template and status, with a latency histogram per route. Thread-safe.
class HttpStats {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  // `route` must come from a fixed set (route templates, "/hls", "other"): never a raw path.
  // `method` is mapped through method_label().
  void record(const std::string &route, const std::string &method, int status, double seconds);
  // GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS as they are; any other method is "other".
  static std::string method_label(std::string_view method);

  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  struct Snapshot {
    std::map<std::tuple<std::string, std::string, int>, uint64_t> requests;  // route,method,status
    std::map<std::string, Histogram> latency;                                // route
  };
  Snapshot snapshot() const;
  // The p-quantile (0..1) of one route's latency from its histogram (upper bucket bound).
  static double quantile(const Histogram &h, double q);

 private:
  mutable std::mutex mu_;
  Snapshot s_;
};

// Counters the control plane keeps itself.
struct ControlCounters {
  std::map<std::string, uint64_t> session_outcomes;  // "ok" or a refusal reason
  uint64_t sse_clients = 0;
  uint64_t api_auth_failures = 0;
};

std::string render_prometheus(const MetricsSnapshot &m, const OriginStats &origin,
                              const HttpStats::Snapshot &http, const ControlCounters &control,
                              double uptime_seconds);

// "a\"b" -> a\"b with \\, \" and \n escaped, as label values need.
std::string prom_label_escape(const std::string &v);

}  // namespace iptv::control
