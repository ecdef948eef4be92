// handlers/keys.cpp: GET/POST /api/v1/keys and DELETE /api/v1/keys/{id}.
// Routes, roles and audit actions are declared in api_server.cpp (Impl::build_routes).
#include "control/api_impl.h"
#include "control/json_views.h"

namespace iptv::control {

using namespace api;

// ---- keys --------------------------------------------------------------------------------------

void ApiServer::Impl::h_keys_list(Ctx &c) {
  json arr = json::array();
  for (const auto &k : deps.store->keys()) arr.push_back(to_json(k));
  reply(c, 200, {{"keys", arr}});
}

void ApiServer::Impl::h_key_create(Ctx &c) {
  json j;
  if (!parse_body(c, j)) return;
  std::string name, role_s;
  if (!get_string(c, j, "name", name, true) || !get_string(c, j, "role", role_s, true)) return;
  auto role = role_from_string(role_s);
  if (!role) return error(c, 400, "invalid_request", "'role' is read, operator or admin");
  if (name.empty() || name.size() > 200)
    return error(c, 400, "invalid_request", "'name' is 1..200 characters");
  ApiKey k;
  std::string secret = deps.store->create_key(name, *role, &k);
  c.params["id"] = k.id;
  json body = to_json(k);
  body["key"] = secret;  // the only time it is shown
  reply(c, 201, body);
}

void ApiServer::Impl::h_key_delete(Ctx &c) {
  if (c.key && c.key->id == c.params["id"])
    return error(c, 409, "conflict", "a key cannot revoke itself");
  if (!deps.store->revoke_key(c.params["id"]))
    return error(c, 404, "not_found", "no such active key");
  set_body(c, 204, "application/json", "");
}

}  // namespace iptv::control
