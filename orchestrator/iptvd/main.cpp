// iptvd: channel records in, supervised live pipelines out. See docs/iptvd.md.
//
// The daemon reads top-down, one file per step (docs/architecture.md): this file ->
// daemon/app.cpp (all wiring) -> daemon/channel_manager.cpp (apply, start, stop, the reload
// plan) -> daemon/channel_runner.cpp and daemon/worker_process.cpp (one supervised worker) ->
// the state store (store/) -> HTTP (core/origin/, control/).
#include "daemon/app.h"

int main(int argc, char **argv) {
  return iptv::daemon::run_iptvd(argc, argv);
}
