#include "control/metrics.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <cstdio>
#include <set>

namespace iptv::control {

std::string HttpStats::method_label(std::string_view method) {
  // Any token is a valid HTTP method on the wire: only these become label values, so a client
  // cannot add series by inventing methods.
  static const char *const kKnown[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  for (const char *m : kKnown)
    if (method == m) return m;
  return "other";
}

void HttpStats::record(const std::string &route, const std::string &method, int status,
                       double seconds) {
  // Statuses come from the server, but one outside 1xx..5xx (a bug) still gets one series.
  if (status < 100 || status > 599) status = 0;
  std::lock_guard lk(mu_);
  s_.requests[{route, method_label(method), status}]++;
  Histogram &h = s_.latency[route];
  h.count++;
  h.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      h.buckets[i]++;
      break;
    }
  }
}

HttpStats::Snapshot HttpStats::snapshot() const {
  std::lock_guard lk(mu_);
  return s_;
}

double HttpStats::quantile(const Histogram &h, double q) {
  if (h.count == 0) return 0;
  uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(h.count))), seen = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    seen += h.buckets[i];
    if (seen >= want) return kBuckets[i];
  }
  return INFINITY;
}

std::string prom_label_escape(const std::string &v) {
  std::string o;
  for (char c : v) {
    if (c == '\\')
      o += "\\\\";
    else if (c == '"')
      o += "\\\"";
    else if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

namespace {

std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Shorter when exact.
  char s2[64];
  std::snprintf(s2, sizeof s2, "%.6g", v);
  if (std::strtod(s2, nullptr) == v) return s2;
  return buf;
}
std::string num(uint64_t v) {
  return std::to_string(v);
}

class Writer {
 public:
  void family(const std::string &name, const char *type, const std::string &help) {
    if (!families_.insert(name).second) return;
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string &name,
              const std::vector<std::pair<std::string, std::string>> &labels,
              const std::string &value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += "{";
      bool first = true;
      for (const auto &[k, v] : labels) {
        if (!first) out_ += ",";
        first = false;
        out_ += k + "=\"" + prom_label_escape(v) + "\"";
      }
      out_ += "}";
    }
    out_ += " " + value + "\n";
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::set<std::string> families_;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

// The families of render_prometheus, in the order written: per channel, rendition and probe;
// the webhooks, origin and HTTP server; the control plane and HTTP requests.
void write_channels(Writer &w, const MetricsSnapshot &m) {
  w.family("iptv_channel_state", "gauge",
           "Channel state: 1 for the current state, 0 for the others.");
  for (const auto &c : m.channels)
    for (const auto &s : channel_states())
      w.sample("iptv_channel_state", {{"channel", c.id}, {"state", s}}, c.state == s ? "1" : "0");
  w.family("iptv_channel_packaging_info", "gauge",
           "Always 1; the channel's segment format (ts or fmp4) and whether it has a DASH MPD.");
  for (const auto &c : m.channels)
    w.sample("iptv_channel_packaging_info",
             {{"channel", c.id},
              {"segment_format", c.segment_format},
              {"dash", c.dash ? "true" : "false"}},
             "1");
  w.family("iptv_channel_restarts_total", "counter", "Worker restarts since the daemon started.");
  for (const auto &c : m.channels)
    w.sample("iptv_channel_restarts_total", {{"channel", c.id}}, num(c.restarts));
  w.family("iptv_channel_failovers_total", "counter", "Failovers to the backup source.");
  for (const auto &c : m.channels)
    w.sample("iptv_channel_failovers_total", {{"channel", c.id}}, num(c.failovers));
  w.family("iptv_worker_cpu_seconds_total", "counter",
           "CPU time (user+system) of the channel's workers.");
  for (const auto &c : m.channels)
    w.sample("iptv_worker_cpu_seconds_total", {{"channel", c.id}}, num(c.worker_cpu_seconds));
  w.family("iptv_worker_memory_bytes", "gauge", "Resident memory of the channel's worker.");
  for (const auto &c : m.channels)
    w.sample("iptv_worker_memory_bytes", {{"channel", c.id}}, num(c.worker_memory_bytes));

  auto per_rendition = [&](const std::string &name, const char *type, const std::string &help,
                           auto value, auto include) {
    w.family(name, type, help);
    for (const auto &c : m.channels)
      for (const auto &r : c.renditions)
        if (include(r)) w.sample(name, {{"channel", c.id}, {"rendition", r.name}}, value(r));
  };
  auto always = [](const RenditionMetric &) { return true; };
  per_rendition(
      "iptv_rendition_enabled", "gauge", "1 when the rendition is enabled.",
      [](const RenditionMetric &r) { return std::string(r.enabled ? "1" : "0"); }, always);
  per_rendition(
      "iptv_rendition_last_segment_age_seconds", "gauge",
      "Seconds since the rendition's last segment was written.",
      [](const RenditionMetric &r) { return num(r.last_segment_age_s); },
      [](const RenditionMetric &r) { return r.last_segment_age_s >= 0; });
  per_rendition(
      "iptv_rendition_last_part_age_seconds", "gauge",
      "Low-latency HLS: seconds since the rendition's newest part was published.",
      [](const RenditionMetric &r) { return num(r.last_part_age_s); },
      [](const RenditionMetric &r) { return r.last_part_age_s >= 0; });
  per_rendition(
      "iptv_rendition_segments_total", "counter", "Segments written.",
      [](const RenditionMetric &r) { return num(r.segments); }, always);
  per_rendition(
      "iptv_rendition_bytes_total", "counter", "Segment bytes written.",
      [](const RenditionMetric &r) { return num(r.bytes); }, always);
  per_rendition(
      "iptv_rendition_bitrate_bytes_per_second", "gauge",
      "Measured output bitrate in bytes per second (x8 for bit/s).",
      [](const RenditionMetric &r) { return num(r.bitrate_bps / 8); }, always);
  per_rendition(
      "iptv_rendition_encoder_fps", "gauge", "Encoder output frames per second.",
      [](const RenditionMetric &r) { return num(r.fps); }, always);

  w.family("iptv_probe_condition_activations_total", "counter",
           "Times a probe condition (gap, silence, black, freeze, timestamp) became active.");
  for (const auto &c : m.channels)
    for (const auto &p : c.probes)
      w.sample("iptv_probe_condition_activations_total",
               {{"channel", c.id}, {"condition", p.condition}, {"stream", p.stream}},
               num(p.activations));
  w.family("iptv_probe_condition_active", "gauge", "1 while a probe condition is active.");
  for (const auto &c : m.channels)
    for (const auto &p : c.probes)
      w.sample("iptv_probe_condition_active",
               {{"channel", c.id}, {"condition", p.condition}, {"stream", p.stream}},
               p.active ? "1" : "0");
}

void write_server(Writer &w, const MetricsSnapshot &m, const OriginStats &origin) {
  w.family("iptv_webhook_outbox_depth", "gauge", "Events waiting for webhook delivery.");
  w.sample("iptv_webhook_outbox_depth", {}, num(m.webhook_outbox_depth));
  w.family("iptv_webhook_delivery_failures_total", "counter", "Failed webhook delivery attempts.");
  w.sample("iptv_webhook_delivery_failures_total", {}, num(m.webhook_delivery_failures));
  w.family("iptv_webhook_deliveries_total", "counter", "Successful webhook deliveries.");
  w.sample("iptv_webhook_deliveries_total", {}, num(m.webhook_deliveries));

  w.family("iptv_origin_requests_total", "counter", "Requests the HLS origin answered.");
  w.sample("iptv_origin_requests_total", {}, num(origin.requests));
  w.family("iptv_origin_bytes_total", "counter", "Body bytes the HLS origin served.");
  w.sample("iptv_origin_bytes_total", {}, num(origin.bytes));
  w.family("iptv_token_denials_total", "counter", "Origin requests refused, by reason.");
  for (const auto &[reason, n] : origin.denials)
    w.sample("iptv_token_denials_total", {{"reason", reason}}, num(n));
  w.family("iptv_origin_edge_auth_total", "counter",
           "Edge authorization requests (/hls-auth) by outcome (ok or the refusal reason).");
  for (const auto &[outcome, n] : origin.edge_auth)
    w.sample("iptv_origin_edge_auth_total", {{"outcome", outcome}}, num(n));
  w.family("iptv_origin_parked_requests", "gauge",
           "Playlist requests parked now (blocking reload, _HLS_msn) until a publish.");
  w.sample("iptv_origin_parked_requests", {}, num(origin.parked));
  w.family("iptv_channel_parked_requests", "gauge",
           "Requests the origin holds now for a channel: blocking reloads (_HLS_msn, _HLS_part) "
           "and preload-hinted parts not yet published (served channels only).");
  for (const auto &[channel, n] : origin.parked_by_channel)
    w.sample("iptv_channel_parked_requests", {{"channel", channel}}, num(n));
  w.family("iptv_origin_parked_total", "counter",
           "Parked playlist requests ended, by outcome (answered: a publish satisfied it; "
           "timeout: 503 after 3 target durations; gone: the client left).");
  for (const auto &[outcome, n] : std::initializer_list<std::pair<const char *, uint64_t>>{
           {"answered", origin.parked_answered},
           {"timeout", origin.parked_timeouts},
           {"gone", origin.parked_gone}})
    w.sample("iptv_origin_parked_total", {{"outcome", outcome}}, num(n));

  w.family("iptv_open_fds", "gauge", "File descriptors open in the daemon.");
  w.sample("iptv_open_fds", {}, num(static_cast<uint64_t>(std::max(0L, count_open_fds()))));
  w.family("iptv_http_connections", "gauge", "Client connections open on the HTTP server.");
  w.sample("iptv_http_connections", {}, num(origin.connections.open));
  w.family("iptv_http_connections_closed_total", "counter",
           "Client connections the HTTP server closed, by reason (peer_closed: the client "
           "closed an idle keep-alive connection).");
  for (const auto &[reason, n] : std::initializer_list<std::pair<const char *, uint64_t>>{
           {"peer_closed", origin.connections.peer_closed},
           {"idle_timeout", origin.connections.idle_timeouts},
           {"header_timeout", origin.connections.header_timeouts},
           {"shed", origin.connections.shed}})
    w.sample("iptv_http_connections_closed_total", {{"reason", reason}}, num(n));
}

void write_control(Writer &w, const HttpStats::Snapshot &http, const ControlCounters &control) {
  w.family("iptv_sessions_total", "counter",
           "Playback session requests by outcome (ok or the refusal reason).");
  for (const auto &[outcome, n] : control.session_outcomes)
    w.sample("iptv_sessions_total", {{"outcome", outcome}}, num(n));
  w.family("iptv_api_auth_failures_total", "counter", "API requests refused with 401 or 403.");
  w.sample("iptv_api_auth_failures_total", {}, num(control.api_auth_failures));
  w.family("iptv_event_stream_clients", "gauge", "Clients following /api/v1/events/stream.");
  w.sample("iptv_event_stream_clients", {}, num(control.sse_clients));

  w.family("iptv_http_requests_total", "counter", "HTTP requests by route, method and status.");
  for (const auto &[k, n] : http.requests)
    w.sample("iptv_http_requests_total",
             {{"route", std::get<0>(k)},
              {"method", std::get<1>(k)},
              {"status", std::to_string(std::get<2>(k))}},
             num(n));
  w.family("iptv_http_request_duration_seconds", "histogram",
           "HTTP request handling time by route.");
  for (const auto &[route, h] : http.latency) {
    uint64_t cum = 0;
    for (size_t i = 0; i < HttpStats::kBuckets.size(); ++i) {
      cum += h.buckets[i];
      w.sample("iptv_http_request_duration_seconds_bucket",
               {{"route", route}, {"le", num(HttpStats::kBuckets[i])}}, num(cum));
    }
    w.sample("iptv_http_request_duration_seconds_bucket", {{"route", route}, {"le", "+Inf"}},
             num(h.count));
    w.sample("iptv_http_request_duration_seconds_sum", {{"route", route}}, num(h.sum));
    w.sample("iptv_http_request_duration_seconds_count", {{"route", route}}, num(h.count));
  }
}

}  // namespace

std::string render_prometheus(const MetricsSnapshot &m, const OriginStats &origin,
                              const HttpStats::Snapshot &http, const ControlCounters &control,
                              double uptime_seconds) {
  Writer w;
  // Families are written one at a time (every sample of a family together), as the format needs.
  w.family("iptv_up", "gauge", "1 while the daemon serves.");
  w.sample("iptv_up", {}, "1");
  w.family("iptv_uptime_seconds", "gauge", "Seconds since the control plane started.");
  w.sample("iptv_uptime_seconds", {}, num(uptime_seconds));
  write_channels(w, m);
  write_server(w, m, origin);
  write_control(w, http, control);
  return w.take() + m.viewer_metrics;
}

}  // namespace iptv::control
