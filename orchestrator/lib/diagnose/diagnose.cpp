#include "diagnose/diagnose.h"

#include <glib.h>

#include <chrono>

namespace iptv::diagnose {

using nlohmann::json;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string iso_now() {
  GDateTime *dt = g_date_time_new_now_utc();
  gchar *s = g_date_time_format_iso8601(dt);
  std::string out = s;
  g_free(s);
  g_date_time_unref(dt);
  return out;
}

// A subject is known when an entitlement, a session or an audit row names it.
bool subject_known(control::ControlStore &store, const std::string &subject) {
  if (store.entitlement(subject)) return true;
  if (!store.sessions_of(subject, false).empty()) return true;
  control::AuditFilter f;
  f.target = subject;
  f.limit = 1;
  return !store.audit_page(f).empty();
}

}  // namespace

std::string command_for(const std::string &action, const std::string &channel,
                        const std::string &arg) {
  if (action == "failover") return "iptvctl failover " + channel;
  if (action == "return") return "iptvctl failover " + channel + " --return";
  if (action == "restart") return "iptvctl restart " + channel;
  if (action == "purge") return "iptvctl purge " + channel;
  if (action == "disable-rendition")
    return "iptvctl rendition " + channel + " " + arg + " --disable";
  if (action == "enable-rendition") return "iptvctl rendition " + channel + " " + arg + " --enable";
  if (action == "new-session")
    return "iptvctl session create --channel " + channel + (arg.empty() ? "" : " --subject " + arg);
  if (action == "reload") return "kill -HUP $(pidof iptvd)";
  return "";
}

control::DiagnosisAnswer Engine::diagnose(const control::DiagnosisRequest &r) {
  auto t_all = std::chrono::steady_clock::now();
  std::string started_at = iso_now();
  control::DiagnosisAnswer a;
  Context c;
  c.req = &r;
  c.now = g_get_real_time() / 1000000;
  auto rec = deps_.records->record(r.channel_id);
  auto detail = deps_.channels->get(r.channel_id);
  if (!rec || !detail) {
    a.status = 404;
    a.error_code = "not_found";
    a.message = "no channel '" + r.channel_id + "'";
    return a;
  }
  if (!r.subject.empty() && !subject_known(*deps_.store, r.subject)) {
    a.status = 404;
    a.error_code = "unknown_subject";
    a.message = "no entitlement, session or audit record names subject '" + r.subject +
                "' (check the spelling: GET /api/v1/entitlements lists subjects)";
    return a;
  }
  c.record = *rec;
  c.detail = *detail;
  control::EventFilter ef;
  ef.channel_id = r.channel_id;
  ef.event_type = "channel.state";
  ef.limit = 5;
  c.transitions = deps_.events->page(ef).events;

  std::vector<Step> steps(10);
  for (size_t i = 0; i < steps.size(); ++i) {
    steps[i].number = (int)i + 1;
    steps[i].hop = hops()[i].first;
    steps[i].title = hops()[i].second;
  }
  auto timed = [&](Step &s, const std::function<void()> &fn) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    s.elapsed_ms = ms_since(t0);
  };
  timed(steps[0], [&] { step_entitlement(deps_, c, steps[0]); });
  timed(steps[1], [&] { step_control(c, steps[1]); });
  timed(steps[2], [&] { step_ingest(c, steps[2]); });
  timed(steps[3], [&] { step_worker(cfg_, c, steps[3]); });
  MediaUrls urls;
  std::string tok = deps_.mint ? deps_.mint(r.channel_id, 120) : "";
  std::string path = "/hls/" + r.channel_id + "/" + (tok.empty() ? "" : tok + "/") + "index.m3u8";
  urls.origin = deps_.origin_base() + path;
  if (!r.edge_url.empty()) {
    std::string base = r.edge_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    urls.edge = base + path;
  }
  steps_media(cfg_, c, urls, steps[4], steps[5], steps[6]);
  timed(steps[7], [&] { step_viewers(deps_, cfg_, c, steps[7]); });
  timed(steps[8], [&] { step_remedies(c, steps, steps[8]); });
  timed(steps[9], [&] { step_record(deps_, c, steps[9]); });

  json ctx = {{"channel_id", r.channel_id},
              {"subject", r.subject.empty() ? json(nullptr) : json(r.subject)},
              {"region", r.region.empty() ? json(nullptr) : json(r.region)},
              {"edge", r.edge_url.empty() ? json(nullptr) : json(r.edge_url)},
              {"state", c.detail.channel.state},
              {"started_at", started_at}};
  a.body = to_json(steps, ctx, ms_since(t_all));
  return a;
}

}  // namespace iptv::diagnose
