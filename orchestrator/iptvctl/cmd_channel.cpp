// iptvctl channel show ID [--format text|json]
// One channel as the incident workflow asks: state and reason, sources, active source, the
// encoder of each rung and its last segment age, active probe conditions, restarts, last events,
// and the incident notes (iptvctl diagnose --record).
#include <cstdio>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

int cmd_channel(int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  if (!iptv::control::parse_client_options(argc, argv, {}, {}, o, &err) || o.args.size() != 2 ||
      o.args[0] != "show") {
    std::fprintf(stderr,
                 "iptvctl channel: %s\nusage: iptvctl channel show ID [--format text|json]\n",
                 err.empty() ? "expected 'show ID'" : err.c_str());
    return 2;
  }
  iptv::control::ApiClient client(o.url, o.key);
  auto r = client.request("GET", "/api/v1/channels/" + o.args[1]);
  if (r.status != 200) return iptv::control::report_failure("channel", r);
  auto inc = client.request("GET", "/api/v1/channels/" + o.args[1] + "/incidents?limit=10");
  nlohmann::json incidents =
      inc.status == 200 && inc.json.is_object() ? inc.json["incidents"] : nlohmann::json::array();
  nlohmann::json j = r.json;
  if (o.format == "json") {
    j["incidents"] = incidents;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("channel   %s (%s)\n", j["id"].get<std::string>().c_str(),
              j["name"].get<std::string>().c_str());
  std::printf("state     %s: %s\n", j["state"].get<std::string>().c_str(),
              j["reason"].get<std::string>().c_str());
  std::printf("source    %s   mode %s   restarts %d   failovers %d   worker pid %d\n",
              j["active_source"].get<std::string>().c_str(), j["mode"].get<std::string>().c_str(),
              j["restarts"].get<int>(), j["failovers"].get<int>(), j["worker"]["pid"].get<int>());
  if (!j["last_error"].get<std::string>().empty())
    std::printf("error     %s\n", j["last_error"].get<std::string>().c_str());
  std::vector<std::vector<std::string>> rows;
  for (const auto &s : j["sources"])
    rows.push_back(
        {s["role"], s["healthy"].get<bool>() ? "healthy" : "down", s["uri"], s["detail"]});
  std::printf("\n%s",
              iptv::control::format_table({"SOURCE", "HEALTH", "URI", "DETAIL"}, rows).c_str());
  rows.clear();
  for (const auto &x : j["renditions"]) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f kbit/s", x["bitrate_bps"].get<double>() / 1000);
    char fps[16];
    std::snprintf(fps, sizeof fps, "%.1f", x["fps"].get<double>());
    rows.push_back({x["name"], x["enabled"].get<bool>() ? "on" : "off",
                    x["encoder"].get<std::string>().empty() ? "-" : x["encoder"].get<std::string>(),
                    iptv::control::format_age(x["last_segment_age_seconds"]),
                    std::to_string(x["media_sequence"].get<int64_t>()), rate, fps});
  }
  std::printf("\n%s", iptv::control::format_table({"RENDITION", "ENABLED", "ENCODER", "LAST SEG",
                                                   "SEQUENCE", "BITRATE", "FPS"},
                                                  rows)
                          .c_str());
  rows.clear();
  for (const auto &c : j["conditions"])
    rows.push_back({c["condition"], c["stream"],
                    c["since"].is_string() ? c["since"].get<std::string>() : "-", c["detail"]});
  if (!rows.empty())
    std::printf(
        "\n%s",
        iptv::control::format_table({"CONDITION", "STREAM", "SINCE", "DETAIL"}, rows).c_str());
  else
    std::printf("\nno active probe conditions\n");
  rows.clear();
  for (const auto &e : j["last_events"])
    rows.push_back({std::to_string(e["id"].get<int64_t>()), e["created_at"], e["event_type"],
                    e["status"], e["detail"].dump()});
  if (!rows.empty())
    std::printf(
        "\n%s",
        iptv::control::format_table({"EVENT", "AT", "TYPE", "STATUS", "DETAIL"}, rows).c_str());
  rows.clear();
  for (const auto &e : incidents)
    rows.push_back({std::to_string(e["id"].get<int64_t>()), e["created_at"],
                    e["detail"].value("first_failing_hop", std::string("-")),
                    e["detail"].value("actor", std::string("-")),
                    e["detail"].value("cause", std::string(""))});
  if (!rows.empty())
    std::printf(
        "\n%s",
        iptv::control::format_table({"INCIDENT", "AT", "HOP", "BY", "CAUSE"}, rows).c_str());
  else
    std::printf("\nno incident notes\n");
  return 0;
}

}  // namespace iptvctl
