"""Start/stop helpers and a tiny HTTPS client for kube_sim.py (Python stdlib only).

    from kube_sim_client import KubeSim
    with KubeSim(config={"ready_ms": 100}) as k:
        status, obj = k.apply("/api/v1/namespaces/demo", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": "demo"}})
        k.admin("POST", "/hold", {"namespace": "demo", "kind": "Deployment", "name": "web",
                                  "state": "crashloop"})

KubeSim.start() returns the JSON line the server printed ({"server", "ca_pem", "token",
"admin", ...}); stop() kills the process (SIGTERM, then SIGKILL) and removes a temporary
state dir it made.  config is POSTed to /config once the server is up; when it names a key
the stand-in reads only when it builds its nodes (BOOT_KEYS: nodes, gpu_nodes,
gpu_node_taints, gpu_capacity) start() also POSTs /reset, so the nodes are built with it:

    with KubeSim(config={"nodes": 2, "gpu_nodes": 1}) as k:   # one g2-gpu-rtx4000a1-s node
        ...
"""

import http.client
import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
KUBE_SIM = os.path.join(HERE, "kube_sim.py")
APPLY = "application/apply-patch+yaml"
BOOT_KEYS = ("nodes", "gpu_nodes", "gpu_node_taints", "gpu_capacity")


def _die_with_parent():
    """Linux: the stand-in gets SIGTERM if the test process dies without stopping it."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class KubeSim:
    def __init__(self, state_dir=None, args=(), config=None, python=None, start_timeout=30):
        self.state_dir = state_dir
        self.args = list(args)
        self.config = config or {}
        self.python = python or sys.executable
        self.start_timeout = start_timeout
        self.proc = None
        self.info = None
        self._tmp = None
        self._conn = None

    # -- lifecycle --------------------------------------------------------------

    def start(self):
        if self.state_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="kube-sim-")
            self.state_dir = self._tmp
        os.makedirs(self.state_dir, exist_ok=True)
        err = open(os.path.join(self.state_dir, "kube-sim.stderr"), "ab")
        self.proc = subprocess.Popen([self.python, KUBE_SIM, "--port", "0", "--state-dir", self.state_dir]
                                     + self.args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        err.close()
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("kube-sim did not start; see %s/kube-sim.stderr" % self.state_dir)
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    continue
                line += chunk
        self.info = json.loads(line.decode())
        self.ctx = ssl.create_default_context(cadata=self.info["ca_pem"])
        if self.config:
            self.admin("POST", "/config", self.config)
            if any(k in self.config for k in BOOT_KEYS):
                self.admin("POST", "/reset")
        return self.info

    def stop(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- the Kubernetes API -------------------------------------------------------

    @property
    def server(self):
        return self.info["server"]

    def request(self, method, path, body=None, content_type=None, token=True, headers=None, query=None):
        """(status, headers, raw body).  token: True = the server's, False = none, str = that one."""
        if query:
            path = path + ("&" if "?" in path else "?") + urllib.parse.urlencode(query)
        h = dict(headers or {})
        if token is True:
            h["Authorization"] = "Bearer " + self.info["token"]
        elif token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str)
                                                         else json.dumps(body).encode())
            h["Content-Type"] = content_type or "application/json"
        elif content_type:
            h["Content-Type"] = content_type
        for attempt in (0, 1):
            if self._conn is None:
                u = urllib.parse.urlsplit(self.server)
                self._conn = http.client.HTTPSConnection(u.hostname, u.port, context=self.ctx, timeout=30)
            try:
                self._conn.request(method, path, body=data, headers=h)
                r = self._conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self._conn.close()
                    self._conn = None
                return r.status, {k.lower(): v for k, v in r.getheaders()}, raw
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise

    def json(self, method, path, body=None, content_type=None, **kw):
        status, _, raw = self.request(method, path, body, content_type, **kw)
        return status, (json.loads(raw) if raw.strip() else None)

    def get(self, path, **kw):
        return self.json("GET", path, **kw)

    def apply(self, path, obj, manager="linode-ai", force=False, content_type=APPLY, **kw):
        q = {"fieldManager": manager} if manager else {}
        if force:
            q["force"] = "true"
        return self.json("PATCH", path, obj if isinstance(obj, (str, bytes)) else json.dumps(obj),
                         content_type, query=q, **kw)

    def delete(self, path, body=None, **kw):
        return self.json("DELETE", path, body, **kw)

    # -- the admin API ------------------------------------------------------------

    def admin(self, method, path, body=None):
        u = urllib.parse.urlsplit(self.info["admin"])
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            c.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            out = json.loads(r.read() or b"null")
            if r.status != 200:
                raise RuntimeError("admin %s %s: %s %s" % (method, path, r.status, out))
            return out
        finally:
            c.close()


def wait_for(fn, timeout=10.0, interval=0.02, what="condition"):
    """Poll fn() until it returns something truthy; the timeout is only a hang guard."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))
