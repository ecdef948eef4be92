// The incident workflow as one request: GET /api/v1/channels/{id}/diagnosis runs the ten steps
// of docs/runbook.md against the running daemon and answers with schemas/diagnosis.schema.json.
// The control plane defines this interface; the daemon implements it (lib/diagnose) and passes
// it in ApiDeps. diagnose() blocks for seconds (it fetches the channel through the origin and
// decodes it): the API calls it on a thread of its own, never on the server's thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace iptv::control {

struct DiagnosisRequest {
  std::string channel_id;
  std::string subject;   // "" none: the entitlement step checks the channel's own rules
  std::string region;    // "" the entitlement's
  std::string edge_url;  // "" none: step 6 is skipped; else an http(s) base URL of an edge
};

struct DiagnosisAnswer {
  int status = 200;        // 200 with `body`; 404 unknown channel or subject; 5xx
  std::string error_code;  // when status != 200
  std::string message;
  nlohmann::json body;  // the diagnosis (schemas/diagnosis.schema.json)
};

class Diagnoser {
 public:
  virtual ~Diagnoser() = default;
  virtual DiagnosisAnswer diagnose(const DiagnosisRequest &r) = 0;
};

}  // namespace iptv::control
