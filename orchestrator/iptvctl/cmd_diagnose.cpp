// iptvctl diagnose CHANNEL [--subject S] [--region R] [--edge URL] [--format text|json]
//                          [--record "CAUSE"]
// The incident workflow (docs/runbook.md) in one command: asks the daemon for
// GET /api/v1/channels/{id}/diagnosis, prints each of the ten steps (PASS, WARN, FAIL or SKIP,
// its evidence, the time it took) and, last, the first failing hop with its remedy. --record
// keeps the cause as an incident note (POST /api/v1/channels/{id}/incidents, event
// incident.note), listed by `iptvctl channel show`.
// Exit: 0 healthy, 1 a hop failed, 2 the daemon is unreachable or the request is wrong (unknown
// channel or subject, bad flags).
#include <glib.h>

#include <cstdio>
#include <string>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

namespace {

int usage(FILE *out, const std::string &err = "") {
  if (!err.empty()) std::fprintf(out, "iptvctl diagnose: %s\n", err.c_str());
  std::fprintf(out,
               "usage: iptvctl diagnose CHANNEL [--subject S] [--region R] [--edge URL]\n"
               "                        [--format text|json] [--record \"CAUSE\"]\n"
               "Runs the ten-step incident workflow against the daemon (operator key) and names\n"
               "the first failing hop. Exit: 0 healthy, 1 a hop failed, 2 daemon unreachable or\n"
               "bad request.\n");
  return out == stdout ? 0 : 2;
}

std::string query_arg(const std::string &v) {
  gchar *e = g_uri_escape_string(v.c_str(), nullptr, FALSE);
  std::string out = e;
  g_free(e);
  return out;
}

void print_text(const nlohmann::json &j) {
  std::printf(
      "diagnosis of %s (state %s)%s%s\n", j["channel_id"].get<std::string>().c_str(),
      j["state"].get<std::string>().c_str(),
      j["subject"].is_string() ? (" for subject " + j["subject"].get<std::string>()).c_str() : "",
      j["edge"].is_string() ? (" via edge " + j["edge"].get<std::string>()).c_str() : "");
  for (const auto &s : j["steps"]) {
    std::printf("\n%2d %-4s %-11s %s  (%.0f ms)\n", s["step"].get<int>(),
                s["status"].get<std::string>().c_str(), s["hop"].get<std::string>().c_str(),
                s["summary"].get<std::string>().c_str(), s["elapsed_ms"].get<double>());
    for (const auto &e : s["evidence"])
      std::printf("          - %s\n", e.get<std::string>().c_str());
    if (s["status"] == "FAIL" && s["remedy"].is_object())
      std::printf("          remedy: %s\n          $ %s\n",
                  s["remedy"]["action"].get<std::string>().c_str(),
                  s["remedy"]["command"].get<std::string>().c_str());
  }
  std::printf("\ndiagnosed in %.1f s\n", j["elapsed_ms"].get<double>() / 1000);
  const auto &f = j["first_failing_hop"];
  if (f.is_null()) {
    std::printf("HEALTHY: every hop passes\n");
  } else {
    std::printf("FIRST FAILING HOP: %d %s: %s", f["step"].get<int>(),
                f["hop"].get<std::string>().c_str(), f["summary"].get<std::string>().c_str());
    if (f["command"].is_string())
      std::printf(" -- remedy: %s", f["command"].get<std::string>().c_str());
    std::printf("\n");
  }
}

}  // namespace

int cmd_diagnose(int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  if (!iptv::control::parse_client_options(argc, argv, {"subject", "region", "edge", "record"}, {},
                                           o, &err))
    return usage(stderr, err);
  if (o.args.size() == 1 && (o.args[0] == "-h" || o.args[0] == "--help")) return usage(stdout);
  if (o.args.size() != 1) return usage(stderr, "expected one channel id");
  const std::string &id = o.args[0];
  std::string q;
  for (const char *k : {"subject", "region", "edge"})
    if (o.flags.count(k))
      q += (q.empty() ? "?" : "&") + std::string(k) + "=" + query_arg(o.flags[k]);
  iptv::control::ApiClient client(o.url, o.key);
  auto r = client.request("GET", "/api/v1/channels/" + query_arg(id) + "/diagnosis" + q);
  if (r.status == 0) {
    std::fprintf(stderr, "iptvctl diagnose: the daemon at %s is unreachable: %s\n", o.url.c_str(),
                 r.error.c_str());
    return 2;
  }
  if (r.status != 200 || !r.json.is_object()) {
    iptv::control::report_failure("diagnose", r);
    return 2;
  }
  nlohmann::json j = r.json;
  if (o.flags.count("record")) {
    nlohmann::json body = {{"cause", o.flags["record"]}};
    if (j["first_failing_hop"].is_object())
      body["first_failing_hop"] = j["first_failing_hop"]["hop"];
    auto p = client.request("POST", "/api/v1/channels/" + query_arg(id) + "/incidents", body);
    auto &step = j["steps"][9];
    if (p.status == 202) {
      step["status"] = "PASS";
      step["summary"] = "recorded as incident.note: " + o.flags["record"];
    } else {
      step["status"] = "FAIL";
      step["summary"] = "could not record the cause: " + std::to_string(p.status) + " " + p.error;
    }
    step["evidence"].push_back(step["summary"]);
    j["recorded"] = p.status == 202;
  }
  if (o.format == "json")
    std::printf("%s\n", j.dump(2).c_str());
  else
    print_text(j);
  return j["first_failing_hop"].is_null() ? 0 : 1;
}

}  // namespace iptvctl
