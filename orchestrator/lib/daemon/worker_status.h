// Worker status lines (iptvd-worker -> iptvd) as the daemon names them. The types, their JSON
// and the strict parser are the protocol's own (wire/status.h); these are aliases.
#pragma once

#include "wire/status.h"

namespace iptv::daemon {

using StHello = wire::Hello;
using StHeartbeat = wire::Heartbeat;
using StState = wire::State;
using StSegment = wire::Segment;
using StEncoder = wire::Encoder;
using StProbe = wire::Probe;
using StAck = wire::Ack;
using StSource = wire::Source;
using StEvent = wire::Event;
using StRenditionStats = wire::RenditionStats;
using StStats = wire::Stats;
using StError = wire::Error;
using wire::StatusLine;

// Parses one line. nullopt (with `error` set, naming the field) for malformed JSON, an unknown
// "t", a missing required field or a field of the wrong type; unknown fields are ignored.
using wire::parse_status_line;

}  // namespace iptv::daemon
