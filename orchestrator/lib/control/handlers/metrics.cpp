// handlers/metrics.cpp: GET /healthz, GET /readyz and GET /metrics (the text itself:
// control/metrics.cpp). Routes, roles and audit actions are declared in api_server.cpp
// (Impl::build_routes).
#include "control/api_impl.h"
#include "control/metrics.h"

namespace iptv::control {

using namespace api;

// ---- health, readiness, metrics ---------------------------------------------------------------

void ApiServer::Impl::h_healthz(Ctx &c) {
  // The process: this thread answers, and the database answers.
  try {
    deps.store->active_key_count();
  } catch (const std::exception &) {
    return error(c, 503, "database", "the database does not answer");
  }
  json body = {{"status", "ok"}, {"uptime_seconds", (now_ms() - started_ms) / 1000.0}};
  if (config.cluster_problem) {
    std::string p = config.cluster_problem();
    body["cluster"] = {{"etcd", p.empty() ? "ok" : "unreachable"}, {"problem", p}};
  }
  reply(c, 200, body);
}

void ApiServer::Impl::h_readyz(Ctx &c) {
  auto list = deps.channels->list();
  json not_ready = json::array();
  std::map<std::string, int> states;
  int elsewhere = 0;
  for (const auto &ch : list) {
    // In a cluster a node answers for the channels it owns; the rest are its peers' (they are
    // offline here by design, and counting them would keep every node unready).
    if (config.owns_channel && !config.owns_channel(ch.id)) {
      ++elsewhere;
      continue;
    }
    states[ch.state]++;
    if (ch.state == "disabled" || ch.state == "retired") continue;
    // Serving: live, degraded, failover and slate all keep playlists advancing.
    if (ch.state != "live" && ch.state != "degraded" && ch.state != "failover" &&
        ch.state != "slate")
      not_ready.push_back({{"id", ch.id}, {"state", ch.state}, {"reason", ch.reason}});
  }
  json body = {{"states", states}, {"not_ready", not_ready}};
  bool ready = not_ready.empty();
  if (config.owns_channel) {
    body["owned_elsewhere"] = elsewhere;
    // A node that etcd does not hear from owns nothing it can prove: not ready.
    std::string p = config.cluster_problem ? config.cluster_problem() : "";
    body["cluster"] = {{"etcd", p.empty() ? "ok" : "unreachable"}, {"problem", p}};
    if (!p.empty()) ready = false;
  }
  body["ready"] = ready;
  reply(c, ready ? 200 : 503, body);
}

void ApiServer::Impl::h_metrics(Ctx &c) {
  ControlCounters cc;
  {
    std::lock_guard lk(counters_mu);
    cc = counters;
  }
  cc.sse_clients = sse.size();
  std::string text = render_prometheus(deps.metrics->metrics(), deps.origin->stats(),
                                       http.snapshot(), cc, (now_ms() - started_ms) / 1000.0);
  set_body(c, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

}  // namespace iptv::control
