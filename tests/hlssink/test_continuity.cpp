// iptvhlssink's TS continuity rewriter (hlssink_continuity.h), without GStreamer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "hlssink_continuity.h"

namespace {

using iptv::TsContinuity;
constexpr size_t kP = TsContinuity::kPacketSize;

// One packet: PID, continuity counter, payload (adaptation_field_control 01) or adaptation
// only (10).
std::vector<uint8_t> packet(unsigned pid, unsigned cc, bool payload = true) {
  std::vector<uint8_t> p(kP, 0xff);
  p[0] = 0x47;
  p[1] = (uint8_t)((pid >> 8) & 0x1f);
  p[2] = (uint8_t)(pid & 0xff);
  p[3] = (uint8_t)((payload ? 0x10 : 0x20) | (cc & 0x0f));
  if (!payload) p[4] = 183;
  return p;
}

// A muxer run as mpegtsmux writes it: PAT and PMT once, then `n` payload packets on 65, the
// counters starting from 0.
std::vector<uint8_t> segment(int n) {
  std::vector<uint8_t> s;
  auto add = [&](const std::vector<uint8_t> &p) { s.insert(s.end(), p.begin(), p.end()); };
  add(packet(0, 0));
  add(packet(32, 0));
  for (int i = 0; i < n; ++i) add(packet(65, (unsigned)i));
  return s;
}

unsigned cc_at(const std::vector<uint8_t> &s, size_t i) {
  return s[i * kP + 3] & 0x0f;
}
unsigned pid_at(const std::vector<uint8_t> &s, size_t i) {
  return ((s[i * kP + 1] & 0x1fu) << 8) | s[i * kP + 2];
}

// Checks the counters the way a demuxer does (FFmpeg's mpegts.c): each PID's next counter is
// last + 1 with a payload, last without one.
int continuity_errors(const std::vector<uint8_t> &s) {
  int last[8192];
  std::fill(std::begin(last), std::end(last), -1);
  int errors = 0;
  for (size_t i = 0; i < s.size() / kP; ++i) {
    unsigned pid = pid_at(s, i), cc = cc_at(s, i);
    bool payload = s[i * kP + 3] & 0x10;
    if (last[pid] >= 0) {
      unsigned want = payload ? (unsigned)(last[pid] + 1) & 0x0f : (unsigned)last[pid];
      if (cc != want) ++errors;
    }
    last[pid] = (int)cc;
  }
  return errors;
}

TEST(TsContinuity, CountersContinueAcrossMuxerRestarts) {
  TsContinuity c;
  std::vector<uint8_t> all;
  for (int seg = 0; seg < 5; ++seg) {
    auto s = segment(7 + seg);  // different lengths, so the wrap-around is exercised
    if (seg) c.restart();
    c.rewrite(s.data(), s.size());
    all.insert(all.end(), s.begin(), s.end());
  }
  // Without the rewriter, every boundary is an error on PIDs 0, 32 and 65.
  std::vector<uint8_t> raw;
  for (int seg = 0; seg < 5; ++seg) {
    auto s = segment(7 + seg);
    raw.insert(raw.end(), s.begin(), s.end());
  }
  EXPECT_EQ(continuity_errors(raw), 12);
  EXPECT_EQ(continuity_errors(all), 0);
  // PAT of the second segment: the first run wrote PAT once (0), so it continues at 1.
  EXPECT_EQ(pid_at(all, 9), 0u);
  EXPECT_EQ(cc_at(all, 9), 1u);
  // The first segment is written as the muxer wrote it.
  EXPECT_EQ(cc_at(all, 2), 0u);
  EXPECT_EQ(cc_at(all, 8), 6u);
  // ...and the second segment's first video packet continues at 7.
  EXPECT_EQ(cc_at(all, 11), 7u);
  EXPECT_EQ(c.skipped_bytes(), 0u);
}

TEST(TsContinuity, AdaptationOnlyPacketsKeepTheCounter) {
  TsContinuity c;
  auto a = packet(65, 3);
  c.rewrite(a.data(), a.size());
  c.restart();
  // After the restart the muxer sends an adaptation-only packet (a PCR), then a payload.
  auto b = packet(65, 0, false);
  auto d = packet(65, 1);
  c.rewrite(b.data(), b.size());
  c.rewrite(d.data(), d.size());
  EXPECT_EQ(b[3] & 0x0f, 3);  // no payload: the counter stays
  EXPECT_EQ(d[3] & 0x0f, 4);
  EXPECT_EQ(b[3] & 0xf0, 0x20);  // the other header bits are untouched
  EXPECT_EQ(d[3] & 0xf0, 0x10);
}

TEST(TsContinuity, WithinOneRunTheMuxersStepsAreKept) {
  // A duplicate packet (same counter twice) or a jump inside one muxer run is the muxer's
  // statement and stays one: only the offset at the restart changes.
  TsContinuity c;
  auto first = segment(3);
  c.rewrite(first.data(), first.size());  // 65 ends at 2
  c.restart();
  std::vector<uint8_t> s;
  for (unsigned cc : {5u, 5u, 6u, 9u}) {
    auto p = packet(65, cc);
    s.insert(s.end(), p.begin(), p.end());
  }
  c.rewrite(s.data(), s.size());
  EXPECT_EQ(cc_at(s, 0), 3u);
  EXPECT_EQ(cc_at(s, 1), 3u);
  EXPECT_EQ(cc_at(s, 2), 4u);
  EXPECT_EQ(cc_at(s, 3), 7u);
}

TEST(TsContinuity, PacketsSplitAcrossBuffersAndNullPackets) {
  TsContinuity whole, split;
  std::vector<uint8_t> a = segment(20), b = segment(20);
  auto null = packet(0x1fff, 9);
  b.insert(b.begin() + 2 * kP, null.begin(), null.end());
  std::vector<uint8_t> a2 = a, b2 = b;
  whole.rewrite(a.data(), a.size());
  whole.restart();
  whole.rewrite(b.data(), b.size());
  // The same bytes cut at every awkward place (inside headers too).
  split.rewrite(a2.data(), a2.size());
  split.restart();
  size_t pos = 0;
  for (size_t cut : {1u, 2u, 1u, 200u, 3u, 185u, 1000u}) {
    size_t n = std::min(cut, b2.size() - pos);
    split.rewrite(b2.data() + pos, n);
    pos += n;
  }
  split.rewrite(b2.data() + pos, b2.size() - pos);
  EXPECT_EQ(a, a2);
  EXPECT_EQ(b, b2);
  EXPECT_EQ(cc_at(b, 2), 9u) << "null packets are left alone";
  std::vector<uint8_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  EXPECT_EQ(continuity_errors(all), 0);
}

TEST(TsContinuity, GarbageBeforeSyncIsSkippedNotRewritten) {
  TsContinuity c;
  std::vector<uint8_t> s = {0x00, 0x12, 0x34};
  auto p = packet(65, 0);
  s.insert(s.end(), p.begin(), p.end());
  auto before = s;
  c.rewrite(s.data(), s.size());
  EXPECT_EQ(c.skipped_bytes(), 3u);
  EXPECT_EQ(c.packets(), 1u);
  EXPECT_EQ(s, before);  // the first packet of a PID keeps its counter
}

}  // namespace
