// A blocking HTTP GET client for the probe (libsoup 3, SoupSession's synchronous API). One per
// thread: a SoupSession used synchronously must stay on the thread that uses it.
#pragma once

#include <cstdint>
#include <string>

typedef struct _SoupSession SoupSession;

namespace iptv::probe {

struct HttpResponse {
  int status = 0;     // 0: no HTTP answer (see error)
  std::string error;  // transport error
  std::string body;
  std::string final_url;  // after redirects
  double elapsed_ms = 0;
  bool ok() const { return status >= 200 && status < 300; }
};

class HttpClient {
 public:
  explicit HttpClient(int timeout_s = 10);
  ~HttpClient();
  HttpClient(const HttpClient &) = delete;
  HttpClient &operator=(const HttpClient &) = delete;

  // `length` > 0: only bytes [offset, offset + length) (EXT-X-BYTERANGE), with a Range header.
  HttpResponse get(const std::string &url, uint64_t offset = 0, uint64_t length = 0);

 private:
  SoupSession *session_;
};

// Resolves `ref` against `base` (RFC 3986); "" when either is not a valid URI.
std::string resolve_url(const std::string &base, const std::string &ref);

// Milliseconds on the monotonic clock.
int64_t now_ms();

}  // namespace iptv::probe
