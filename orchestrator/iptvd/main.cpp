// iptvd: channel records in, supervised live pipelines out. See docs/iptvd.md.
//
// The daemon reads top-down, one file per step (docs/architecture.md): this file ->
// daemon/app.cpp (all wiring) -> daemon/channel_manager.cpp (apply, start, stop, reload) ->
// daemon/channel_runner.cpp and daemon/worker_process.cpp (one supervised worker) -> the state
// store (store/) -> HTTP (core/origin/, control/).
#include "daemon/app.h"
#include "daemon/command_line.h"
#include "log/log.h"

int main(int argc, char **argv) {
  iptv::daemon::CommandLine cl;
  if (int rc = iptv::daemon::parse_command_line(argc, argv, &cl); rc >= 0) return rc;
  // The daemon's one logger, passed to everything that logs; it outlives them all.
  iptv::log::Logger logger;
  return iptv::daemon::run_app(cl, logger);
}
