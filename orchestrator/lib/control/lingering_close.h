// Answering a request whose body is refused unread (api_server.cpp's early handler): the answer is
// written on the connection taken from libsoup, its sending side shut, and what the client still
// sends is discarded for up to 2 s (so the client reads the answer instead of a reset), then it
// is closed. Server thread only.
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <string>

namespace iptv::control {

// The response set on `msg` (status, headers, body) as HTTP/1.1 bytes, with Connection: close.
std::string serialize_response(SoupServerMessage *msg);

// The socket under a connection taken with soup_server_message_steal_connection (a new
// reference), or null: libsoup hands back its own wrapper (SoupIOStream, whose "base-iostream" is
// the GSocketConnection it was given) or the connection itself.
GSocket *socket_of_stream(GIOStream *stream);

// Writes `out` on `stream` (taken with soup_server_message_steal_connection; `sock` is its
// socket, referenced by the caller), then lingers and closes as above on the thread-default main
// context. Takes over both references.
void lingering_close(GIOStream *stream, GSocket *sock, std::string out);

}  // namespace iptv::control
