// TsPartCutter (hlssink_tsparts.h), on a synthetic transport stream shaped like mpegtsmux's
// output: PAT, PMT, a video PID with one PES per access unit (random_access_indicator on
// keyframes), an audio PID. The parts are the input bytes end to end, cut before the access
// unit that would pass the target; durations, independence, the PAT/PMT copies ahead of an
// independent part, their continuity counters, a gap in the source and the 33-bit wrap.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "hlssink_tsparts.h"

namespace {

using Bytes = std::vector<uint8_t>;
using iptv::TsPartCutter;

constexpr int kPmtPid = 0x20, kVideoPid = 0x41, kAudioPid = 0x44;
constexpr uint64_t kFrame = 3600;  // 25 fps in 90 kHz ticks

struct Mux {
  Bytes out;
  int cc[8192] = {};

  void packet(int pid, bool pusi, bool rai, const Bytes &payload) {
    Bytes p(188, 0xff);
    p[0] = 0x47;
    p[1] = (uint8_t)((pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f));
    p[2] = (uint8_t)(pid & 0xff);
    size_t at = 4;
    if (rai) {
      p[3] = (uint8_t)(0x30 | (cc[pid] & 15));
      p[4] = 1;
      p[5] = 0x40;
      at = 6;
    } else {
      p[3] = (uint8_t)(0x10 | (cc[pid] & 15));
    }
    cc[pid]++;
    for (size_t i = 0; i < payload.size() && at + i < 188; i++) p[at + i] = payload[i];
    out.insert(out.end(), p.begin(), p.end());
  }
  void pat() {
    // pointer 0, table 0, section_length 13, tsid 1, version, 0, 0, program 1 -> kPmtPid, CRC.
    packet(0, true, false,
           {0, 0x00, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, (uint8_t)(0xe0 | (kPmtPid >> 8)),
            (uint8_t)(kPmtPid & 0xff), 0, 0, 0, 0});
  }
  void pmt() { packet(kPmtPid, true, false, {0, 0x02, 0xb0, 0x17, 0, 1, 0xc1, 0, 0}); }
  static void put_ts(Bytes &b, int marker, uint64_t ts) {
    b.push_back((uint8_t)((marker << 4) | ((ts >> 29) & 0x0e) | 1));
    b.push_back((uint8_t)(ts >> 22));
    b.push_back((uint8_t)(((ts >> 14) & 0xfe) | 1));
    b.push_back((uint8_t)(ts >> 7));
    b.push_back((uint8_t)(((ts << 1) & 0xfe) | 1));
  }
  // One access unit: a PES start (PTS = DTS + 2 frames, DTS) and `more` packets after it.
  void video(uint64_t dts, bool key, int more = 2) {
    Bytes pes = {0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10};
    put_ts(pes, 3, (dts + 2 * kFrame) & ((1ull << 33) - 1));
    put_ts(pes, 1, dts);
    packet(kVideoPid, true, key, pes);
    for (int i = 0; i < more; i++) packet(kVideoPid, false, false, {});
  }
  void audio(uint64_t pts) {
    Bytes pes = {0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5};
    put_ts(pes, 2, pts);
    packet(kAudioPid, true, true, pes);
  }
};

int pid_of(const Bytes &b, size_t i) {
  return ((b[i + 1] & 0x1f) << 8) | b[i + 2];
}

std::vector<TsPartCutter::Part> cut(const Bytes &in, double target = 0.5, size_t chunk = 188) {
  TsPartCutter c(target);
  c.begin_segment();
  std::vector<TsPartCutter::Part> parts;
  for (size_t i = 0; i < in.size(); i += chunk)
    c.feed(in.data() + i, std::min(chunk, in.size() - i), parts);
  if (auto last = c.finish()) parts.push_back(std::move(*last));
  return parts;
}

// A 2 s segment as the muxer starts it: PAT, PMT, a keyframe, 49 frames, audio in between.
Mux segment(uint64_t first_dts = 900000, int frames = 50, int keyframe_every = 50) {
  Mux m;
  m.pat();
  m.pmt();
  for (int i = 0; i < frames; i++) {
    m.video(first_dts + i * kFrame, i % keyframe_every == 0);
    if (i % 2 == 1) m.audio(first_dts + i * kFrame);
  }
  return m;
}

}  // namespace

// 50 frames at 25 fps with 0.5 s parts: 4 parts of 12 frames (0.48 s; a 13th would pass the
// target) and a last of 2 frames; whole packets, the input end to end; only the first part,
// which starts with the keyframe, is independent; the segment's PAT and PMT stay at its start.
TEST(TsPartCutter, CutsBeforeTheAccessUnitThatPassesTheTarget) {
  Mux m = segment();
  auto parts = cut(m.out);
  ASSERT_EQ(parts.size(), 5u);
  Bytes joined;
  for (size_t k = 0; k < parts.size(); k++) {
    EXPECT_EQ(parts[k].bytes.size() % 188, 0u);
    EXPECT_EQ(parts[k].independent, k == 0) << k;
    EXPECT_EQ(parts[k].duration, k < 4 ? 12 * kFrame : 2 * kFrame) << k;
    joined.insert(joined.end(), parts[k].bytes.begin(), parts[k].bytes.end());
  }
  EXPECT_TRUE(joined == m.out);
  EXPECT_EQ(pid_of(parts[0].bytes, 0), 0);
  EXPECT_EQ(pid_of(parts[0].bytes, 188), kPmtPid);
  EXPECT_EQ(pid_of(parts[1].bytes, 0), kVideoPid);
}

