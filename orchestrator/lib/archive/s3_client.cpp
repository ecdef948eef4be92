#include "archive/s3_client.h"

#include <fcntl.h>
#include <libsoup/soup.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace iptv::archive {

S3Credentials load_s3_credentials(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    throw std::runtime_error(
        path + ": group or others may read it (mode " + std::to_string((st.st_mode >> 6) & 7) +
        std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) + "); chmod 600 it");
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  S3Credentials c;
  std::string line;
  int n = 0;
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
    s = s.substr(i);
    if (s.size() >= 2 && (s[0] == '"' || s[0] == '\'') && s.back() == s[0])
      s = s.substr(1, s.size() - 2);
    return s;
  };
  while (std::getline(in, line)) {
    n++;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t colon = t.find(':');
    if (colon == std::string::npos)
      throw std::runtime_error(path + ":" + std::to_string(n) +
                               ": expected 'access_key_id: ...' or 'secret_access_key: ...'");
    std::string k = trim(t.substr(0, colon)), v = trim(t.substr(colon + 1));
    if (k == "access_key_id")
      c.access_key_id = v;
    else if (k == "secret_access_key")
      c.secret_access_key = v;
    else
      throw std::runtime_error(path + ":" + std::to_string(n) + ": unknown key '" + k +
                               "' (access_key_id, secret_access_key)");
  }
  if (c.access_key_id.empty()) throw std::runtime_error(path + ": access_key_id is missing");
  if (c.secret_access_key.empty())
    throw std::runtime_error(path + ": secret_access_key is missing");
  return c;
}

namespace sigv4 {

std::string hex(const std::string &raw) {
  static const char *d = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string sha256_hex(const void *data, size_t len) {
  gchar *h = g_compute_checksum_for_data(G_CHECKSUM_SHA256, static_cast<const guchar *>(data), len);
  std::string out = h;
  g_free(h);
  return out;
}

std::string hmac_sha256(const std::string &key, const std::string &data) {
  GHmac *m =
      g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(key.data()), key.size());
  g_hmac_update(m, reinterpret_cast<const guchar *>(data.data()), data.size());
  guint8 buf[32];
  gsize n = sizeof buf;
  g_hmac_get_digest(m, buf, &n);
  g_hmac_unref(m);
  return std::string(reinterpret_cast<char *>(buf), n);
}

std::string uri_encode(const std::string &s, bool keep_slash) {
  static const char *d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += d[c >> 4];
      out += d[c & 15];
    }
  }
  return out;
}

std::string canonical_request(const Request &r, std::string *signed_headers) {
  // Header names lower case, values trimmed with inner runs of spaces folded, sorted by name.
  std::vector<std::pair<std::string, std::string>> h;
  for (auto [k, v] : r.headers) {
    std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string folded;
    bool space = false;
    for (char c : v) {
      if (c == ' ' || c == '\t') {
        space = true;
        continue;
      }
      if (space && !folded.empty()) folded += ' ';
      space = false;
      folded += c;
    }
    h.emplace_back(k, folded);
  }
  std::stable_sort(h.begin(), h.end(), [](auto &a, auto &b) { return a.first < b.first; });
  std::string canon_headers, names;
  for (size_t i = 0; i < h.size(); i++) {
    if (i > 0 && h[i].first == h[i - 1].first) {  // a repeated header: values joined by ','
      canon_headers.pop_back();
      canon_headers += "," + h[i].second + "\n";
      continue;
    }
    canon_headers += h[i].first + ":" + h[i].second + "\n";
    names += (names.empty() ? "" : ";") + h[i].first;
  }
  if (signed_headers) *signed_headers = names;
  return r.method + "\n" + r.path + "\n" + r.query + "\n" + canon_headers + "\n" + names + "\n" +
         r.payload_hash;
}

std::string string_to_sign(const std::string &amz_date, const std::string &scope,
                           const std::string &canonical) {
  return "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
}

std::string signature(const std::string &secret, const std::string &date, const std::string &region,
                      const std::string &service, const std::string &to_sign) {
  std::string k = hmac_sha256("AWS4" + secret, date);
  k = hmac_sha256(k, region);
  k = hmac_sha256(k, service);
  k = hmac_sha256(k, "aws4_request");
  return hex(hmac_sha256(k, to_sign));
}

