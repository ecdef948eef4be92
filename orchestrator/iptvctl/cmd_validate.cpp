// Skeleton: the owning issue replaces this file.
#include <cstdio>

#include "iptvctl/commands.h"

namespace iptvctl {

int cmd_validate(int, char **) {
  std::fprintf(stderr, "iptvctl validate: not built yet\n");
  return 2;
}

}  // namespace iptvctl
