// JSON forms of the control plane's views (the shapes schemas/openapi.yaml describes).
#pragma once

#include <nlohmann/json.hpp>

#include "control/directory.h"
#include "control/store.h"

namespace iptv::control {

nlohmann::json to_json(const ChannelView &c);
nlohmann::json to_json(const ChannelDetail &d);
nlohmann::json to_json(const EventView &e);
nlohmann::json to_json(const ApiKey &k);
nlohmann::json to_json(const Entitlement &e);
nlohmann::json to_json(const Session &s);
nlohmann::json to_json(const AuditEntry &a);

}  // namespace iptv::control
