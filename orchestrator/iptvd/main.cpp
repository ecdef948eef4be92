// iptvd: channel records in, supervised live pipelines out. See docs/iptvd.md.
#include "daemon/app.h"

int main(int argc, char **argv) {
  return iptv::daemon::run_iptvd(argc, argv);
}
