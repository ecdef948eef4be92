#!/usr/bin/env python3
"""A real webhook receiver for tests/store/test_webhooks.cpp.

Listens on 127.0.0.1:PORT, answers POSTs, and appends one JSON line per request to --log:
  {"n": <request number>, "status": <answer>, "path": ..., "idempotency_key": ...,
   "event": ..., "timestamp": ..., "attempt": ..., "signature": ..., "signature_ok": bool,
   "body": <raw body text>}
--fail-first N answers the first N requests (of this process) with 500.
--delay-ms D sleeps D ms before answering (so a test can kill it mid-run).
The signature is checked against --secret: sha256=<hex HMAC-SHA256(body, secret)>.
Each line is written with one os.write on an O_APPEND file, so a SIGKILL never leaves a torn
record from another request (at worst the current one is missing).
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--delay-ms", type=int, default=0)
    args = ap.parse_args()

    fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lock = threading.Lock()
    counter = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                counter["n"] += 1
                n = counter["n"]
            status = 500 if n <= args.fail_first else 200
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000.0)
            sig = self.headers.get("X-Iptv-Signature", "")
            want = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
            rec = {
                "n": n,
                "status": status,
                "path": self.path,
                "content_type": self.headers.get("Content-Type", ""),
                "idempotency_key": self.headers.get("Idempotency-Key", ""),
                "event": self.headers.get("X-Iptv-Event", ""),
                "timestamp": self.headers.get("X-Iptv-Timestamp", ""),
                "attempt": self.headers.get("X-Iptv-Delivery-Attempt", ""),
                "signature": sig,
                "signature_ok": hmac.compare_digest(sig, want),
                "body": body.decode("utf-8", "replace"),
            }
            os.write(fd, (json.dumps(rec) + "\n").encode())
            out = b'{"ok":true}' if status == 200 else b'{"error":"try again"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
