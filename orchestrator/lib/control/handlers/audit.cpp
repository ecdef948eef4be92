// handlers/audit.cpp: GET /api/v1/audit.
// Routes, roles and audit actions are declared in api_server.cpp (Impl::build_routes).
#include "control/api_impl.h"
#include "control/json_views.h"

namespace iptv::control {

using namespace api;

// ---- audit -------------------------------------------------------------------------------------

void ApiServer::Impl::h_audit(Ctx &c) {
  AuditFilter f;
  f.actor = query_str(c, "actor");
  f.action = query_str(c, "action");
  f.target = query_str(c, "target");
  f.outcome = query_str(c, "outcome");
  f.after_id = query_int(c, "after");
  f.before_id = query_int(c, "before");
  f.limit = static_cast<int>(std::clamp<int64_t>(query_int(c, "limit").value_or(100), 1, 1000));
  bool more = false;
  json arr = json::array();
  for (const auto &a : deps.store->audit_page(f, &more)) arr.push_back(to_json(a));
  reply(c, 200, {{"entries", arr}, {"more", more}});
}

}  // namespace iptv::control
