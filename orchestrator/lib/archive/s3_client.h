// A small S3 client for the archive tier (docs/timeshift.md): PUT, GET and DELETE of objects and
// ListObjectsV2, path-style (<endpoint>/<bucket>/<key>), signed with AWS Signature Version 4
// (header form, with the payload's SHA-256 in x-amz-content-sha256). libsoup 3 carries the
// requests; GLib's GChecksum and GHmac do SHA-256 and HMAC-SHA256.
//
// - Credentials come from a file that only its owner may read (0600 or tighter); the secret is
//   never logged and never part of an error text.
// - Calls are synchronous and thread-safe (one libsoup session, one request at a time per
//   client); the archive tier calls them from its own thread and from the origin's threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace iptv::archive {

struct S3Credentials {
  std::string access_key_id, secret_access_key;
};

// Reads "access_key_id: ..." and "secret_access_key: ..." lines (# comments allowed). Throws
// std::runtime_error naming the file (and line) when it is missing, readable by group or others,
// malformed, or lacks a key.
S3Credentials load_s3_credentials(const std::string &path);

namespace sigv4 {

std::string sha256_hex(const void *data, size_t len);
inline std::string sha256_hex(const std::string &s) {
  return sha256_hex(s.data(), s.size());
}
std::string hmac_sha256(const std::string &key, const std::string &data);  // raw 32 bytes
std::string hex(const std::string &raw);
// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, '/' kept when
// `keep_slash` (object key paths), every other byte as %XX (upper case).
std::string uri_encode(const std::string &s, bool keep_slash);

struct Request {
  std::string method;  // GET, PUT, ...
  std::string path;    // the canonical (already encoded) URI path, "/" at least
  std::string query;   // the canonical query string ("" when none)
  std::vector<std::pair<std::string, std::string>> headers;  // signed headers (any case)
  std::string payload_hash;  // hex SHA-256 of the body (or UNSIGNED-PAYLOAD)
};

// The steps of the documented algorithm, exposed for the published test vectors.
std::string canonical_request(const Request &r, std::string *signed_headers);
std::string string_to_sign(const std::string &amz_date, const std::string &scope,
                           const std::string &canonical);
std::string signature(const std::string &secret, const std::string &date, const std::string &region,
                      const std::string &service, const std::string &to_sign);
// The Authorization header value for `r` at `amz_date` (YYYYMMDDTHHMMSSZ).
std::string authorization(const Request &r, const S3Credentials &c, const std::string &region,
                          const std::string &service, const std::string &amz_date);

}  // namespace sigv4

class S3Client {
 public:
  struct Config {
    std::string endpoint;  // http(s)://host[:port]
    std::string bucket, region = "us-east-1", prefix;
    S3Credentials credentials;
    int timeout_seconds = 30;
    int list_page = 1000;  // ListObjectsV2 max-keys (tests use a small page)
  };
  struct Result {
    int status = 0;     // HTTP status (0: no answer)
    std::string error;  // "" on success; the S3 error code or transport error otherwise
    uint64_t bytes = 0;
    bool ok() const { return status >= 200 && status < 300; }
  };

  explicit S3Client(Config c);
  ~S3Client();
  S3Client(const S3Client &) = delete;
  S3Client &operator=(const S3Client &) = delete;

  Result put_file(const std::string &key, const std::string &path);
  // Writes the object to `path` through a temporary name and a rename.
  Result get_to_file(const std::string &key, const std::string &path);
  Result remove(const std::string &key);
  // Every object whose key starts with `key_prefix` (below the configured prefix), through
  // ListObjectsV2 (GET /<bucket>?list-type=2&prefix=..., list_page a page, continuation tokens).
  // Keys in `out` are relative to the configured prefix, as put_file() takes them.
  struct Listed {
    std::string key;
    uint64_t bytes = 0;
  };
  Result list(const std::string &key_prefix, std::vector<Listed> *out);
  const Config &config() const { return cfg_; }

 private:
  Result send(const std::string &method, const std::string &key, const std::string &body,
              std::string *answer, const std::string &query = "");
  Config cfg_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
};

}  // namespace iptv::archive
