#include "daemon/self_watch.h"

#include <glib.h>

#include <algorithm>
#include <cstdio>

#include "daemon/channel_manager.h"
#include "daemon/self_watch_rules.h"
#include "hlsparse/parser.h"
#include "probe/http_client.h"
#include "probe/segment_inspect.h"

namespace iptv::daemon {

namespace {

double mono_s() {
  return (double)g_get_monotonic_time() / 1e6;
}

std::string http_problem(const probe::HttpResponse &r) {
  return r.status ? "HTTP " + std::to_string(r.status) : r.error;
}

}  // namespace

SelfWatch::SelfWatch(ChannelManager &channels, SelfWatchOptions opts)
    : channels_(channels), opts_(std::move(opts)) {}

SelfWatch::~SelfWatch() {
  stop();
}

void SelfWatch::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void SelfWatch::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SelfWatch::run() {
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds((int)(opts_.pending_interval_seconds * 1000)),
                   [this] { return stop_; });
      if (stop_) return;
    }
    double now = mono_s();
    std::map<std::string, bool> seen;
    for (const auto &v : channels_.views()) {
      if (v.pid == 0) continue;
      seen[v.channel_id] = true;
      Memory &m = memory_[v.channel_id];
      if (m.pid != v.pid) m = Memory{{}, 0, false, 0, v.pid};
      bool pending = v.state == "starting";
      bool serving =
          v.state == "live" || v.state == "degraded" || v.state == "failover" || v.state == "slate";
      if (!pending && !serving) continue;
      if (!pending && now < m.next_at) continue;
      m.next_at = now + opts_.interval_seconds;
      try {
        check(v.channel_id, m, pending, true);
      } catch (const std::exception &) {
        // A check never takes the thread down; the next one tries again.
      }
    }
    for (auto it = memory_.begin(); it != memory_.end();)
      it = seen.count(it->first) ? std::next(it) : memory_.erase(it);
  }
}

void SelfWatch::check(const std::string &id, Memory &m, bool pending, bool expect_audio) {
  std::string tok = opts_.token ? opts_.token(id) : "";
  std::string base = opts_.origin_base() + "/hls/" + id + "/" + (tok.empty() ? "" : tok + "/");
  probe::HttpClient http(opts_.http_timeout_seconds);
  std::map<std::string, std::string> problems;
  auto mv = http.get(base + "index.m3u8");
  if (!mv.ok()) {
    if (!pending) problems["unavailable"] = "multivariant playlist: " + http_problem(mv);
    channels_.post_watch(id, m.pid, false, problems);
    return;
  }
  std::vector<hlsparse::Finding> ignored;
  auto pl = hlsparse::parse(mv.body, base + "index.m3u8", ignored);
  std::vector<std::string> uris;
  for (const auto &v : pl.variants) {
    uris.push_back(v.uri);
    if (v.codecs.find("mp4a") == std::string::npos) expect_audio = false;
  }
  // A channel whose index is a media playlist itself (one rendition): watch that.
  if (!pl.multivariant && !pl.segments.empty()) uris = {"index.m3u8"};
  if (uris.empty()) {
    channels_.post_watch(id, m.pid, false, problems);
    return;
  }
  double now = mono_s();
  bool all_first = true;
  std::map<std::string, uint64_t> newest;
  std::string first_newest_url;
  for (const auto &uri : uris) {
    std::string name = uri.find('/') == std::string::npos ? "main" : uri.substr(0, uri.find('/'));
    std::string url = probe::resolve_url(base + "index.m3u8", uri);
    auto r = http.get(url);
    if (!r.ok()) {
      all_first = false;
      if (!pending) problems["unavailable"] = name + ": media playlist " + http_problem(r);
      continue;
    }
    auto mp = hlsparse::parse(r.body, url, ignored);
    if (mp.segments.empty()) {
      all_first = false;
      continue;
    }
    if (pending) {
      auto seg = http.get(probe::resolve_url(url, mp.segments.front().uri), 0, 188);
      if (!seg.ok()) all_first = false;
      continue;
    }
    newest[name] = mp.segments.back().sequence;
    if (first_newest_url.empty())
      first_newest_url = probe::resolve_url(url, mp.segments.back().uri);
    watch::check_rendition(name, r.body, mp, now, m.renditions[name], problems);
  }
  watch::check_alignment(newest, problems);
  if (!pending && expect_audio && !first_newest_url.empty() && now - m.audio_checked_at > 30) {
    m.audio_checked_at = now;
    auto seg = http.get(first_newest_url);
    if (seg.ok()) m.no_audio = watch::lacks_audio(seg.body);
  }
  if (!pending && m.no_audio) problems["no-audio"] = "the newest segment has no audio stream";
  channels_.post_watch(id, m.pid, pending && all_first, problems);
}

}  // namespace iptv::daemon
