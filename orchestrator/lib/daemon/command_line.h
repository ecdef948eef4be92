// iptvd's command line: flags in, a CommandLine out. The app (app.h) lays them over the config
// file (docs/iptvd-config.md).
#pragma once

#include <string>

namespace iptv::daemon {

struct CommandLine {
  std::string config_path, channels, data, listen, log_format, log_level, role, node, worker;
  bool no_watch = false;
};

// Parses argv into `out`. Returns -1 to go on, or the exit code to stop with: 0 after --help
// (usage on stdout), 2 for a bad option (the reason on stderr).
int parse_command_line(int argc, char **argv, CommandLine *out);

}  // namespace iptv::daemon
