// libFuzzer target: the API's strict JSON body parser (control/api_server.h parse_strict_json)
// on arbitrary bytes. Never a crash, a hang or undefined behaviour, and:
// - accepted text is what nlohmann's plain parse gives, and it dumps and re-parses strictly to
//   the same value (no duplicate key can survive);
// - text refused for a duplicate key is valid JSON to the plain parser. Run by tests/fuzz/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "control/api_server.h"

using nlohmann::json;

static void check(bool ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "invariant failed: %s\n", what);
    abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string in(reinterpret_cast<const char *>(data), size);
  std::string why;
  json j = iptv::control::parse_strict_json(in, &why);
  json plain = json::parse(in, nullptr, false);
  if (j.is_discarded()) {
    check(!why.empty(), "refused without a reason");
    if (why.rfind("duplicate key", 0) == 0)
      check(!plain.is_discarded(), "a duplicate key reported for invalid JSON");
    else
      check(plain.is_discarded(), "valid JSON without duplicates refused");
    return 0;
  }
  check(!plain.is_discarded() && plain == j, "strict and plain parses differ");
  std::string again = j.dump();
  std::string why2;
  json k = iptv::control::parse_strict_json(again, &why2);
  check(!k.is_discarded() && k == j, "a dump does not re-parse to the same value");
  return 0;
}
