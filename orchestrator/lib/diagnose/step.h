// One step of the incident workflow (docs/runbook.md) as the diagnosis reports it, and the JSON
// of a whole diagnosis (schemas/diagnosis.schema.json). Pure: unit-tested.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iptv::diagnose {

enum class Status { kPass, kWarn, kFail, kSkip };
const char *to_string(Status s);  // PASS WARN FAIL SKIP

struct Step {
  int number = 0;
  std::string hop;    // entitlement, control, ingest, worker, origin, edge, playback, viewers,
                      // remedies, record
  std::string title;  // "Entitlement and account status"
  Status status = Status::kPass;
  std::string summary;                             // one line for people
  std::vector<std::string> evidence;               // what was seen
  nlohmann::json data = nlohmann::json::object();  // the same, for tools
  double elapsed_ms = 0;
  std::string remedy;   // what to do when this hop fails ("" none)
  std::string command;  // the exact command for it ("" none)
  void fail(const std::string &why) {
    status = Status::kFail;
    if (summary.empty()) summary = why;
    evidence.push_back(why);
  }
  void warn(const std::string &why) {
    if (status == Status::kPass) status = Status::kWarn;
    evidence.push_back(why);
  }
};

// The ten hops, in order (number = index + 1).
const std::vector<std::pair<std::string, std::string>> &hops();

// The index of the first failing step, -1 when none fails.
int first_failing(const std::vector<Step> &steps);

// The diagnosis document. `context` holds channel_id, subject, edge, started_at.
nlohmann::json to_json(const std::vector<Step> &steps, const nlohmann::json &context,
                       double elapsed_ms);

}  // namespace iptv::diagnose
