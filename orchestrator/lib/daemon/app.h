// iptvd's command line and start-up: options -> DaemonOptions, logger, key files, control
// plane, webhooks. Kept out of main.cpp so main stays a thin entry point.
#pragma once

namespace iptv::daemon {

// Runs iptvd; returns the process exit code.
int run_iptvd(int argc, char **argv);

}  // namespace iptv::daemon
