// What AES-128 adds to iptvhlssink per rendition-hour, side by side in one run: for a real
// segment file (or random bytes of a given rate), the sink's clear path (write the segment:
// write_file_atomic) against its encrypted path (TS: read the muxer's file, AES-128-CBC it,
// write_file_atomic over it; fMP4: encrypt, then write), as CPU seconds (getrusage, user+system)
// per hour of 1 s segments at the given bit rate. Medians of REPS repeats.
// usage: bench_encrypt DIR KBPS REPS [SEGMENT_FILE]
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "crypto/aes.h"
#include "util/atomic_file.h"

namespace {

double cpu_now() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_encrypt DIR KBPS REPS [SEGMENT_FILE]\n");
    return 2;
  }
  std::string dir = argv[1];
  double kbps = std::atof(argv[2]);
  int reps = std::max(1, std::atoi(argv[3]));
  std::string seg;
  if (argc > 4 && !iptv::read_file(argv[4], seg)) return 1;
  size_t bytes = (size_t)(kbps * 1000 / 8);  // one 1 s segment
  if (seg.empty()) seg = iptv::crypto::random_bytes(bytes);
  while (seg.size() < bytes) seg += seg;
  seg.resize(bytes);
  std::string key = iptv::crypto::random_bytes(16), iv = iptv::crypto::random_bytes(16);
  const int per_rep = 200;  // segments per repeat
  std::string path = dir + "/seg.ts";
  std::vector<double> clear, ts, fmp4;
  for (int r = 0; r < reps; ++r) {
    double t = cpu_now();
    for (int i = 0; i < per_rep; ++i) iptv::write_file_atomic(path, seg);
    clear.push_back(cpu_now() - t);
    t = cpu_now();
    for (int i = 0; i < per_rep; ++i) {
      iptv::write_file_atomic(path, seg);  // the muxer's clear file
      std::string in;
      iptv::read_file(path, in);
      iptv::write_file_atomic(path, iptv::crypto::aes128_cbc_encrypt(key, iv, in));
    }
    ts.push_back(cpu_now() - t);
    t = cpu_now();
    for (int i = 0; i < per_rep; ++i)
      iptv::write_file_atomic(path, iptv::crypto::aes128_cbc_encrypt(key, iv, seg));
    fmp4.push_back(cpu_now() - t);
  }
  double per_hour = 3600.0 / per_rep;  // 1 s segments
  double c = median(clear) * per_hour, e = median(ts) * per_hour, f = median(fmp4) * per_hour;
  std::printf("| %.0f kbit/s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", kbps, c, e, e - c, f, f - c);
  return 0;
}
