// Skeleton: the owning issue replaces this file.
#include <cstdio>

#include "iptvctl/commands.h"

namespace iptvctl {

int cmd_token(int, char **) {
  std::fprintf(stderr, "iptvctl token: not built yet\n");
  return 2;
}

}  // namespace iptvctl
