// The follower of iptvctl probe: fetches a multivariant (or media) playlist and follows every
// rendition as a live player would for a while: reloads each media playlist at the RFC 8216 pace
// (the target duration after a change, half of it when unchanged), downloads every new segment
// and has it inspected (segment_inspect.h). Everything seen goes to a hlsparse::Checker.
//
// Threads: one per rendition, each with its own HttpClient; the Checker is shared under mutex_.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "hlsparse/checker.h"

namespace iptv::probe {

struct FollowOptions {
  double duration_s = 20;  // how long to follow a live stream
  int timeout_s = 10;      // per HTTP request
  int start_segments = 3;  // a live start this many segments from the end (RFC 8216 6.3.3)
  bool inspect = true;     // inspect segment content with ffprobe/ffmpeg
};

struct FollowResult {
  bool probed = false;  // false: nothing could be probed (the first fetch failed, not HLS, ...)
  std::string fatal;
  std::optional<double> startup_ms;
  std::string startup_detail;
  double followed_s = 0;
};

class Follower {
 public:
  Follower(std::string url, FollowOptions options, hlsparse::Checker &checker)
      : url_(std::move(url)), opts_(options), checker_(checker) {}

  FollowResult run();

 private:
  void follow(const hlsparse::RenditionInfo &r, int64_t deadline_ms);
  void measure_startup(const std::string &media_url, int64_t t0_ms, double multivariant_ms,
                       FollowResult &res);
  void add_parse_findings(std::vector<hlsparse::Finding> &fs, const std::string &rendition);

  std::string url_;
  FollowOptions opts_;
  hlsparse::Checker &checker_;
  std::mutex mutex_;  // guards checker_ and loaded_
  int loaded_ = 0;    // media playlists loaded at least once
};

}  // namespace iptv::probe
