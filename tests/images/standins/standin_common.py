"""Shared by the linode-ai test stand-ins (tests only, never deployed).

Python 3 standard library only: the stand-in images are a Debian minbase with
python3 and curl. Each stand-in imports this module from
/usr/local/lib/linode-ai-standin (its Dockerfile puts it there).

Fail switches, read once at start-up:
  LINODE_AI_STANDIN_FAIL=exit  exit with status 1 at once (a container in a restart loop)
  LINODE_AI_STANDIN_FAIL=hang  serve, but never answer the health path
The same word in a file named `linode-ai-standin-fail` at the top of the
image's data volume does the same (the boot script passes a container only the
variables its template lists, so a test can set the switch through the volume).
"""
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAIL_ENV = "LINODE_AI_STANDIN_FAIL"
FAIL_FILE = "linode-ai-standin-fail"
# A variable a template already passes works too: `OLLAMA_STANDIN_FAIL`
# reaches Ollama through chat-agent's `OLLAMA_*` pattern, so a test sets it
# in the project's .env.
FAIL_SUFFIX = "_STANDIN_FAIL"


def fail_mode(data_dir=None):
    """'' or 'hang'; exits at once for 'exit'."""
    source = FAIL_ENV
    mode = os.environ.get(FAIL_ENV, "").strip()
    if not mode:
        for name, value in sorted(os.environ.items()):
            if name.endswith(FAIL_SUFFIX) and value.strip():
                source, mode = name, value.strip()
                break
    if not mode and data_dir:
        path = os.path.join(data_dir, FAIL_FILE)
        try:
            with open(path) as f:
                mode = f.read().strip()
            source = path
        except OSError:
            pass
    if mode == "exit":
        sys.stderr.write("linode-ai stand-in: %s says exit: exiting with status 1\n" % source)
        sys.stderr.flush()
        sys.exit(1)
    if mode not in ("", "hang"):
        sys.stderr.write("linode-ai stand-in: unknown fail mode %r (exit, hang) ignored\n" % mode)
        mode = ""
    if mode == "hang":
        sys.stderr.write("linode-ai stand-in: %s says hang: the health path will never answer\n" % source)
        sys.stderr.flush()
    return mode


def hang_forever():
    threading.Event().wait()


def exit_on_sigterm():
    """A stand-in often runs as PID 1, which ignores SIGTERM without a handler:
    `docker stop` would then wait 10 s for SIGKILL."""

    def stop(signum, _frame):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host, port, handler):
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), handler)


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; JSON, empty and chunked (streamed) answers."""

    protocol_version = "HTTP/1.1"
    server_version = "standin"
    sys_version = ""
    # Set by the stand-in: the health path and whether it hangs.
    health_paths = ()
    hang = False

    def version_string(self):
        return self.server_version

    # One handler serves every request of a kept-alive connection (Caddy
    # keeps its upstream connections): each request starts with no body read,
    # and a body its handler did not read is read off before the next one.
    def parse_request(self):
        self.__dict__.pop("_body", None)
        return super().parse_request()

    def handle_one_request(self):
        super().handle_one_request()
        try:
            if not self.close_connection and getattr(self, "headers", None) is not None and not hasattr(self, "_body"):
                self.body()
        except (OSError, ValueError):
            self.close_connection = True

    def log_message(self, fmt, *args):  # the stand-ins log in their image's own format
        pass

    # -- request helpers --
    def path_only(self):
        return self.path.split("?", 1)[0]

    def query(self):
        from urllib.parse import parse_qs

        q = self.path.split("?", 1)[1] if "?" in self.path else ""
        return {k: v[-1] for k, v in parse_qs(q).items()}

    def body(self):
        if hasattr(self, "_body"):
            return self._body
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            self._body = data
        else:
            self._body = self.rfile.read(n) if n else b""
        return self._body

    def json_body(self):
        """The parsed JSON body, or None when it is empty or not JSON."""
        raw = self.body()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def maybe_hang(self):
        if self.hang and self.path_only() in self.health_paths:
            hang_forever()

    # -- answers --
    def send(self, code, body=b"", content_type=None, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        if content_type and (body or code not in (204, 304)):
            self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status = code

    def send_json(self, code, obj, headers=(), content_type="application/json"):
        self.send(code, json.dumps(obj, separators=(",", ":")), content_type, headers)

    def start_stream(self, code=200, content_type="application/x-ndjson", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.status = code

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def utc_now():
    return time.time()


def rfc3339(t=None, digits=9):
    """2026-03-23T08:28:49.123456789Z (Go's time.RFC3339Nano, UTC)."""
    t = time.time() if t is None else t
    frac = ("%.9f" % (t % 1))[2 : 2 + digits]
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ("." + frac if digits else "") + "Z"


def fake_vector(text, dims, normalize=True):
    """A deterministic embedding: the same text always gives the same vector."""
    import hashlib
    import math
    import struct

    out = []
    block = 0
    while len(out) < dims:
        h = hashlib.sha256(("%d:%s" % (block, text)).encode()).digest()
        for i in range(0, 32, 4):
            (n,) = struct.unpack(">I", h[i : i + 4])
            out.append(n / 2**31 - 1.0)
        block += 1
    out = out[:dims]
    if normalize:
        norm = math.sqrt(sum(x * x for x in out)) or 1.0
        out = [x / norm for x in out]
    return [round(x, 6) for x in out]
