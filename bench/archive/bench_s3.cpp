// Upload throughput of the archive tier's S3 client (orchestrator/lib/archive/s3_client): PUTs
// of N segment-sized files to an S3 server, then GETs of the same objects; prints one line per
// direction with the median time per request and MB/s over the whole run.
//   bench_s3 ENDPOINT BUCKET FILES...   (credentials: S3RVER/S3RVER, s3rver's account)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "archive/s3_client.h"

using namespace iptv::archive;

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_s3 ENDPOINT BUCKET FILES...\n");
    return 2;
  }
  S3Client::Config c;
  c.endpoint = argv[1];
  c.bucket = argv[2];
  c.credentials = {"S3RVER", "S3RVER"};
  S3Client client(c);
  for (const char *dir : {"put", "get"}) {
    std::vector<double> ms;
    uint64_t bytes = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 3; i < argc; i++) {
      std::string key = "bench/" + std::filesystem::path(argv[i]).filename().string();
      auto a = std::chrono::steady_clock::now();
      S3Client::Result r = dir[0] == 'p' ? client.put_file(key, argv[i])
                                         : client.get_to_file(key, std::string(argv[i]) + ".back");
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
      if (!r.ok()) {
        std::fprintf(stderr, "%s %s: %d %s\n", dir, key.c_str(), r.status, r.error.c_str());
        return 1;
      }
      bytes += r.bytes;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::sort(ms.begin(), ms.end());
    std::printf("iptvd %s: %zu objects, %.1f MB, median %.2f ms/request, %.1f MB/s\n", dir,
                ms.size(), bytes / 1e6, ms[ms.size() / 2], bytes / 1e6 / secs);
  }
  return 0;
}
