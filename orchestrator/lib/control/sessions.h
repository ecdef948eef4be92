// SessionOpener: decides whether a subject may watch a channel, issues the playback token and
// records the session; revokes sessions at the origin. Every outcome is audited here, so the API
// and the M3U playlist share one path.
//
// Reason codes of a refusal (stable; docs/api.md):
//   channel_not_found, channel_disabled, channel_retired, rights_expired, account_required,
//   not_entitled, entitlement_expired, region_mismatch, region_required, region_not_permitted,
//   region_not_licensed, invalid_request, too_many_sessions
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/directory.h"
#include "control/store.h"
#include "origin/origin.h"
#include "records/channel.h"
#include "token/token.h"

namespace iptv::control {

struct SessionConfig {
  int64_t ttl_seconds = 3600;   // token and session lifetime (capped at the rights expiry)
  bool bind_client_ip = false;  // put the requesting client's IP in the token
  // Open (unrevoked, unexpired) sessions one subject may hold; a new one past it is refused
  // with too_many_sessions (429). Anonymous sessions (no subject) are not counted.
  int64_t max_sessions_per_subject = 1000;
};

struct SessionRequest {
  std::string subject;  // "" anonymous (only on channels with account_required: false)
  std::string channel_id;
  std::string region;     // "" = the entitlement's region
  std::string client_ip;  // for the audit hash (and the token when bind_client_ip)
  std::string actor;      // "key:<id>" or "subject:<name>"
  // Reuse the open session of the same subject, channel and client binding when it still has
  // at least half of ttl_seconds to live (a new token for it is signed; no new row, no audit
  // row). The M3U playlist sets it: every fetch used to open a new session per channel.
  bool reuse = false;
  // An operator's preview from the console (POST /api/v1/channels/{id}/preview): the subject's
  // entitlement and region checks are skipped (the record must still exist and be active, with
  // its rights unexpired), and the session lives `ttl_seconds` (0: the configured TTL).
  bool operator_preview = false;
  int64_t ttl_seconds = 0;
};

struct SessionResult {
  bool ok = false;
  std::string reason;   // refusal code ("" on success)
  std::string message;  // for people
  int http_status = 201;
  Session session;
  std::string path;  // /hls/<channel>/<token>/index.m3u8
  int64_t token_expires_at = 0;
  bool reused = false;  // an open session was reused (SessionRequest::reuse)
};

// The decision alone (no token, no audit): "" when allowed, else a reason code.
// `region` is the requested region ("" none). Pure: unit-tested.
std::string access_decision(const ChannelRecord &record, const std::optional<Entitlement> &ent,
                            const std::string &subject, const std::string &region, int64_t now,
                            std::string *effective_region = nullptr);

class SessionOpener {
 public:
  // `origin` may be null (no revocation at an origin, e.g. in unit tests). All must outlive this.
  SessionOpener(ControlStore &store, RecordSource &records, const KeyRing &keys, Origin *origin,
                SessionConfig config);

  SessionResult open(const SessionRequest &req);
  // Revokes one session (store + origin). False when unknown or already revoked.
  bool revoke(const std::string &session_id, const std::string &actor,
              const std::string &client_ip);
  // Revokes every active session of a subject (and the subject's playlist tokens issued so far).
  std::vector<std::string> revoke_subject(const std::string &subject, const std::string &actor,
                                          const std::string &client_ip);
  // Re-arms the origin with revoked sessions that have not expired (call once after a restart).
  size_t rearm_origin();

  const SessionConfig &config() const { return config_; }

 private:
  ControlStore &store_;
  RecordSource &records_;
  const KeyRing &keys_;
  Origin *origin_;
  SessionConfig config_;
};

}  // namespace iptv::control
