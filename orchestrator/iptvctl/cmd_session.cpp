// iptvctl session create --channel ID [--subject S] [--region R]
// iptvctl session revoke SESSION_ID | --subject S
// Opens a playback session (prints the tokenized URL) or revokes one or all of a subject's.
#include <cstdio>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

namespace {
int usage() {
  std::fprintf(stderr,
               "usage: iptvctl session create --channel ID [--subject S] [--region R]\n"
               "       iptvctl session revoke SESSION_ID | --subject S\n"
               "       (common: --url URL --key KEY --format text|json)\n");
  return 2;
}
}  // namespace

int cmd_session(int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  if (!iptv::control::parse_client_options(argc, argv, {"channel", "subject", "region"}, {}, o,
                                           &err) ||
      o.args.empty()) {
    if (!err.empty()) std::fprintf(stderr, "iptvctl session: %s\n", err.c_str());
    return usage();
  }
  iptv::control::ApiClient client(o.url, o.key);
  if (o.args[0] == "create" && o.args.size() == 1 && o.flags.count("channel")) {
    nlohmann::json body = {{"channel_id", o.flags["channel"]}};
    if (o.flags.count("subject")) body["subject"] = o.flags["subject"];
    if (o.flags.count("region")) body["region"] = o.flags["region"];
    auto r = client.request("POST", "/api/v1/sessions", body);
    if (r.status != 201) return iptv::control::report_failure("session create", r);
    if (o.format == "json") {
      std::printf("%s\n", r.json.dump(2).c_str());
    } else {
      std::printf("session  %s\nexpires  %s\nurl      %s\n",
                  r.json["session_id"].get<std::string>().c_str(),
                  r.json["expires_at"].get<std::string>().c_str(),
                  r.json["playback_url"].get<std::string>().c_str());
    }
    return 0;
  }
  if (o.args[0] == "revoke" && ((o.args.size() == 2) != (o.flags.count("subject") == 1))) {
    auto r = o.args.size() == 2
                 ? client.request("DELETE", "/api/v1/sessions/" + o.args[1])
                 : client.request("DELETE", "/api/v1/subjects/" + o.flags["subject"] + "/sessions");
    if (r.status != 200) return iptv::control::report_failure("session revoke", r);
    if (o.format == "json")
      std::printf("%s\n", r.json.dump(2).c_str());
    else if (o.args.size() == 2)
      std::printf("revoked %s\n", o.args[1].c_str());
    else
      std::printf("revoked %d sessions of %s\n", r.json["count"].get<int>(),
                  o.flags["subject"].c_str());
    return 0;
  }
  return usage();
}

}  // namespace iptvctl