// The same stream fed in pieces that cut packets anywhere gives the same parts.
TEST(TsPartCutter, BufferBoundariesDoNotMatter) {
  Mux m = segment();
  auto whole = cut(m.out), pieces = cut(m.out, 0.5, 100);
  ASSERT_EQ(whole.size(), pieces.size());
  for (size_t k = 0; k < whole.size(); k++) {
    EXPECT_TRUE(whole[k].bytes == pieces[k].bytes) << k;
    EXPECT_EQ(whole[k].duration, pieces[k].duration) << k;
  }
}

// A keyframe every 12 frames: every part starts with one and is independent. The muxer wrote
// PAT and PMT only at the segment's start, so each later part gets copies ahead of its
// keyframe; the PAT and PMT continuity counters still count by one through the segment.
TEST(TsPartCutter, AnIndependentPartStartsWithThePatAndPmt) {
  Mux m = segment(900000, 48, 12);
  auto parts = cut(m.out);
  ASSERT_EQ(parts.size(), 4u);
  Bytes joined;
  for (size_t k = 0; k < parts.size(); k++) {
    EXPECT_TRUE(parts[k].independent) << k;
    EXPECT_EQ(pid_of(parts[k].bytes, 0), 0) << k;
    EXPECT_EQ(pid_of(parts[k].bytes, 188), kPmtPid) << k;
    EXPECT_EQ(pid_of(parts[k].bytes, 376), kVideoPid) << k;
    joined.insert(joined.end(), parts[k].bytes.begin(), parts[k].bytes.end());
  }
  EXPECT_EQ(joined.size(), m.out.size() + 3 * 2 * 188);  // three pairs of copies
  int last[2] = {-1, -1};
  for (size_t i = 0; i < joined.size(); i += 188) {
    int pid = pid_of(joined, i), which = pid == 0 ? 0 : pid == kPmtPid ? 1 : -1;
    if (which < 0) continue;
    int cc = joined[i + 3] & 15;
    if (last[which] >= 0) {
      EXPECT_EQ(cc, (last[which] + 1) & 15) << "PID " << pid << " at " << i;
    }
    last[which] = cc;
  }
}

// PAT and PMT the muxer wrote just before a cut go with the new part: no copy is added then.
TEST(TsPartCutter, TablesJustBeforeTheCutGoWithTheNextPart) {
  Mux m;
  m.pat();
  m.pmt();
  for (int i = 0; i < 24; i++) {
    if (i == 12) {
      m.pat();
      m.pmt();
    }
    m.video(i * kFrame, i % 12 == 0);
  }
  auto parts = cut(m.out);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(pid_of(parts[0].bytes, parts[0].bytes.size() - 188), kVideoPid);
  EXPECT_EQ(pid_of(parts[1].bytes, 0), 0);
  EXPECT_EQ(pid_of(parts[1].bytes, 188), kPmtPid);
  EXPECT_EQ(pid_of(parts[1].bytes, 376), kVideoPid);
  EXPECT_EQ(parts[0].bytes.size() + parts[1].bytes.size(), m.out.size());
}

// Frames dropped upstream (a 0.28 s hole after 0.44 s): the part before the hole lasts the
// target, not 0.72 s, the next starts where that target ended, and the parts still add up to
// the media time they cover.
TEST(TsPartCutter, AGapInTheSourceKeepsPartsWithinTheTarget) {
  Mux m;
  m.pat();
  m.pmt();
  std::vector<uint64_t> dts;
  for (int i = 0; i < 12; i++) dts.push_back(i * kFrame);   // 0 .. 0.44 s
  for (int i = 18; i < 50; i++) dts.push_back(i * kFrame);  // 0.72 .. 1.96 s
  for (size_t i = 0; i < dts.size(); i++) m.video(dts[i], i == 0);
  auto parts = cut(m.out);
  ASSERT_GE(parts.size(), 4u);
  uint64_t sum = 0;
  for (const auto &p : parts) {
    EXPECT_LE(p.duration, 45000u);
    sum += p.duration;
  }
  EXPECT_EQ(parts[0].duration, 45000u);
  EXPECT_EQ(sum, 50 * kFrame);
}

// DTS wraps at 2^33 (about 26.5 h of 90 kHz; the PTS are the wall clock modulo 2^33): the parts
// across the wrap last what they last.
TEST(TsPartCutter, DurationsAcrossThe33BitWrap) {
  Mux m = segment((1ull << 33) - 20 * kFrame);
  auto parts = cut(m.out);
  ASSERT_EQ(parts.size(), 5u);
  for (size_t k = 0; k < 4; k++) EXPECT_EQ(parts[k].duration, 12 * kFrame) << k;
  EXPECT_EQ(parts[4].duration, 2 * kFrame);
}
