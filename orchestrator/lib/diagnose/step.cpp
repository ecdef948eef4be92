#include "diagnose/step.h"

namespace iptv::diagnose {

using nlohmann::json;

const char *to_string(Status s) {
  switch (s) {
    case Status::kPass:
      return "PASS";
    case Status::kWarn:
      return "WARN";
    case Status::kFail:
      return "FAIL";
    case Status::kSkip:
      return "SKIP";
  }
  return "FAIL";
}

const std::vector<std::pair<std::string, std::string>> &hops() {
  static const std::vector<std::pair<std::string, std::string>> h = {
      {"entitlement", "Entitlement and account status"},
      {"control", "Channel control state"},
      {"ingest", "Ingest source"},
      {"worker", "Transcode job and queue"},
      {"origin", "Origin manifest"},
      {"edge", "Edge manifest"},
      {"playback", "Reference playback"},
      {"viewers", "Error and rebuffer rates by rendition, device and region"},
      {"remedies", "Failover, purge or rendition disable"},
      {"record", "Record the cause"},
  };
  return h;
}

int first_failing(const std::vector<Step> &steps) {
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].status == Status::kFail) return (int)i;
  return -1;
}

json to_json(const std::vector<Step> &steps, const json &context, double elapsed_ms) {
  json out = context;
  json arr = json::array();
  for (const auto &s : steps) {
    json j = {{"step", s.number},     {"hop", s.hop},
              {"title", s.title},     {"status", to_string(s.status)},
              {"summary", s.summary}, {"evidence", s.evidence},
              {"data", s.data},       {"elapsed_ms", s.elapsed_ms}};
    j["remedy"] =
        s.remedy.empty() ? json(nullptr) : json{{"action", s.remedy}, {"command", s.command}};
    arr.push_back(j);
  }
  out["steps"] = arr;
  out["elapsed_ms"] = elapsed_ms;
  int f = first_failing(steps);
  out["healthy"] = f < 0;
  if (f < 0) {
    out["first_failing_hop"] = nullptr;
  } else {
    const Step &s = steps[(size_t)f];
    out["first_failing_hop"] = {{"step", s.number},
                                {"hop", s.hop},
                                {"summary", s.summary},
                                {"remedy", s.remedy.empty() ? json(nullptr) : json(s.remedy)},
                                {"command", s.command.empty() ? json(nullptr) : json(s.command)}};
  }
  out["exit_code"] = f < 0 ? 0 : 1;
  return out;
}

}  // namespace iptv::diagnose
