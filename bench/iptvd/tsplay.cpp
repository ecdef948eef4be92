// tsplay: replays one MPEG-TS file to N UDP destinations at the file's own pace (its PCR), from
// one thread with sendmmsg, so that a benchmark of N channels does not spend N senders' CPU.
//
//   tsplay [--spread SECONDS] [--seconds S] FILE HOST:PORT...
//
// - Each packet's send time is interpolated between the PCRs around it; 7 packets (1316 bytes)
//   make a datagram, sent when its first packet is due.
// - Destination i starts i * spread / N seconds after the first (default spread 2 s), so that N
//   channels do not cut their segments and write their files in lockstep.
// - The file loops seamlessly: at each loop PCR, PTS and DTS are shifted by the file's duration
//   (taken from the video PES timestamps) and the continuity counters continue, so the receiver
//   sees one endless stream without a discontinuity.
// - One unconnected socket: every due datagram of every destination goes out in sendmmsg calls of
//   up to 256 messages. The process wakes at most every 2 ms.
// - --seconds S stops after S seconds (default: run until killed). On exit it prints to stderr
//   the datagrams sent, the late wake-ups (> 20 ms behind), its own CPU time, and its latest
//   datagram (how far behind, and when from its start): a sender stall shows there.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr size_t kPacket = 188, kPerDatagram = 7;
constexpr uint64_t kPcrWrap = (1ULL << 33) * 300, kPtsWrap = 1ULL << 33;

volatile std::sig_atomic_t g_stop = 0;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t read_pcr(const uint8_t *p) {  // p: the 6 PCR bytes
  uint64_t base = ((uint64_t)p[0] << 25) | ((uint64_t)p[1] << 17) | ((uint64_t)p[2] << 9) |
                  ((uint64_t)p[3] << 1) | (p[4] >> 7);
  uint64_t ext = ((uint64_t)(p[4] & 1) << 8) | p[5];
  return base * 300 + ext;
}

void write_pcr(uint8_t *p, uint64_t pcr) {
  uint64_t base = pcr / 300 % kPtsWrap, ext = pcr % 300;
  p[0] = (uint8_t)(base >> 25);
  p[1] = (uint8_t)(base >> 17);
  p[2] = (uint8_t)(base >> 9);
  p[3] = (uint8_t)(base >> 1);
  p[4] = (uint8_t)(((base & 1) << 7) | 0x7e | (ext >> 8));
  p[5] = (uint8_t)ext;
}

uint64_t read_ts(const uint8_t *p) {  // a PES PTS/DTS field (5 bytes)
  return ((uint64_t)(p[0] & 0x0e) << 29) | ((uint64_t)p[1] << 22) |
         ((uint64_t)(p[2] & 0xfe) << 14) | ((uint64_t)p[3] << 7) | (p[4] >> 1);
}

void write_ts(uint8_t *p, uint64_t v) {
  v %= kPtsWrap;
  p[0] = (uint8_t)((p[0] & 0xf0) | ((v >> 29) & 0x0e) | 1);
  p[1] = (uint8_t)(v >> 22);
  p[2] = (uint8_t)(((v >> 14) & 0xfe) | 1);
  p[3] = (uint8_t)(v >> 7);
  p[4] = (uint8_t)(((v << 1) & 0xfe) | 1);
}

struct Layout {  // where a packet's fields are, -1: absent
  int pid = 0;
  bool payload = false;
  int pcr = -1, pts = -1, dts = -1;
  int stream_id = -1;  // PES start: its stream id
};

Layout parse(const uint8_t *p) {
  Layout l;
  l.pid = ((p[1] & 0x1f) << 8) | p[2];
  int afc = (p[3] >> 4) & 3;
  l.payload = afc & 1;
  size_t off = 4;
  if (afc & 2) {
    int alen = p[4];
    if (alen > 0 && (p[5] & 0x10) && alen >= 7) l.pcr = 6;
    off = 5 + alen;
  }
  if (l.payload && (p[1] & 0x40) && off + 14 <= kPacket && p[off] == 0 && p[off + 1] == 0 &&
      p[off + 2] == 1) {
    l.stream_id = p[off + 3];
    int flags = p[off + 7] >> 6;
    if (flags & 2) l.pts = (int)off + 9;
    if (flags == 3) l.dts = (int)off + 14;
  }
  return l;
}

struct Dest {
  sockaddr_in addr{};
  int64_t start_ns = 0;  // when its packet 0 of loop 0 is due
  size_t next = 0;       // next datagram index
  uint64_t loop = 0;
};

}  // namespace

