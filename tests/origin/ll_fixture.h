// Hand-written low-latency playlists for the origin's tests, as RFC 8216bis writes them and the
// packager's contract says (docs/low-latency-origin.md): parts `<segment stem>.<index>.m4s`.
#pragma once

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "raw_http.h"

namespace ll_test {

using origin_test::Response;

inline std::string stem(int64_t msn) {
  char b[32];
  std::snprintf(b, sizeof b, "seg-%05lld", static_cast<long long>(msn));
  return b;
}

struct LlOptions {
  int target = 2;
  double part = 0.5;
  int parts_per_segment = 4;
  double skip_until = 12;  // 0: no CAN-SKIP-UNTIL
  bool skip_dateranges = false;
  std::vector<std::pair<int64_t, std::string>> dateranges;  // (before segment msn, ID)
};

// A low-latency media playlist as RFC 8216bis writes it: segments first..first+complete-1,
// then `pending` parts of the next one and a preload hint for the part after them. Parts are
// listed for the last 3 complete segments only.
inline std::string ll_playlist(int64_t first, int complete, int pending, const LlOptions &o = {}) {
  char buf[256];
  std::string p =
      "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:" + std::to_string(o.target) + "\n";
  std::snprintf(buf, sizeof buf, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f",
                3 * o.part);
  p += buf;
  if (o.skip_until > 0) {
    std::snprintf(buf, sizeof buf, ",CAN-SKIP-UNTIL=%.1f", o.skip_until);
    p += buf;
  }
  if (o.skip_dateranges) p += ",CAN-SKIP-DATERANGES=YES";
  std::snprintf(buf, sizeof buf, "\n#EXT-X-PART-INF:PART-TARGET=%.3f\n", o.part);
  p += buf;
  p += "#EXT-X-MEDIA-SEQUENCE:" + std::to_string(first) + "\n#EXT-X-MAP:URI=\"init.mp4\"\n";
  auto parts = [&](int64_t msn, int n) {
    for (int i = 0; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "#EXT-X-PART:DURATION=%.3f,URI=\"%s.%d.m4s\"%s\n", o.part,
                    stem(msn).c_str(), i, i == 0 ? ",INDEPENDENT=YES" : "");
      p += buf;
    }
  };
  for (int64_t msn = first; msn < first + complete; ++msn) {
    for (auto &[at, id] : o.dateranges)
      if (at == msn)
        p += "#EXT-X-DATERANGE:ID=\"" + id + "\",START-DATE=\"2026-12-07T20:00:00.000Z\"\n";
    if (msn >= first + complete - 3) parts(msn, o.parts_per_segment);
    std::snprintf(buf, sizeof buf, "#EXTINF:%.3f,\n%s.m4s\n", o.part * o.parts_per_segment,
                  stem(msn).c_str());
    p += buf;
  }
  int64_t next = first + complete;
  parts(next, pending);
  p += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"" + stem(next) + "." + std::to_string(pending) +
       ".m4s\"\n";
  return p;
}

// Header value (case-insensitive name) of a raw response head; "" when absent.
inline std::string header(const Response &r, const std::string &name) {
  std::string lower = r.head, want = "\r\n" + name + ":";
  for (auto &c : lower) c = static_cast<char>(tolower(c));
  for (auto &c : want) c = static_cast<char>(tolower(c));
  size_t at = lower.find(want);
  if (at == std::string::npos) return "";
  size_t v = at + want.size(), end = r.head.find("\r\n", v);
  std::string out = r.head.substr(v, end == std::string::npos ? std::string::npos : end - v);
  return out.substr(out.find_first_not_of(' '));
}

inline std::vector<std::string> uri_lines(const std::string &text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    std::string l = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    if (!l.empty() && l[0] != '#') out.push_back(l);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}

}  // namespace ll_test
