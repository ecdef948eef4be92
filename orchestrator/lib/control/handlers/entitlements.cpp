// handlers/entitlements.cpp: GET/POST /api/v1/entitlements and GET/PUT/DELETE
// /api/v1/entitlements/{subject}. Routes, roles and audit actions are declared in api_server.cpp
// (Impl::build_routes).
#include <glib.h>

#include <set>

#include "control/api_impl.h"
#include "control/json_views.h"

namespace iptv::control {

using namespace api;

// ---- entitlements ------------------------------------------------------------------------------

void ApiServer::Impl::h_ent_list(Ctx &c) {
  int limit = static_cast<int>(std::clamp<int64_t>(query_int(c, "limit").value_or(100), 1, 1000));
  auto list = deps.store->entitlements(limit + 1, query_str(c, "after"));
  bool more = static_cast<int>(list.size()) > limit;
  if (more) list.pop_back();
  json arr = json::array();
  for (const auto &e : list) arr.push_back(to_json(e));
  reply(c, 200, {{"entitlements", arr}, {"more", more}});
}

void ApiServer::Impl::h_ent_get(Ctx &c) {
  auto e = deps.store->entitlement(c.params["subject"]);
  if (!e) return error(c, 404, "not_found", "no entitlement for this subject");
  reply(c, 200, to_json(*e));
}

void ApiServer::Impl::h_ent_put(Ctx &c, bool create) {
  json j;
  if (!parse_body(c, j)) return;
  Entitlement e;
  if (create) {
    if (!get_string(c, j, "subject", e.subject, true)) return;
    if (!valid_name(e.subject)) return error(c, 400, "invalid_request", "'subject' is not a name");
    c.params["subject"] = e.subject;
    if (deps.store->entitlement(e.subject))
      return error(c, 409, "conflict", "the subject has an entitlement; use PUT to replace it");
  } else {
    e.subject = c.params["subject"];
    std::string body_subject;
    if (!get_string(c, j, "subject", body_subject, false)) return;
    if (!body_subject.empty() && body_subject != e.subject)
      return error(c, 400, "invalid_request", "'subject' differs from the path");
  }
  if (!get_string_list(c, j, "channels", e.channels) ||
      !get_string_list(c, j, "groups", e.groups) || !get_string(c, j, "tier", e.tier, false) ||
      !get_string(c, j, "region", e.region, false))
    return;
  if (!e.region.empty() && !valid_name(e.region))
    return error(c, 400, "invalid_request", "'region' is not a name");
  if (!valid_tier(e.tier))
    return error(c, 400, "invalid_request",
                 "'tier' is up to 64 letters, digits, spaces and . _ - + (no control characters)");
  if (j.contains("expires_at") && !j["expires_at"].is_null()) {
    if (!j["expires_at"].is_string())
      return error(c, 400, "invalid_request", "'expires_at' must be ISO 8601");
    GTimeZone *utc = g_time_zone_new_utc();
    GDateTime *dt = g_date_time_new_from_iso8601(j["expires_at"].get<std::string>().c_str(), utc);
    g_time_zone_unref(utc);
    if (!dt) return error(c, 400, "invalid_request", "'expires_at' must be ISO 8601");
    e.expires_at = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
  }
  for (const auto &k : j.items()) {
    static const std::set<std::string> known = {"subject", "channels", "groups",
                                                "tier",    "region",   "expires_at"};
    if (!known.count(k.key()))
      return error(c, 400, "invalid_request", "unknown field '" + k.key() + "'");
  }
  e.updated_at = now_unix();
  deps.store->put_entitlement(e);
  reply(c, create ? 201 : 200, to_json(e));
}

void ApiServer::Impl::h_ent_delete(Ctx &c) {
  if (!deps.store->delete_entitlement(c.params["subject"]))
    return error(c, 404, "not_found", "no entitlement for this subject");
  set_body(c, 204, "application/json", "");
}

}  // namespace iptv::control
