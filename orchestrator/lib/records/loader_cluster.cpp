// Where a channel record runs (docs/channels.md, docs/cluster.md):
//   placement:  {node: N, role: any|edge|cloud}   the nodes that may run it
//   redundancy: none | hot-standby                 in a cluster, one node or two at once
#include "records/yaml_walker.h"

namespace iptv {

void parse_placement(YamlWalker &w, const YAML::Node &root, ChannelRecord &rec) {
  std::string v;
  const YAML::Node pl = root["placement"];
  if (pl.IsDefined() && !pl.IsNull() && w.mapping(pl, "placement", {"node", "role"})) {
    w.str(pl["node"], "placement.node", rec.placement.node);
    if (w.choice(pl["role"], "placement.role", {"any", "edge", "cloud"}, v) && !v.empty())
      rec.placement.role = v == "any"    ? PlacementRole::kAny
                           : v == "edge" ? PlacementRole::kEdge
                                         : PlacementRole::kCloud;
  }
  std::string r;
  if (w.choice(root["redundancy"], "redundancy", {"none", "hot-standby"}, r) && r == "hot-standby")
    rec.redundancy = Redundancy::kHotStandby;
}

}  // namespace iptv
