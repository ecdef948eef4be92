// Skeleton: the owning issue replaces this file.
#include <cstdio>

#include "iptvctl/commands.h"

namespace iptvctl {

int cmd_probe(int, char **) {
  std::fprintf(stderr, "iptvctl probe: not built yet\n");
  return 2;
}

}  // namespace iptvctl
