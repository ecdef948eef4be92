// CMCD (CTA-5004, Common Media Client Data): what players say about their playback in each
// request, as the `CMCD` query argument or the CMCD-Request / CMCD-Object / CMCD-Status /
// CMCD-Session headers (hls.js and dash.js send them with one setting). GStreamer-free,
// unit-tested and fuzzed through the origin.
//
// Only the keys the origin uses are kept: sid (session id), bs (buffer starvation since the
// previous request), bl (buffer length, ms), mtp (measured throughput, kbit/s), su (startup: the
// request is needed for startup), sf (streaming format: h HLS, d DASH), ot (object type).
// Unknown keys are ignored, malformed ones dropped one by one (the rest is kept).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iptv::viewers {

struct Cmcd {
  bool present = false;  // at least one CMCD key was read
  std::string sid;       // session id, as sent ("" none): never stored raw (ViewerStats hashes)
  bool bs = false;       // buffer starvation since the previous request
  bool su = false;       // startup
  std::optional<int64_t> bl;   // buffer length, ms
  std::optional<int64_t> mtp;  // measured throughput, kbit/s
  std::string sf;              // streaming format ("h", "d", ...)
  std::string ot;              // object type ("m" manifest, "v", "a", "av", "i" init, ...)
};

// Parses one CMCD payload ("bs,bl=2100,sid=\"6e2f...\"") into `out` (merging keys).
void parse_cmcd_payload(std::string_view payload, Cmcd &out);

// The CMCD payload of a query string ("CMCD=bl%3D2100%2Csid%3D..."), percent-decoded; "" none.
std::string cmcd_from_query(std::string_view query);

}  // namespace iptv::viewers