std::string authorization(const Request &r, const S3Credentials &c, const std::string &region,
                          const std::string &service, const std::string &amz_date) {
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  std::string names;
  std::string canon = canonical_request(r, &names);
  std::string sig =
      signature(c.secret_access_key, date, region, service, string_to_sign(amz_date, scope, canon));
  return "AWS4-HMAC-SHA256 Credential=" + c.access_key_id + "/" + scope +
         ",SignedHeaders=" + names + ",Signature=" + sig;
}

}  // namespace sigv4

struct S3Client::Impl {
  SoupSession *session = nullptr;
  std::string host_header;  // host[:port] as the request carries it
  std::string base;         // endpoint without a trailing '/'
};

S3Client::S3Client(Config c) : cfg_(std::move(c)), impl_(std::make_unique<Impl>()) {
  impl_->base = cfg_.endpoint;
  while (!impl_->base.empty() && impl_->base.back() == '/') impl_->base.pop_back();
  GUri *u = g_uri_parse(impl_->base.c_str(), G_URI_FLAGS_NONE, nullptr);
  if (!u || !g_uri_get_host(u) ||
      (g_strcmp0(g_uri_get_scheme(u), "http") != 0 &&
       g_strcmp0(g_uri_get_scheme(u), "https") != 0)) {
    if (u) g_uri_unref(u);
    throw std::runtime_error("archive endpoint '" + cfg_.endpoint +
                             "' is not an http(s)://host[:port] URL");
  }
  impl_->host_header = g_uri_get_host(u);
  int port = g_uri_get_port(u);
  bool https = g_strcmp0(g_uri_get_scheme(u), "https") == 0;
  if (port > 0 && port != (https ? 443 : 80)) impl_->host_header += ":" + std::to_string(port);
  g_uri_unref(u);
  impl_->session = soup_session_new_with_options("timeout", cfg_.timeout_seconds, "idle-timeout",
                                                 60, "max-conns-per-host", 4, nullptr);
}

S3Client::~S3Client() {
  if (impl_->session) g_object_unref(impl_->session);
}

S3Client::Result S3Client::send(const std::string &method, const std::string &key,
                                const std::string &body, std::string *answer,
                                const std::string &query) {
  // An object: /<bucket>/<prefix><key>; the bucket itself (a listing): /<bucket> and a query.
  std::string path = "/" + sigv4::uri_encode(cfg_.bucket, false);
  if (query.empty()) path += "/" + sigv4::uri_encode(cfg_.prefix + key, true);
  char amz_date[32];
  time_t now = ::time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  std::strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  sigv4::Request r;
  r.method = method;
  r.path = path;
  r.query = query;
  r.payload_hash = sigv4::sha256_hex(body);
  r.headers = {{"host", impl_->host_header},
               {"x-amz-content-sha256", r.payload_hash},
               {"x-amz-date", amz_date}};
  std::string auth = sigv4::authorization(r, cfg_.credentials, cfg_.region, "s3", amz_date);

  Result res;
  std::string url = impl_->base + path + (query.empty() ? "" : "?" + query);
  SoupMessage *msg = soup_message_new(method.c_str(), url.c_str());
  if (!msg) {
    res.error = "bad URL for key '" + key + "'";
    return res;
  }
  SoupMessageHeaders *h = soup_message_get_request_headers(msg);
  soup_message_headers_replace(h, "Host", impl_->host_header.c_str());
  soup_message_headers_replace(h, "x-amz-content-sha256", r.payload_hash.c_str());
  soup_message_headers_replace(h, "x-amz-date", amz_date);
  soup_message_headers_replace(h, "Authorization", auth.c_str());
  if (method == "PUT") {
    GBytes *b = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, "application/octet-stream", b);
    g_bytes_unref(b);
  }
  GError *err = nullptr;
  GBytes *out;
  {
    std::lock_guard lk(mu_);
    out = soup_session_send_and_read(impl_->session, msg, nullptr, &err);
  }
  res.status = static_cast<int>(soup_message_get_status(msg));
  if (err) {
    res.status = 0;
    res.error = err->message;
    g_error_free(err);
  } else {
    gsize n = 0;
    const char *d = static_cast<const char *>(g_bytes_get_data(out, &n));
    std::string text(d ? d : "", n);
    if (!res.ok()) {
      // <Error><Code>NoSuchKey</Code>...: the code is enough (the body may echo the request).
      size_t a = text.find("<Code>"), b = text.find("</Code>");
      res.error = a != std::string::npos && b != std::string::npos && b > a
                      ? text.substr(a + 6, b - a - 6)
                      : "HTTP " + std::to_string(res.status);
    } else if (answer) {
      *answer = std::move(text);
    }
  }
  if (out) g_bytes_unref(out);
  g_object_unref(msg);
  return res;
}

