// Steps 8-10 of the diagnosis (diagnose.h): viewer-side rates, the remedies available now, and
// the channel's incident notes.
#include <glib.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "diagnose/diagnose.h"

namespace iptv::diagnose {

using nlohmann::json;

namespace {

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", v * 100);
  return b;
}

}  // namespace

// ---- 8. viewers ----------------------------------------------------------------------------

void step_viewers(const EngineDeps &d, const EngineConfig &cfg, const Context &c, Step &s) {
  const std::string &id = c.record.channel_id;
  if (!d.viewers) {
    s.status = Status::kSkip;
    s.summary = "this daemon counts no viewer requests";
    return;
  }
  auto rows = d.viewers->window(id, g_get_real_time() / 1000);
  // By (rendition, device) for rebuffering; by (device, region) for errors.
  std::map<std::pair<std::string, std::string>, viewers::ViewerRow> by_rd, by_dr;
  viewers::ViewerRow total;
  auto add = [](viewers::ViewerRow &to, const viewers::ViewerRow &r) {
    to.requests += r.requests;
    to.errors += r.errors;
    to.bytes += r.bytes;
    to.cmcd_requests += r.cmcd_requests;
    to.starved += r.starved;
    to.startups += r.startups;
    to.startup_s_sum += r.startup_s_sum;
    to.startup_s_max = std::max(to.startup_s_max, r.startup_s_max);
  };
  for (const auto &r : rows) {
    add(by_rd[{r.rendition, r.device}], r);
    add(by_dr[{r.device, r.region}], r);
    add(total, r);
  }
  json series = json::array();
  for (const auto &r : rows)
    series.push_back({{"rendition", r.rendition},
                      {"device", r.device},
                      {"region", r.region},
                      {"requests", r.requests},
                      {"errors", r.errors},
                      {"cmcd_requests", r.cmcd_requests},
                      {"starved", r.starved},
                      {"rebuffer_ratio", r.rebuffer_ratio()},
                      {"startups", r.startups},
                      {"startup_seconds_mean", r.startups ? r.startup_s_sum / r.startups : 0.0}});
  s.data = {{"window_minutes", 15}, {"series", series}, {"requests", total.requests}};
  if (total.requests == 0) {
    s.summary = "no viewer requests in the last 15 minutes";
    return;
  }
  s.summary = std::to_string(total.requests) + " viewer requests, " + pct(total.error_ratio()) +
              " errors, rebuffer " + pct(total.rebuffer_ratio()) + " in the last 15 minutes";
  std::string worst_rendition;
  double worst = 0;
  for (const auto &[k, r] : by_rd) {
    std::string line = "rendition " + k.first + " on " + k.second + ": " +
                       std::to_string(r.cmcd_requests) + " CMCD requests, " +
                       std::to_string(r.starved) + " starved (" + pct(r.rebuffer_ratio()) + ")";
    if (r.startups)
      line += ", startup " + std::to_string(r.startup_s_sum / r.startups).substr(0, 4) + " s";
    s.evidence.push_back(line);
    if (r.cmcd_requests >= cfg.min_cmcd_requests && r.rebuffer_ratio() >= cfg.rebuffer_fail_ratio &&
        r.rebuffer_ratio() > worst && k.first != "multivariant") {
      worst = r.rebuffer_ratio();
      worst_rendition = k.first;
    }
  }
  for (const auto &[k, r] : by_dr) {
    if (r.requests < cfg.min_requests || r.error_ratio() < cfg.error_fail_ratio) continue;
    s.fail(k.first + " viewers in region " + k.second + ": " + pct(r.error_ratio()) + " of " +
           std::to_string(r.requests) + " requests failed");
    s.remedy =
        "look at the failing requests' reasons (iptv_token_denials_total, the origin's "
        "X-Iptv-Deny) and purge cached manifests";
    s.command = command_for("purge", c.record.channel_id);
  }
  if (!worst_rendition.empty()) {
    std::string why = "players report buffer starvation (CMCD bs) on rendition " + worst_rendition +
                      ": " + pct(worst) + " of their CMCD requests";
    s.status = Status::kFail;
    s.summary = why;
    s.evidence.push_back(why);
    s.remedy = "viewers cannot sustain " + worst_rendition +
               ": disable it so players switch down (and check its bitrate and the path to them)";
    s.command = command_for("disable-rendition", c.record.channel_id, worst_rendition);
  }
}

// ---- 9. remedies ---------------------------------------------------------------------------

void step_remedies(const Context &c, const std::vector<Step> &before, Step &s) {
  const auto &d = c.detail;
  const std::string &id = c.record.channel_id;
  json list = json::array();
  auto offer = [&](const std::string &action, const std::string &why, const std::string &arg = "") {
    std::string cmd = command_for(action, id, arg);
    list.push_back({{"action", action}, {"why", why}, {"command", cmd}});
    s.evidence.push_back(action + (arg.empty() ? "" : " " + arg) + ": " + cmd + "  (" + why + ")");
  };
  bool running = d.worker_pid != 0;
  bool has_backup = std::any_of(d.sources.begin(), d.sources.end(),
                                [](const auto &x) { return x.role == "backup"; });
  bool backup_ok = std::any_of(d.sources.begin(), d.sources.end(),
                               [](const auto &x) { return x.role == "backup" && x.healthy; });
  if (running && has_backup && d.channel.active_source == "primary")
    offer("failover", backup_ok ? "the backup is healthy" : "the backup is NOT healthy now");
  if (running && d.channel.active_source != "primary" && d.channel.active_source != "none")
    offer("return", "back to the primary once it is healthy");
  offer("purge", "edges and players refetch the manifests (new ETags, no-cache for 60 s)");
  if (!c.record.passthrough() && running)
    for (const auto &r : d.renditions)
      offer(
          r.enabled ? "disable-rendition" : "enable-rendition",
          r.enabled ? "take one broken rung out of the multivariant playlist" : "put the rung back",
          r.name);
  if (c.record.status == ChannelStatus::kActive) offer("restart", "a new worker process");
  s.data = {{"available", list}};
  int f = first_failing(before);
  if (f >= 0 && f < 8 && !before[(size_t)f].command.empty()) {
    s.summary = "for the failing hop (" + before[(size_t)f].hop + "): " + before[(size_t)f].command;
    s.data["recommended"] = {{"hop", before[(size_t)f].hop},
                             {"action", before[(size_t)f].remedy},
                             {"command", before[(size_t)f].command}};
  } else {
    s.summary = std::to_string(list.size()) + " remedies available; none needed";
    s.data["recommended"] = nullptr;
  }
}

// ---- 10. record ----------------------------------------------------------------------------

void step_record(const EngineDeps &d, const Context &c, Step &s) {
  control::EventFilter f;
  f.channel_id = c.record.channel_id;
  f.event_type = "incident.note";
  f.limit = 5;
  json notes = json::array();
  for (const auto &e : d.events->page(f).events) {
    json det = json::parse(e.detail_json, nullptr, false);
    std::string cause = det.is_object() ? det.value("cause", std::string()) : "";
    notes.push_back({{"id", e.id}, {"at_ms", e.created_at_ms}, {"cause", cause}});
    s.evidence.push_back("incident " + std::to_string(e.id) + ": " + cause);
  }
  s.data = {{"incidents", notes}};
  s.summary = notes.empty() ? "no incident notes yet (iptvctl diagnose --record \"CAUSE\")"
                            : std::to_string(notes.size()) + " recent incident note(s)";
}

}  // namespace iptv::diagnose
