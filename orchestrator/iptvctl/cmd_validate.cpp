// iptvctl validate [--format text|json] [--quiet] PATH...
// Checks channel record files or folders with the strict loader, including the cross-file checks.
// Exit codes: 0 all valid, 1 any invalid, 2 usage error.
#include <cstdio>
#include <cstring>
#include <map>
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
  std::map<std::string, int> errors_per_file;
  for (const auto &e : res.errors) errors_per_file[e.file]++;

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
                               {"warnings", iptv::record_warnings(c)}});
    j["errors"] = nlohmann::json::array();
    for (const auto &e : res.errors)
      j["errors"].push_back({{"file", e.file},
                             {"line", e.line},
                             {"column", e.column},
                             {"path", e.path},
                             {"channel_id", e.channel_id},
                             {"message", e.message},
                             {"text", e.str()}});
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto &e : res.errors) std::fprintf(stderr, "%s\n", e.str().c_str());
    for (const auto &c : res.channels)
      for (const auto &w : iptv::record_warnings(c))
        std::fprintf(stderr, "%s:%d: %s: warning: %s\n", c.file.c_str(), c.line,
                     c.channel_id.c_str(), w.c_str());
    if (!quiet) {
      size_t bad_files = 0;
      for (const auto &f : res.files) bad_files += errors_per_file[f] ? 1 : 0;
      std::printf("%zu file(s), %zu valid channel(s), %zu error(s)%s\n", res.files.size(),
                  res.channels.size(), res.errors.size(), res.ok() ? ": all valid" : "");
    }
  }
  return res.ok() ? 0 : 1;
}

}  // namespace iptvctl
