// handlers/diagnosis.cpp: GET /api/v1/channels/{id}/diagnosis (the ten-step incident workflow,
// run by the daemon's Diagnoser on a thread of its own while the request waits, paused), and the
// channel's incident notes: POST / GET /api/v1/channels/{id}/incidents. Routes, roles and audit
// actions are declared in api_server.cpp (Impl::build_routes).
#include <glib.h>

#include <thread>

#include "control/api_impl.h"
#include "control/json_views.h"

namespace iptv::control {

using namespace api;

namespace {

constexpr int kMaxConcurrentDiagnoses = 4;

bool valid_edge_url(const std::string &u) {
  if (u.size() > 512 || !(starts_with(u, "http://") || starts_with(u, "https://"))) return false;
  GUri *uri = g_uri_parse(u.c_str(), G_URI_FLAGS_NONE, nullptr);
  if (!uri) return false;
  bool ok = g_uri_get_host(uri) && *g_uri_get_host(uri) && !g_uri_get_query(uri) &&
            !g_uri_get_fragment(uri) && !g_uri_get_userinfo(uri);
  g_uri_unref(uri);
  return ok;
}

bool printable(const std::string &s) {
  for (unsigned char ch : s)
    if (ch < 0x20 || ch == 0x7f) return false;
  return true;
}

struct Pending {
  std::shared_ptr<ApiServer::Impl> self;
  SoupServerMessage *msg;
  DiagnosisAnswer answer;
};

}  // namespace

void ApiServer::Impl::h_diagnosis(Ctx &c) {
  if (!deps.diagnoser) return error(c, 503, "unavailable", "this server runs no diagnosis");
  DiagnosisRequest r;
  r.channel_id = c.params["id"];
  r.subject = query_str(c, "subject");
  r.region = query_str(c, "region");
  r.edge_url = query_str(c, "edge");
  if ((!r.subject.empty() && !valid_name(r.subject)) ||
      (!r.region.empty() && !valid_name(r.region)))
    return error(c, 400, "invalid_request", "subject and region must be names");
  if (!r.edge_url.empty() && !valid_edge_url(r.edge_url))
    return error(c, 400, "invalid_request",
                 "edge must be an http(s) base URL with a host and no query, fragment or user "
                 "('http://edge.example:8081')");
  if (!deps.records->record(r.channel_id))
    return error(c, 404, "not_found", "no channel '" + r.channel_id + "'");
  if (diagnosing.fetch_add(1) >= kMaxConcurrentDiagnoses) {
    diagnosing.fetch_sub(1);
    return error(c, 429, "busy", "diagnoses are already running; ask again in a few seconds");
  }
  // The answer comes from a thread of its own; the request waits, paused, meanwhile.
  soup_server_message_pause(c.msg);
  g_object_ref(c.msg);
  GMainContext *ctx = g_main_context_ref(context);
  std::thread([self = shared_from_this(), msg = c.msg, r, ctx] {
    DiagnosisAnswer a;
    try {
      a = self->deps.diagnoser->diagnose(r);
    } catch (const std::exception &e) {
      a.status = 500;
      a.error_code = "internal";
      a.message = std::string("diagnosis failed: ") + e.what();
    }
    self->diagnosing.fetch_sub(1);
    g_main_context_invoke_full(
        ctx, G_PRIORITY_DEFAULT,
        [](gpointer data) -> gboolean {
          auto *p = static_cast<Pending *>(data);
          Ctx out;
          out.msg = p->msg;
          if (p->answer.status == 200)
            reply(out, 200, p->answer.body);
          else
            error(out, p->answer.status, p->answer.error_code, p->answer.message);
          soup_server_message_unpause(p->msg);
          return G_SOURCE_REMOVE;
        },
        new Pending{self, msg, std::move(a)},
        [](gpointer data) {
          auto *p = static_cast<Pending *>(data);
          g_object_unref(p->msg);
          delete p;
        });
    g_main_context_unref(ctx);
  }).detach();
}

void ApiServer::Impl::h_incident_post(Ctx &c) {
  json j;
  if (!parse_body(c, j)) return;
  IncidentNote n;
  if (!get_string(c, j, "cause", n.cause, true) ||
      !get_string(c, j, "first_failing_hop", n.first_failing_hop, false))
    return;
  if (trim(n.cause).empty() || n.cause.size() > 1000 || !printable(n.cause))
    return error(c, 400, "invalid_request",
                 "'cause' is 1 to 1000 printable characters (no control characters)");
  if (!n.first_failing_hop.empty() && !valid_name(n.first_failing_hop))
    return error(c, 400, "invalid_request", "'first_failing_hop' must be a name");
  n.actor = c.actor;
  ActionResult r = deps.channels->note_incident(c.params["id"], n);
  if (r.code == ActionResult::Code::kNotFound) return error(c, 404, "not_found", r.message);
  if (r.code != ActionResult::Code::kAccepted) return error(c, 503, "unavailable", r.message);
  reply(c, 202,
        {{"channel_id", c.params["id"]},
         {"event_type", "incident.note"},
         {"cause", n.cause},
         {"first_failing_hop", n.first_failing_hop},
         {"accepted", true}});
}

void ApiServer::Impl::h_incidents(Ctx &c) {
  if (!deps.records->record(c.params["id"]))
    return error(c, 404, "not_found", "no channel '" + c.params["id"] + "'");
  EventFilter f;
  f.channel_id = c.params["id"];
  f.event_type = "incident.note";
  f.limit = 100;
  if (auto l = query_int(c, "limit")) {
    if (*l < 1 || *l > 1000) return error(c, 400, "invalid_request", "limit is 1..1000");
    f.limit = (int)*l;
  }
  json arr = json::array();
  for (const auto &e : deps.events->page(f).events) arr.push_back(to_json(e));
  reply(c, 200, {{"channel_id", c.params["id"]}, {"incidents", arr}});
}

}  // namespace iptv::control
