// iptvctl validate [--format text|json] [--quiet] PATH...
// Checks channel record files or folders with the strict loader, including the cross-file checks.
// Anything iptvd would refuse to run (records/loader.h admission_problems) is an error too.
// Exit codes: 0 all valid, 1 any invalid, 2 usage error.
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "iptvctl/commands.h"
#include "records/loader.h"

namespace iptvctl {

namespace {

int usage(FILE *out) {
  std::fprintf(out,
               "usage: iptvctl validate [--format text|json] [--quiet] PATH...\n"
               "  PATH: channel record files (*.yaml) or folders of them; a profiles.yaml in a\n"
               "  folder extends the profile catalog for that folder.\n"
               "exit: 0 all valid, 1 any invalid, 2 usage error\n");
  return out == stdout ? 0 : 2;
}

}  // namespace

int cmd_validate(int argc, char **argv) {
  std::string format = "text";
  bool quiet = false;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(stdout);
    if (a == "--quiet" || a == "-q") {
      quiet = true;
    } else if (a == "--format" && i + 1 < argc) {
      format = argv[++i];
    } else if (a.rfind("--format=", 0) == 0) {
      format = a.substr(9);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "iptvctl validate: unknown option '%s'\n", a.c_str());
      return usage(stderr);
    } else {
      paths.push_back(a);
    }
  }
  if (format != "text" && format != "json") {
    std::fprintf(stderr, "iptvctl validate: --format must be text or json\n");
    return 2;
  }
  if (paths.empty()) {
    std::fprintf(stderr, "iptvctl validate: no PATH given\n");
    return usage(stderr);
  }
  iptv::LoadResult res = iptv::load_channels(paths);
  // The daemon's admission rule (records/loader.h): what iptvd would refuse to run is an error
  // for an active record, and a warning for a disabled or retired one (it does not run anyway).
  std::vector<iptv::LoadError> warnings;
  std::map<std::string, std::vector<std::string>> warnings_of;
  std::set<std::string> refused;
  for (const auto &c : res.channels) {
    for (auto &p : iptv::admission_problems(c)) {
      if (c.status == iptv::ChannelStatus::kActive) {
        refused.insert(c.channel_id);
        res.errors.push_back(p);
      } else {
        warnings_of[c.channel_id].push_back(p.message);
        warnings.push_back(p);
      }
    }
  }
  std::map<std::string, int> errors_per_file;
  for (const auto &e : res.errors) errors_per_file[e.file]++;
  size_t valid_channels = res.channels.size() - refused.size();

  if (format == "json") {
    nlohmann::json j;
    j["valid"] = res.ok();
    j["files"] = nlohmann::json::array();
    for (const auto &f : res.files)
      j["files"].push_back({{"file", f}, {"valid", errors_per_file[f] == 0}});
    j["channels"] = nlohmann::json::array();
    for (const auto &c : res.channels)
      j["channels"].push_back({{"channel_id", c.channel_id},
                               {"file", c.file},
                               {"sha256", c.content_sha256},
                               {"status", iptv::to_string(c.status)},
                               {"runnable", !refused.count(c.channel_id)},
                               {"warnings", warnings_of[c.channel_id]}});
    j["errors"] = nlohmann::json::array();
    for (const auto &e : res.errors)
      j["errors"].push_back({{"file", e.file},
                             {"line", e.line},
                             {"column", e.column},
                             {"path", e.path},
                             {"channel_id", e.channel_id},
                             {"message", e.message},
                             {"text", e.str()}});
    j["warning_count"] = warnings.size();
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto &e : res.errors) std::fprintf(stderr, "%s\n", e.str().c_str());
    for (const auto &w : warnings) std::fprintf(stderr, "warning: %s\n", w.str().c_str());
    if (!quiet) {
      std::printf("%zu file(s), %zu valid channel(s), %zu error(s), %zu warning(s)%s\n",
                  res.files.size(), valid_channels, res.errors.size(), warnings.size(),
                  !res.ok()          ? ""
                  : warnings.empty() ? ": all valid"
                                     : ": valid, with warnings");
    }
  }
  return res.ok() ? 0 : 1;
}

}  // namespace iptvctl
