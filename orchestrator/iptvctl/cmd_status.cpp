// iptvctl status [--url URL] [--key KEY] [--format text|json] [--state STATE]
// A table of every channel: state, active source, oldest last segment, restarts, conditions.
#include <cstdio>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

int cmd_status(int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  if (!iptv::control::parse_client_options(argc, argv, {"state"}, {"help"}, o, &err) ||
      !o.args.empty()) {
    std::fprintf(stderr,
                 "iptvctl status: %s\nusage: iptvctl status [--state STATE] [--format "
                 "text|json] [--url URL] [--key KEY]\n",
                 err.empty() ? "unexpected argument" : err.c_str());
    return 2;
  }
  iptv::control::ApiClient client(o.url, o.key);
  std::string path = "/api/v1/channels";
  if (o.flags.count("state")) path += "?state=" + o.flags["state"];
  auto r = client.request("GET", path);
  if (r.status != 200) return iptv::control::report_failure("status", r);
  if (o.format == "json") {
    std::printf("%s\n", r.json.dump(2).c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto &c : r.json["channels"]) {
    std::string conds;
    for (const auto &x : c["active_conditions"])
      conds += (conds.empty() ? "" : ",") + x.get<std::string>();
    rows.push_back({c["id"], c["state"], c["active_source"],
                    iptv::control::format_age(c["last_segment_age_seconds"]),
                    std::to_string(c["restarts"].get<int>()),
                    std::to_string(c["failovers"].get<int>()), conds.empty() ? "-" : conds,
                    c["reason"]});
  }
  std::fputs(iptv::control::format_table({"CHANNEL", "STATE", "SOURCE", "LAST SEG", "RESTARTS",
                                          "FAILOVERS", "CONDITIONS", "REASON"},
                                         rows)
                 .c_str(),
             stdout);
  return 0;
}

}  // namespace iptvctl
