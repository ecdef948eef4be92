// handlers/channels.cpp: GET /api/v1/channels[/{id}], POST .../actions/{action}, PUT
// .../renditions/{name}. Routes, roles and audit actions are declared in api_server.cpp
// (Impl::build_routes).
#include "control/api_impl.h"
#include "control/json_views.h"

namespace iptv::control {

using namespace api;

const char *to_string(Action a) {
  switch (a) {
    case Action::kFailover:
      return "failover";
    case Action::kReturn:
      return "return";
    case Action::kRestart:
      return "restart";
    case Action::kPurge:
      return "purge";
    case Action::kRenditionDisable:
      return "rendition.disable";
    case Action::kRenditionEnable:
      return "rendition.enable";
  }
  return "unknown";
}

namespace {

int action_status(ActionResult::Code code) {
  switch (code) {
    case ActionResult::Code::kAccepted:
      return 202;
    case ActionResult::Code::kNotFound:
      return 404;
    case ActionResult::Code::kConflict:
      return 409;
    case ActionResult::Code::kUnavailable:
      return 503;
  }
  return 500;
}
const char *action_code(ActionResult::Code code) {
  switch (code) {
    case ActionResult::Code::kAccepted:
      return "accepted";
    case ActionResult::Code::kNotFound:
      return "not_found";
    case ActionResult::Code::kConflict:
      return "conflict";
    case ActionResult::Code::kUnavailable:
      return "unavailable";
  }
  return "error";
}

}  // namespace

// ---- channels ----------------------------------------------------------------------------------

void ApiServer::Impl::h_channels(Ctx &c) {
  json arr = json::array();
  std::string state = query_str(c, "state");
  for (const auto &ch : deps.channels->list())
    if (state.empty() || ch.state == state) arr.push_back(to_json(ch));
  reply(c, 200, {{"channels", arr}});
}

void ApiServer::Impl::h_channel(Ctx &c) {
  auto d = deps.channels->get(c.params["id"]);
  if (!d) return error(c, 404, "not_found", "no channel '" + c.params["id"] + "'");
  json j = to_json(*d);
  // Blocking reloads (_HLS_msn/_HLS_part) and preload-hinted part requests the origin holds now.
  uint64_t parked = 0;
  if (deps.origin) {
    OriginStats st = deps.origin->stats();
    auto it = st.parked_by_channel.find(d->channel.id);
    if (it != st.parked_by_channel.end()) parked = it->second;
  }
  j["parked_requests"] = parked;
  reply(c, 200, j);
}

void ApiServer::Impl::h_action(Ctx &c) {
  static const std::map<std::string, Action> kActions = {{"failover", Action::kFailover},
                                                         {"return", Action::kReturn},
                                                         {"restart", Action::kRestart},
                                                         {"purge", Action::kPurge}};
  auto it = kActions.find(c.params["action"]);
  if (it == kActions.end())
    return error(c, 404, "not_found", "actions are failover, return, restart and purge");
  ActionArgs args;
  args.actor = c.actor;
  ActionResult r = deps.channels->act(c.params["id"], it->second, args);
  int status = action_status(r.code);
  if (status == 409 && !r.reason.empty()) {
    c.error_code = "refused";
    return reply(c, 409, {{"error", "refused"}, {"reason", r.reason}, {"message", r.message}});
  }
  if (status >= 400) return error(c, status, action_code(r.code), r.message);
  reply(c, status,
        {{"channel_id", c.params["id"]},
         {"action", it->first},
         {"accepted", true},
         {"message", r.message}});
}

void ApiServer::Impl::h_rendition(Ctx &c) {
  json j;
  if (!parse_body(c, j)) return;
  if (!j.contains("enabled") || !j["enabled"].is_boolean())
    return error(c, 400, "invalid_request", "'enabled' (true or false) is required");
  bool enabled = j["enabled"].get<bool>();
  ActionArgs args;
  args.actor = c.actor;
  args.rendition = c.params["name"];
  ActionResult r = deps.channels->act(
      c.params["id"], enabled ? Action::kRenditionEnable : Action::kRenditionDisable, args);
  int status = action_status(r.code);
  if (status >= 400) return error(c, status, action_code(r.code), r.message);
  reply(c, status,
        {{"channel_id", c.params["id"]},
         {"rendition", c.params["name"]},
         {"enabled", enabled},
         {"accepted", true},
         {"message", r.message}});
}

}  // namespace iptv::control
