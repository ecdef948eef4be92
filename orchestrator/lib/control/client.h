// A small client of the control API for iptvctl (libsoup 3, synchronous).
//
// Where the URL and key come from, first match wins:
//   1. flags:        --url URL, --key KEY (or --key-file FILE)
//   2. environment:  IPTV_URL, IPTV_API_KEY
//   3. config file:  --config FILE, else $XDG_CONFIG_HOME/iptvctl.yaml (~/.config/iptvctl.yaml):
//                      url: http://127.0.0.1:8080
//                      key: iptv_...          # or key_file: /path/to/file
//   4. default URL http://127.0.0.1:8080, no key.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

typedef struct _SoupSession SoupSession;

namespace iptv::control {

struct ClientOptions {
  std::string url;
  std::string key;
  std::string format = "text";               // text | json
  std::vector<std::string> args;             // what is left after the common flags
  std::map<std::string, std::string> flags;  // --name VALUE of the command's own flags
  std::vector<std::string> switches;         // --name of the command's own switches
};

// Parses the common flags (--url, --key, --key-file, --config, --format) and the command's own
// `value_flags` (take a value) and `switch_flags`, resolving URL and key as above. False with a
// message in `error` on a bad command line or an unreadable file.
bool parse_client_options(int argc, char **argv, const std::vector<std::string> &value_flags,
                          const std::vector<std::string> &switch_flags, ClientOptions &out,
                          std::string *error);

struct ApiResponse {
  int status = 0;  // 0: no answer (connection refused, ...)
  std::string body;
  nlohmann::json json;  // parsed body (null when not JSON)
  std::string error;    // transport error or the API's "message"
};

class ApiClient {
 public:
  ApiClient(std::string url, std::string key);
  ~ApiClient();
  ApiClient(const ApiClient &) = delete;
  ApiClient &operator=(const ApiClient &) = delete;

  ApiResponse request(const std::string &method, const std::string &path,
                      const std::optional<nlohmann::json> &body = std::nullopt);
  // Follows /api/v1/events/stream (SSE), calling `on_event` with each event's JSON; reconnects
  // with Last-Event-ID after a drop, a 5xx, or (once it was connected) a 404 while a restarting
  // daemon mounts its API, calling `on_reconnect` once per outage with the reason and the id of
  // the last event seen ("" before any). Returns when on_event returns false, or on a 4xx answer
  // to the first request (with that response).
  ApiResponse follow(const std::string &path_and_query,
                     const std::function<bool(const nlohmann::json &)> &on_event,
                     const std::function<void(const std::string &why, const std::string &last_id)>
                         &on_reconnect = {});

 private:
  std::string url_, key_;
  SoupSession *session_;
};

// Column-aligned table for people.
std::string format_table(const std::vector<std::string> &header,
                         const std::vector<std::vector<std::string>> &rows);
// "3.2s", "-" for null / negative.
std::string format_age(const nlohmann::json &seconds);
// Prints the API's error for a failed response ("iptvctl CMD: 403 forbidden: ...") to stderr and
// returns the exit code (1).
int report_failure(const std::string &cmd, const ApiResponse &r);

}  // namespace iptv::control
