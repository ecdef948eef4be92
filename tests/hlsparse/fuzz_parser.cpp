// libFuzzer target: the playlist parser and the rules fed by it must turn any input into
// findings, never a crash, a hang or undefined behaviour. Built and run by tests/hlsparse/fuzz.sh.
// The input is split at the first NUL byte into two playlists, loaded one after the other (a
// reload), so the reload rules see arbitrary pairs too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hlsparse/checker.h"
#include "hlsparse/parser.h"
#include "hlsparse/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in(reinterpret_cast<const char *>(data), size);
  size_t nul = in.find('\0');
  std::string_view first = in.substr(0, nul);
  std::string_view second = nul == std::string_view::npos ? in : in.substr(nul + 1);
  using namespace iptv::hlsparse;
  std::vector<Finding> fs;
  Playlist a = parse(first, "http://h/a.m3u8", fs);
  Playlist b = parse(second, "http://h/a.m3u8", fs);
  Checker c;
  for (const auto &r : c.on_multivariant(a)) c.add_rendition(r);
  for (auto &f : fs) c.add(f);
  auto fresh = c.on_media_playlist("r", a, std::string(first), 0);
  fresh = c.on_media_playlist("r", b, std::string(second), 5000);
  SegmentProbe p;
  p.fetched = true;
  p.inspected = true;
  p.has_video = true;
  p.first_pts = 0;
  for (const auto &s : fresh) c.on_segment("r", s, s.uri, b.url, p);
  c.finish();
  Report rep;
  rep.a = make_stream_report("http://h/a.m3u8", c);
  (void)to_text(rep);
  (void)to_json(rep);
  return 0;
}
