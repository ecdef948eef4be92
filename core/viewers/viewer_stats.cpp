#include "viewers/viewer_stats.h"

#include <glib.h>

#include <algorithm>
#include <cstdio>

namespace iptv::viewers {

namespace {

bool label_safe(const std::string &s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!(g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

void add(ViewerRow &to, const ViewerRow &from) {
  to.requests += from.requests;
  to.errors += from.errors;
  to.bytes += from.bytes;
  to.cmcd_requests += from.cmcd_requests;
  to.starved += from.starved;
  to.startups += from.startups;
  to.startup_s_sum += from.startup_s_sum;
  to.startup_s_max = std::max(to.startup_s_max, from.startup_s_max);
}

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

ViewerStats::ViewerStats(ViewerStatsConfig config) : cfg_(config) {
  cfg_.window_minutes = std::max(1, cfg_.window_minutes);
  guint8 raw[32];
  for (auto &b : raw) b = (guint8)g_random_int_range(0, 256);
  salt_.assign((const char *)raw, sizeof raw);
}

std::string ViewerStats::session_hash(const std::string &sid) const {
  gchar *mac = g_compute_hmac_for_string(G_CHECKSUM_SHA256, (const guchar *)salt_.data(),
                                         salt_.size(), sid.c_str(), (gssize)sid.size());
  std::string out(mac, 16);
  g_free(mac);
  return out;
}

std::string ViewerStats::region_label(const std::string &raw) {
  std::string r;
  for (char c : raw) r.push_back(g_ascii_toupper(c));
  while (!r.empty() && r.back() == ' ') r.pop_back();
  while (!r.empty() && r.front() == ' ') r.erase(0, 1);
  if (r.empty()) return "unknown";
  if (r.size() > 16) return "other";
  for (char c : r)
    if (!(g_ascii_isalnum(c) || c == '-')) return "other";
  return r;
}

std::string ViewerStats::channel_label(const std::string &c) {
  if (!label_safe(c, 128)) return "other";
  if (renditions_.count(c)) return c;
  if (renditions_.size() >= cfg_.max_channels) return "other";
  renditions_[c];
  return c;
}

std::string ViewerStats::rendition_label(const std::string &channel, const std::string &r) {
  if (r.empty()) return "multivariant";
  if (!label_safe(r, 32)) return "other";
  auto &seen = renditions_[channel];
  if (seen.count(r)) return r;
  if (seen.size() >= cfg_.max_renditions_per_channel) return "other";
  seen[r] = true;
  return r;
}

std::string ViewerStats::region_capped(const std::string &raw) {
  std::string r = region_label(raw);
  if (r == "unknown" || r == "other" || regions_.count(r)) return r;
  if (regions_.size() >= cfg_.max_regions) return "other";
  regions_[r] = true;
  return r;
}

void ViewerStats::prune_sessions(int64_t now_ms) {
  int64_t horizon = now_ms - (int64_t)cfg_.window_minutes * 60000;
  for (auto it = sessions_.begin(); it != sessions_.end();)
    it = it->second.last_ms < horizon ? sessions_.erase(it) : std::next(it);
  last_prune_ms_ = now_ms;
}

void ViewerStats::record(const ViewerRequest &r) {
  std::lock_guard lk(mu_);
  std::string channel = channel_label(r.channel);
  std::string rendition = channel == "other" ? "other" : rendition_label(channel, r.rendition);
  bool dash = r.dash || r.cmcd.sf == "d";
  std::string device = to_string(classify_user_agent(r.user_agent, dash));
  std::string region = region_capped(r.region);
  ViewerRow d;
  d.requests = 1;
  d.errors = r.status >= 400 ? 1 : 0;
  d.bytes = r.bytes;
  // Players flag starvation (bs) on their next request, a playlist reload as often as a
  // segment: every CMCD request of a rendition counts.
  if (r.cmcd.present) {
    d.cmcd_requests = 1;
    d.starved = r.cmcd.bs ? 1 : 0;
  }
  if (!r.cmcd.sid.empty()) {
    if (r.now_ms - last_prune_ms_ > 10000) prune_sessions(r.now_ms);
    std::string h = session_hash(r.cmcd.sid);
    auto it = sessions_.find(h);
    if (it == sessions_.end() && sessions_.size() < cfg_.max_sessions)
      it = sessions_.emplace(h, SessionState{r.now_ms, r.now_ms, false, false}).first;
    if (it != sessions_.end()) {
      SessionState &s = it->second;
      s.last_ms = r.now_ms;
      if (r.cmcd.su) {
        s.saw_startup = true;
      } else if (s.saw_startup && !s.started && r.status < 400) {
        s.started = true;
        double secs = std::min(60.0, (double)(r.now_ms - s.first_ms) / 1000.0);
        d.startups = 1;
        d.startup_s_sum = secs;
        d.startup_s_max = secs;
      }
    }
  }
  Series &s = series_[Key{channel, rendition, device, region}];
  if (s.total.channel.empty()) {
    s.total.channel = channel;
    s.total.rendition = rendition;
    s.total.device = device;
    s.total.region = region;
    s.buckets.resize((size_t)cfg_.window_minutes);
  }
  add(s.total, d);
  int64_t minute = r.now_ms / 60000;
  Bucket &b = s.buckets[(size_t)(minute % cfg_.window_minutes)];
  if (b.minute != minute) {
    b.minute = minute;
    b.row = ViewerRow{};
  }
  add(b.row, d);
}

std::vector<ViewerRow> ViewerStats::window(const std::string &channel, int64_t now_ms) const {
  std::lock_guard lk(mu_);
  std::vector<ViewerRow> out;
  int64_t minute = now_ms / 60000;
  for (const auto &[key, s] : series_) {
    if (!channel.empty() && std::get<0>(key) != channel) continue;
    ViewerRow row;
    row.channel = s.total.channel;
    row.rendition = s.total.rendition;
    row.device = s.total.device;
    row.region = s.total.region;
    for (const auto &b : s.buckets)
      if (b.minute >= 0 && minute - b.minute < cfg_.window_minutes) add(row, b.row);
    if (row.requests) out.push_back(row);
  }
  return out;
}

size_t ViewerStats::sessions() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

std::string ViewerStats::prometheus(int64_t now_ms) const {
  auto win = window("", now_ms);
  std::lock_guard lk(mu_);
  std::string out;
  auto labels4 = [](const ViewerRow &r) {
    return "{channel=\"" + r.channel + "\",rendition=\"" + r.rendition + "\",device=\"" + r.device +
           "\",region=\"" + r.region + "\"}";
  };
  auto labels3 = [](const ViewerRow &r) {
    return "{channel=\"" + r.channel + "\",rendition=\"" + r.rendition + "\",device=\"" + r.device +
           "\"}";
  };
  // Rows merged over regions for the CMCD families (regions are for error rates).
  std::map<std::tuple<std::string, std::string, std::string>, ViewerRow> by3, win3;
  for (const auto &[key, s] : series_) {
    auto &r = by3[{s.total.channel, s.total.rendition, s.total.device}];
    r.channel = s.total.channel;
    r.rendition = s.total.rendition;
    r.device = s.total.device;
    add(r, s.total);
  }
  for (const auto &w : win) {
    auto &r = win3[{w.channel, w.rendition, w.device}];
    r.channel = w.channel;
    r.rendition = w.rendition;
    r.device = w.device;
    add(r, w);
  }
  auto family = [&](const char *name, const char *type, const char *help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  family("iptv_viewer_requests_total", "counter",
         "Origin requests by channel, rendition, device class and region.");
  for (const auto &[k, s] : series_)
    out += "iptv_viewer_requests_total" + labels4(s.total) + " " + num(s.total.requests) + "\n";
  family("iptv_viewer_errors_total", "counter",
         "Origin requests answered 4xx or 5xx, by channel, rendition, device class and region.");
  for (const auto &[k, s] : series_)
    out += "iptv_viewer_errors_total" + labels4(s.total) + " " + num(s.total.errors) + "\n";
  family("iptv_viewer_bytes_total", "counter",
         "Bytes served by channel, rendition, device class and region.");
  for (const auto &[k, s] : series_)
    out += "iptv_viewer_bytes_total" + labels4(s.total) + " " + num(s.total.bytes) + "\n";
  family("iptv_viewer_cmcd_requests_total", "counter",
         "Requests carrying CMCD, by channel, rendition and device class.");
  for (const auto &[k, r] : by3)
    out += "iptv_viewer_cmcd_requests_total" + labels3(r) + " " + num(r.cmcd_requests) + "\n";
  family("iptv_viewer_buffer_starvations_total", "counter",
         "Requests whose CMCD reported buffer starvation (bs).");
  for (const auto &[k, r] : by3)
    out += "iptv_viewer_buffer_starvations_total" + labels3(r) + " " + num(r.starved) + "\n";
  family("iptv_viewer_rebuffer_ratio", "gauge",
         "Share of CMCD requests reporting starvation over the last window (15 min).");
  for (const auto &[k, r] : win3)
    if (r.cmcd_requests)
      out += "iptv_viewer_rebuffer_ratio" + labels3(r) + " " + num(r.rebuffer_ratio()) + "\n";
  family("iptv_viewer_startup_seconds", "summary",
         "Startup time of CMCD sessions (first request to the first not marked su).");
  for (const auto &[k, r] : by3) {
    out += "iptv_viewer_startup_seconds_sum" + labels3(r) + " " + num(r.startup_s_sum) + "\n";
    out += "iptv_viewer_startup_seconds_count" + labels3(r) + " " + num(r.startups) + "\n";
  }
  family("iptv_viewer_sessions", "gauge", "CMCD sessions seen over the last window (hashed ids).");
  out += "iptv_viewer_sessions " + num((double)sessions_.size()) + "\n";
  return out;
}

}  // namespace iptv::viewers
