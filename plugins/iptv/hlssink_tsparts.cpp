#include "hlssink_tsparts.h"

#include <algorithm>
#include <cstring>

namespace iptv {

namespace {

constexpr uint64_t kWrap = 1ull << 33;  // PTS/DTS are 33 bits

// a - b on the 33-bit clock, as a signed difference (a wrap between them is not a jump).
int64_t diff33(uint64_t a, uint64_t b) {
  uint64_t d = (a - b) & (kWrap - 1);
  return d >= kWrap / 2 ? (int64_t)d - (int64_t)kWrap : (int64_t)d;
}

uint64_t read_ts(const uint8_t *p) {
  return ((uint64_t)(p[0] & 0x0e) << 29) | ((uint64_t)p[1] << 22) |
         ((uint64_t)(p[2] & 0xfe) << 14) | ((uint64_t)p[3] << 7) | (uint64_t)(p[4] >> 1);
}

}  // namespace

void TsPartCutter::begin_segment() {
  carry_.clear();
  cur_.clear();
  psi_tail_ = SIZE_MAX;
  tail_pat_ = tail_pmt_ = false;
  have_au_ = false;
  independent_ = false;
}

void TsPartCutter::feed(const uint8_t *data, size_t size, std::vector<Part> &out) {
  size_t i = 0;
  if (!carry_.empty()) {
    size_t take = std::min(kPacket - carry_.size(), size);
    carry_.insert(carry_.end(), data, data + take);
    i = take;
    if (carry_.size() < kPacket) return;
    std::vector<uint8_t> p;
    p.swap(carry_);
    packet(p.data(), out);
  }
  while (i < size) {
    if (data[i] != 0x47) {  // out of sync (never in muxer output): kept, not parsed
      cur_.push_back(data[i++]);
      psi_tail_ = SIZE_MAX;
      continue;
    }
    if (size - i < kPacket) {
      carry_.assign(data + i, data + size);
      return;
    }
    packet(data + i, out);
    i += kPacket;
  }
}

void TsPartCutter::packet(const uint8_t *p, std::vector<Part> &out) {
  const int pid = ((p[1] & 0x1f) << 8) | p[2];
  const bool pusi = (p[1] & 0x40) != 0;
  const int afc = (p[3] >> 4) & 3;
  size_t off = 4;
  bool rai = false;
  if (afc & 2) {
    const uint8_t len = p[4];
    if (len > 0) rai = (p[5] & 0x40) != 0;
    off = 5 + (size_t)len;
  }
  const bool payload = (afc & 1) && off < kPacket;
  auto append_psi = [&](bool pat) {
    if (psi_tail_ == SIZE_MAX) {
      psi_tail_ = cur_.size();
      tail_pat_ = tail_pmt_ = false;
    }
    (pat ? tail_pat_ : tail_pmt_) = true;
    cur_.insert(cur_.end(), p, p + kPacket);
  };
  if (pid == 0) {
    if (pusi && payload) {
      // The first program's PMT PID (program_number 0 is the network PID).
      const size_t s = off + 1 + p[off];
      if (s + 8 <= kPacket && p[s] == 0x00) {
        const size_t len = ((p[s + 1] & 0x0f) << 8) | p[s + 2];
        const size_t end = std::min(s + 3 + len - 4, kPacket);  // before the CRC
        for (size_t e = s + 8; e + 4 <= end; e += 4) {
          if (((p[e] << 8) | p[e + 1]) == 0) continue;
          pmt_pid_ = ((p[e + 2] & 0x1f) << 8) | p[e + 3];
          break;
        }
      }
      std::memcpy(pat_.data(), p, kPacket);
      have_pat_ = true;
    }
    append_psi(true);
    return;
  }
  if (pid == pmt_pid_) {
    if (pusi) {
      std::memcpy(pmt_.data(), p, kPacket);
      have_pmt_ = true;
    }
    append_psi(false);
    return;
  }
  if (pusi && payload && off + 9 <= kPacket && p[off] == 0 && p[off + 1] == 0 && p[off + 2] == 1) {
    const uint8_t sid = p[off + 3];
    if (video_pid_ < 0 && sid >= 0xe0 && sid <= 0xef) video_pid_ = pid;
    const int flags = p[off + 7] >> 6;
    const size_t h = off + 9;
    if (pid == video_pid_ && (flags & 2) && h + 5 <= kPacket) {
      const uint64_t pts = read_ts(p + h);
      const uint64_t dts = flags == 3 && h + 10 <= kPacket ? read_ts(p + h + 5) : pts;
      bool cut = false;
      if (have_au_) {
        const int64_t step = diff33(dts, last_dts_);
        if (step > 0) {
          spacing_ = (uint64_t)step;
          cut = diff33(dts, part_start_) + step > (int64_t)(target_ + kClock / 1000);
        }
      }
      if (cut) {
        // The part ends here; PAT/PMT packets just before this access unit go with the next.
        const size_t at = psi_tail_ != SIZE_MAX ? psi_tail_ : cur_.size();
        std::vector<uint8_t> head(cur_.begin(), cur_.begin() + (std::ptrdiff_t)at);
        std::vector<uint8_t> tail(cur_.begin() + (std::ptrdiff_t)at, cur_.end());
        // A part lasts up to this access unit, but never more than the target: after a gap in
        // the source (frames dropped under load) the next part starts where this one's target
        // ends, so every part stays within PART-TARGET and the parts still add up.
        const uint64_t lasts = std::min<uint64_t>((uint64_t)diff33(dts, part_start_), target_);
        emit(std::move(head), lasts, independent_, out);
        part_start_ = (part_start_ + lasts) & (kWrap - 1);
        cur_.clear();
        if (rai && !(tail_pat_ && tail_pmt_) && have_pat_ && have_pmt_) {
          cur_.insert(cur_.end(), pat_.begin(), pat_.end());
          cur_.insert(cur_.end(), pmt_.begin(), pmt_.end());
        }
        cur_.insert(cur_.end(), tail.begin(), tail.end());
      }
      if (!have_au_) part_start_ = dts;
      if (!have_au_ || cut) {
        independent_ = rai;
        have_au_ = true;
      }
      last_dts_ = dts;
    }
  }
  cur_.insert(cur_.end(), p, p + kPacket);
  psi_tail_ = SIZE_MAX;
  tail_pat_ = tail_pmt_ = false;
}

std::optional<TsPartCutter::Part> TsPartCutter::finish() {
  if (!carry_.empty()) {  // a torn last packet (never in muxer output): kept as it is
    cur_.insert(cur_.end(), carry_.begin(), carry_.end());
    carry_.clear();
  }
  if (cur_.empty()) return std::nullopt;
  std::vector<Part> out;
  uint64_t duration =
      have_au_ ? (uint64_t)std::max<int64_t>(diff33(last_dts_, part_start_), 0) + spacing_ : 0;
  emit(std::move(cur_), duration, independent_, out);
  begin_segment();
  return std::move(out.front());
}

void TsPartCutter::emit(std::vector<uint8_t> bytes, uint64_t duration, bool independent,
                        std::vector<Part> &out) {
  renumber_psi(bytes);
  Part part;
  part.bytes = std::move(bytes);
  part.duration = duration;
  part.independent = independent;
  out.push_back(std::move(part));
}

void TsPartCutter::renumber_psi(std::vector<uint8_t> &bytes) {
  for (size_t i = 0; i + kPacket <= bytes.size(); i += kPacket) {
    uint8_t *p = bytes.data() + i;
    if (p[0] != 0x47) return;  // out of sync: left alone
    const int pid = ((p[1] & 0x1f) << 8) | p[2];
    int *cc = pid == 0 ? &pat_cc_ : pid == pmt_pid_ ? &pmt_cc_ : nullptr;
    if (!cc) continue;
    *cc = *cc < 0 ? (p[3] & 0x0f) : ((*cc + 1) & 0x0f);
    p[3] = (uint8_t)((p[3] & 0xf0) | *cc);
  }
}

}  // namespace iptv
