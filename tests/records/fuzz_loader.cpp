// libFuzzer target: the channel-record loader must turn any input into records or errors, never
// a crash, a hang or undefined behaviour. Built and run by tests/records/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "records/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const iptv::ProfileCatalog catalog;
  iptv::ChannelRecord rec;
  std::vector<iptv::LoadError> errors;
  iptv::parse_channel(std::string_view(reinterpret_cast<const char *>(data), size), "fuzz.yaml",
                      catalog, rec, errors);
  std::vector<iptv::ChannelRecord> set = {rec, rec};
  iptv::check_channel_set(set, errors);
  return 0;
}