S3Client::Result S3Client::put_file(const std::string &key, const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Result r;
    r.error = path + ": " + std::strerror(errno);
    return r;
  }
  std::string body((std::istreambuf_iterator<char>(in)), {});
  Result r = send("PUT", key, body, nullptr);
  if (r.ok()) r.bytes = body.size();
  return r;
}

S3Client::Result S3Client::get_to_file(const std::string &key, const std::string &path) {
  std::string body;
  Result r = send("GET", key, "", &body);
  if (!r.ok()) return r;
  std::string tmp = path + ".part" + std::to_string(reinterpret_cast<uintptr_t>(&body));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int e = 0;
  if (fd < 0) {
    e = errno;
  } else {
    for (size_t off = 0; off < body.size();) {
      ssize_t w = ::write(fd, body.data() + off, body.size() - off);
      if (w < 0) {
        e = errno;
        break;
      }
      off += static_cast<size_t>(w);
    }
    if (::close(fd) != 0 && !e) e = errno;
    if (!e && ::rename(tmp.c_str(), path.c_str()) != 0) e = errno;
    if (e) ::unlink(tmp.c_str());
  }
  if (e) {
    r.status = 0;
    r.error = path + ": " + std::strerror(e);
    return r;
  }
  r.bytes = body.size();
  return r;
}

S3Client::Result S3Client::remove(const std::string &key) {
  return send("DELETE", key, "", nullptr);
}

namespace {

// The text of every <tag>...</tag> in `xml` (ListObjectsV2 answers: flat, no CDATA), with the
// five predefined XML entities decoded.
std::vector<std::string> xml_values(const std::string &xml, const std::string &tag, size_t from = 0,
                                    size_t to = std::string::npos) {
  std::vector<std::string> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t a = xml.find(open, from); a != std::string::npos && a < to;
       a = xml.find(open, a + 1)) {
    size_t b = xml.find(close, a);
    if (b == std::string::npos || b > to) break;
    std::string raw = xml.substr(a + open.size(), b - a - open.size()), v;
    for (size_t i = 0; i < raw.size(); ++i) {
      static const std::pair<const char *, char> ents[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool done = false;
      if (raw[i] == '&')
        for (auto &[e, c] : ents)
          if (raw.compare(i, std::strlen(e), e) == 0) {
            v += c;
            i += std::strlen(e) - 1;
            done = true;
            break;
          }
      if (!done) v += raw[i];
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

S3Client::Result S3Client::list(const std::string &key_prefix, std::vector<Listed> *out) {
  std::string token;
  Result total;
  for (int page = 0;; ++page) {
    // The canonical query: names in order, values percent-encoded ('/' too).
    std::string q;
    if (!token.empty()) q += "continuation-token=" + sigv4::uri_encode(token, false) + "&";
    q += "list-type=2&max-keys=" + std::to_string(cfg_.list_page > 0 ? cfg_.list_page : 1000) +
         "&prefix=" + sigv4::uri_encode(cfg_.prefix + key_prefix, false);
    std::string xml;
    Result r = send("GET", "", "", &xml, q);
    if (!r.ok()) return r;
    total.status = r.status;
    for (size_t a = xml.find("<Contents>"); a != std::string::npos;
         a = xml.find("<Contents>", a + 1)) {
      size_t b = xml.find("</Contents>", a);
      if (b == std::string::npos) break;
      auto keys = xml_values(xml, "Key", a, b);
      auto sizes = xml_values(xml, "Size", a, b);
      if (keys.empty()) continue;
      const std::string &k = keys[0];
      if (k.compare(0, cfg_.prefix.size(), cfg_.prefix) != 0) continue;  // not ours
      Listed l;
      l.key = k.substr(cfg_.prefix.size());
      l.bytes = sizes.empty() ? 0 : std::strtoull(sizes[0].c_str(), nullptr, 10);
      out->push_back(std::move(l));
    }
    auto truncated = xml_values(xml, "IsTruncated");
    auto next = xml_values(xml, "NextContinuationToken");
    if (truncated.empty() || truncated[0] != "true" || next.empty() || next[0].empty()) break;
    if (page > 1'000'000) {
      total.status = 0;
      total.error = "listing does not end";
      return total;
    }
    token = next[0];
  }
  return total;
}

}  // namespace iptv::archive
