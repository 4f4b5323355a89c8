#!/usr/bin/env python3
"""Serves www/ on loopback for local use and the browser tests.

Usage: python3 www/tools/serve.py [--port N] [--dir www]   (--port 0 picks a free port)
Prints "serving http://127.0.0.1:PORT/" once listening.

Besides the files it sends the headers a real deployment should send:
- the page's Content-Security-Policy also as a header, so it covers the ranker's worker (a
  <meta> CSP applies to the document only);
- Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy, which make the page cross-origin
  isolated so performance.measureUserAgentSpecificMemory() can report memory (benchmark);
- Cache-Control: no-cache, so a rebuilt package is picked up (the model is kept in Cache Storage
  by the page itself, not by HTTP caching).
"""
import argparse
import functools
import http.server
import sys

CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
       "connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'")


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".gguf": "application/octet-stream",
        # The model card (models/README.md): shown as text, not downloaded.
        ".md": "text/plain; charset=utf-8",
    }

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("[serve] " + (fmt % args) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--dir", default="www")
    a = ap.parse_args()
    handler = functools.partial(Handler, directory=a.dir)
    with http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler) as srv:
        print(f"serving http://127.0.0.1:{srv.server_address[1]}/", flush=True)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
