// The follower of iptvctl probe: fetches a multivariant (or media) playlist and follows every
// rendition as a live player would for a while: reloads each media playlist at the RFC 8216 pace
// (the target duration after a change, half of it when unchanged), downloads every new segment
// and has it inspected (segment_inspect.h). Everything seen goes to a hlsparse::Checker.
//
// Threads: per rendition, one reloading the playlist and one downloading and inspecting its new
// segments, each with its own HttpClient; the Checker is shared under mutex_.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hlsparse/checker.h"
#include "probe/http_client.h"

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
  // Low-latency HLS: each measured blocking reload's answer after its part's publication (ms).
  std::vector<double> ll_blocking_lag_ms;
};

// Segments waiting to be downloaded and inspected, one queue per rendition.
class SegmentQueue {
 public:
  void push(const hlsparse::Segment &s, const std::string &url) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back({s, url, now_ms()});
    }
    cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    cv_.notify_one();
  }
  // False once closed and empty: what was queued before close() is still handed out.
  // *queued_ms: when it was pushed (steady clock, ms).
  bool pop(hlsparse::Segment &s, std::string &url, int64_t *queued_ms = nullptr) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    s = std::move(items_.front().segment);
    url = std::move(items_.front().url);
    if (queued_ms) *queued_ms = items_.front().queued_ms;
    items_.pop_front();
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  struct Item {
    hlsparse::Segment segment;
    std::string url;
    int64_t queued_ms = 0;
  };
  std::deque<Item> items_;
  bool closed_ = false;
};

class Follower {
 public:
  Follower(std::string url, FollowOptions options, hlsparse::Checker &checker)
      : url_(std::move(url)), opts_(options), checker_(checker) {}

  FollowResult run();

 private:
  void follow(const hlsparse::RenditionInfo &r, int64_t deadline_ms);
  // Inspects queued segments until the queue closes; what is popped after `give_up_ms` is
  // skipped (and counted), so a live probe ends close to its --duration.
  void inspect(const hlsparse::RenditionInfo &r, SegmentQueue &queue, int64_t deadline_ms,
               const std::atomic<int64_t> &give_up_ms);
  void measure_startup(const std::string &media_url, int64_t t0_ms, double multivariant_ms,
                       FollowResult &res);
  void add_parse_findings(std::vector<hlsparse::Finding> &fs, const std::string &rendition);

  std::string url_;
  FollowOptions opts_;
  hlsparse::Checker &checker_;
  std::mutex mutex_;  // guards checker_ and loaded_
  int loaded_ = 0;    // media playlists loaded at least once
  // fMP4 (guarded by mutex_): segment starts by video rendition and sequence, whether any
  // rendition was fMP4 and whether one carried an audio track.
  std::map<std::string, std::map<uint64_t, double>> starts_;
  bool cmaf_seen_ = false;
  bool audio_track_seen_ = false;
};

}  // namespace iptv::probe
