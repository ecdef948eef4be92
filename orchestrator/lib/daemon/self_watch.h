// iptvd watching its own output the way a viewer fetches it: through its own origin over HTTP
// (with a short token it mints), never from the disk. One thread; results are posted to the main
// loop (ChannelManager::on_watch), which hands them to the channel's runner.
//
// For a worker run whose output was not yet served (the worker says live, the API still says
// `starting`), every 250 ms: the multivariant playlist, each enabled rendition's media
// playlist and its first listed segment must all answer 2xx; then the channel may be `live`.
// For a serving channel, every `interval`: each media playlist is fetched and checked by the
// rules in self_watch_rules.h (stale, continuity, misaligned; no-audio on the first rendition's
// newest segment every 30 s, only for records with audio), and
//   unavailable a playlist fetch failed (status or transport)
// Each holding condition becomes a `probe.condition.raised` event (source origin, stream
// output), the probe metrics, and the state `degraded` with its reason while the worker says
// live. Requests carry the probe's User-Agent, so viewer metrics do not count them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/self_watch_rules.h"

namespace iptv::daemon {

class ChannelManager;

struct SelfWatchOptions {
  double interval_seconds = 2.0;           // serving channels
  double pending_interval_seconds = 0.25;  // channels waiting to be playable
  int http_timeout_seconds = 3;
  std::function<std::string()> origin_base;                      // "http://127.0.0.1:8080"
  std::function<std::string(const std::string &channel)> token;  // path segment ("" none)
};

class SelfWatch {
 public:
  SelfWatch(ChannelManager &channels, SelfWatchOptions opts);
  ~SelfWatch();  // stops the thread
  void start();
  void stop();

 private:
  struct Memory {
    std::map<std::string, watch::RenditionMemory> renditions;  // by rendition
    double audio_checked_at = 0;
    bool no_audio = false;
    double next_at = 0;
    int pid = 0;
  };
  void run();
  void check(const std::string &id, Memory &m, bool pending, bool expect_audio);

  ChannelManager &channels_;
  SelfWatchOptions opts_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, Memory> memory_;  // by channel (the watch thread only)
};

}  // namespace iptv::daemon