int main(int argc, char **argv) {
  double spread = 2.0, seconds = 0;
  int a = 1;
  for (; a < argc && argv[a][0] == '-' && argv[a][1] == '-'; a += 2) {
    if (a + 1 >= argc) break;
    if (!strcmp(argv[a], "--spread"))
      spread = atof(argv[a + 1]);
    else if (!strcmp(argv[a], "--seconds"))
      seconds = atof(argv[a + 1]);
    else {
      fprintf(stderr, "tsplay: unknown option %s\n", argv[a]);
      return 2;
    }
  }
  if (argc - a < 2) {
    fprintf(stderr, "usage: tsplay [--spread S] [--seconds S] FILE HOST:PORT...\n");
    return 2;
  }
  std::ifstream in(argv[a], std::ios::binary);
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t npk = file.size() / kPacket;
  if (!in.good() && !in.eof()) {
    fprintf(stderr, "tsplay: cannot read %s\n", argv[a]);
    return 1;
  }
  if (npk < 2 * kPerDatagram || file[0] != 0x47) {
    fprintf(stderr, "tsplay: %s is not an MPEG-TS file of 188-byte packets\n", argv[a]);
    return 1;
  }
  // Packet times from the PCRs (27 MHz, relative to the first PCR), the video duration, and the
  // continuity counters' first and last values per PID.
  std::vector<Layout> lay(npk);
  std::vector<std::pair<size_t, uint64_t>> pcrs;
  int pcr_pid = -1;
  std::vector<uint64_t> vpts, apts;
  std::map<int, std::pair<int, int>> cc;  // pid -> first, last
  for (size_t i = 0; i < npk; ++i) {
    const uint8_t *p = &file[i * kPacket];
    if (p[0] != 0x47) {
      fprintf(stderr, "tsplay: %s: lost sync at packet %zu\n", argv[a], i);
      return 1;
    }
    lay[i] = parse(p);
    const Layout &l = lay[i];
    if (l.pcr >= 0 && (pcr_pid < 0 || pcr_pid == l.pid)) {
      pcr_pid = l.pid;
      pcrs.push_back({i, read_pcr(p + l.pcr)});
    }
    if (l.pts >= 0 && l.stream_id >= 0xe0 && l.stream_id <= 0xef)
      vpts.push_back(read_ts(p + l.pts));
    if (l.pts >= 0 && l.stream_id >= 0xc0 && l.stream_id <= 0xdf)
      apts.push_back(read_ts(p + l.pts));
    if (l.payload) {
      auto it = cc.find(l.pid);
      if (it == cc.end())
        cc[l.pid] = {p[3] & 15, p[3] & 15};
      else
        it->second.second = p[3] & 15;
    }
  }
  if (pcrs.size() < 2 || vpts.size() < 2) {
    fprintf(stderr, "tsplay: %s has fewer than 2 PCRs or video PTS\n", argv[a]);
    return 1;
  }
  // The loop's duration: from the first PES start to the last PES end, video or audio, so that
  // neither stream steps back at the loop (the shorter one gets a gap under one frame).
  uint64_t first = UINT64_MAX, last_end = 0;
  for (auto *v : {&vpts, &apts}) {
    if (v->size() < 2) continue;
    std::sort(v->begin(), v->end());
    std::vector<uint64_t> d;
    for (size_t i = 1; i < v->size(); ++i) d.push_back((*v)[i] - (*v)[i - 1]);
    std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
    first = std::min(first, v->front());
    last_end = std::max(last_end, v->back() + d[d.size() / 2]);
  }
  uint64_t loop_90k = last_end - first;
  std::vector<int64_t> t_ns(npk);  // packet i's time from the first PCR
  size_t k = 1;
  for (size_t i = 0; i < npk; ++i) {
    while (k + 1 < pcrs.size() && pcrs[k].first < i) ++k;
    auto [i0, c0] = pcrs[k - 1];
    auto [i1, c1] = pcrs[k];
    double rate = double(c1 - c0) / double(i1 - i0);  // 27 MHz ticks per packet
    double c = (double)c0 + rate * ((double)i - (double)i0) - (double)pcrs[0].second;
    t_ns[i] = (int64_t)(c * 1000.0 / 27.0);
  }
  int64_t loop_ns = (int64_t)(loop_90k * 100000 / 9);
  size_t ndg = (npk + kPerDatagram - 1) / kPerDatagram;

  std::vector<Dest> dests;
  int64_t t0 = now_ns() + 100000000;  // 100 ms from now
  int n = argc - a - 1;
  for (int i = 0; i < n; ++i) {
    std::string hp = argv[a + 1 + i];
    auto colon = hp.rfind(':');
    Dest dst;
    dst.addr.sin_family = AF_INET;
    if (colon == std::string::npos ||
        inet_pton(AF_INET, hp.substr(0, colon).c_str(), &dst.addr.sin_addr) != 1) {
      fprintf(stderr, "tsplay: bad destination '%s' (want IPv4:PORT)\n", hp.c_str());
      return 2;
    }
    dst.addr.sin_port = htons((uint16_t)atoi(hp.c_str() + colon + 1));
    dst.start_ns = t0 + (int64_t)(spread * 1e9 * i / n) - t_ns[0];
    dests.push_back(dst);
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int sndbuf = 8 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });

  constexpr size_t kBatch = 256;
  std::vector<uint8_t> bufs(kBatch * kPacket * kPerDatagram);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  uint64_t sent = 0, late = 0, calls = 0;
  int64_t worst_ns = 0, worst_at = 0;  // the latest datagram, and when (from the start)
  int64_t end = seconds > 0 ? t0 + (int64_t)(seconds * 1e9) : INT64_MAX;
  size_t fill = 0;
  auto flush = [&] {
    size_t off = 0;
    while (off < fill) {
      int r = sendmmsg(fd, &msgs[off], (unsigned)(fill - off), 0);
      ++calls;
      if (r <= 0) {
        if (errno == EINTR) continue;
        perror("tsplay: sendmmsg");
        break;
      }
      off += (size_t)r;
      sent += (size_t)r;
    }
    fill = 0;
  };
  while (!g_stop) {
    int64_t now = now_ns();
    if (now >= end) break;
    int64_t next_due = INT64_MAX;
    for (auto &dst : dests) {
      for (;;) {
        size_t first = dst.next * kPerDatagram;
        int64_t due = dst.start_ns + (int64_t)dst.loop * loop_ns + t_ns[first];
        if (due > now) {
          next_due = std::min(next_due, due);
          break;
        }
        if (now - due > 20000000) ++late;
        if (now - due > worst_ns) worst_ns = now - due, worst_at = now - t0;
        size_t count = std::min(kPerDatagram, npk - first);
        uint8_t *out = &bufs[fill * kPacket * kPerDatagram];
        memcpy(out, &file[first * kPacket], count * kPacket);
        if (dst.loop) {
          uint64_t shift90 = dst.loop * loop_90k;
          for (size_t j = 0; j < count; ++j) {
            uint8_t *p = out + j * kPacket;
            const Layout &l = lay[first + j];
            if (l.pcr >= 0) write_pcr(p + l.pcr, (read_pcr(p + l.pcr) + shift90 * 300) % kPcrWrap);
            if (l.pts >= 0) write_ts(p + l.pts, read_ts(p + l.pts) + shift90);
            if (l.dts >= 0) write_ts(p + l.dts, read_ts(p + l.dts) + shift90);
            if (l.payload) {
              auto [c_first, c_last] = cc[l.pid];
              int step = (c_last + 1 - c_first) & 15;
              p[3] = (uint8_t)((p[3] & 0xf0) | (((p[3] & 15) + step * (int)(dst.loop % 16)) & 15));
            }
          }
        }
        iov[fill] = {out, count * kPacket};
        msgs[fill].msg_hdr = {};
        msgs[fill].msg_hdr.msg_name = &dst.addr;
        msgs[fill].msg_hdr.msg_namelen = sizeof dst.addr;
        msgs[fill].msg_hdr.msg_iov = &iov[fill];
        msgs[fill].msg_hdr.msg_iovlen = 1;
        if (++fill == kBatch) flush();
        if (++dst.next == ndg) {
          dst.next = 0;
          ++dst.loop;
        }
      }
    }
    flush();
    int64_t wake = std::max(next_due, now_ns() + 2000000);
    timespec ts{(time_t)(wake / 1000000000), (long)(wake % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu =
      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  fprintf(stderr,
          "tsplay: %d destinations, %llu datagrams in %llu sendmmsg calls, %llu late, %.2f CPU-s, "
          "latest datagram %.0f ms behind at %.1f s\n",
          n, (unsigned long long)sent, (unsigned long long)calls, (unsigned long long)late, cpu,
          worst_ns / 1e6, worst_at / 1e9);
  return 0;
}
