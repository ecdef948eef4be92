// libFuzzer target: the daemon-worker wire (orchestrator/lib/wire) on arbitrary bytes: status
// lines, command lines and the worker spec JSON. Reading is strict, so an input is either an
// error of the documented type (WireError; std::runtime_error for the spec) or a value that
// re-encodes and parses back to the same JSON. Any other exception escapes and fails the run.
// The input is split at the first NUL: the first part is tried as a status and a command line,
// the whole input as a spec. Run by tests/fuzz/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "wire/spec.h"
#include "wire/status.h"

using namespace iptv::wire;
using nlohmann::json;

static void check(bool ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "invariant failed: %s\n", what);
    abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string in(reinterpret_cast<const char *>(data), size);
  std::string line = in.substr(0, in.find('\0'));

  std::string error;
  auto st = parse_status_line(line, &error);
  if (st) {
    std::string enc = encode_status(*st);
    check(enc.find('\n') == std::string::npos, "an encoded status line holds a newline");
    StatusLine back = parse_status(enc);
    check(to_json(back) == to_json(*st), "a status line does not round-trip");
    check(back.index() == st->index(), "a status line changes kind");
  } else {
    check(!error.empty(), "a status line refused without a reason");
  }
  bool threw = false;
  try {
    (void)parse_status(line);
  } catch (const WireError &) {
    threw = true;
  }
  check(threw == !st.has_value(), "parse_status and parse_status_line disagree");

  try {
    Command c = parse_command(line);
    std::string enc = encode_command(c);
    check(enc.find('\n') == std::string::npos, "an encoded command holds a newline");
    Command back = parse_command(enc);
    check(to_json(back) == to_json(c) && command_name(back) == command_name(c),
          "a command does not round-trip");
  } catch (const WireError &) {
  }

  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return 0;
  WorkerSpec spec;
  try {
    spec = from_json(j);
  } catch (const std::runtime_error &) {
    return 0;
  }
  json out = to_json(spec);
  WorkerSpec again = from_json(out);
  check(to_json(again) == out, "a worker spec does not round-trip");
  return 0;
}
