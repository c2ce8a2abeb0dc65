#!/usr/bin/python3
"""Stand-in for ollama/ollama:0.13.4 (tests only): /bin/ollama, server and CLI in one.

  ollama serve           the API on $OLLAMA_HOST (the image sets 0.0.0.0:11434)
  ollama pull NAME       asks the server on $OLLAMA_HOST (default 127.0.0.1:11434)
  ollama list | ps | rm NAME | show NAME | --version

Models live where Ollama keeps them: $OLLAMA_MODELS, else ~/.ollama/models
(manifests/<registry>/<namespace>/<model>/<tag> and blobs/sha256-<hex>), so
a pulled model survives a container restart on the ollama volume. Nothing is
downloaded: a pull writes a small fake GGUF blob. A model whose name starts
with "missing" does not exist in the (imaginary) registry.
See tests/images/CONTRACTS.md for the real image's contract.
"""
import hashlib
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, "/usr/local/lib/linode-ai-standin")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

VERSION = "0.13.4"
DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"


# -- envconfig (envconfig/config.go at v0.13.4) --
def host():
    """(scheme, host, port) as envconfig.Host(): default http 127.0.0.1:11434."""
    s = os.environ.get("OLLAMA_HOST", "").strip().strip("\"'")
    default_port = "11434"
    if "://" in s:
        scheme, hostport = s.split("://", 1)
        if scheme == "http":
            default_port = "80"
        elif scheme == "https":
            default_port = "443"
    else:
        scheme, hostport = "http", s
        if s == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    hostport = hostport.split("/", 1)[0]
    m = re.match(r"^\[(.*)\]:(\d*)$", hostport) or re.match(r"^([^:]*):(\d*)$", hostport)
    if m:
        h, port = m.group(1), m.group(2)
    else:
        h, port = (hostport.strip("[]") or "127.0.0.1"), default_port
    if not port.isdigit() or int(port) > 65535:
        port = default_port
    return scheme, h or "127.0.0.1", int(port)


def models_dir():
    return os.environ.get("OLLAMA_MODELS") or os.path.join(os.path.expanduser("~"), ".ollama", "models")


def ollama_home():
    return os.path.join(os.path.expanduser("~"), ".ollama")


def allowed_origins():
    out = [o for o in os.environ.get("OLLAMA_ORIGINS", "").split(",") if o]
    for h in ("localhost", "127.0.0.1", "0.0.0.0"):
        out += ["http://" + h, "https://" + h, "http://%s:*" % h, "https://%s:*" % h]
    out += ["app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"]
    return out


def origin_allowed(origin, req_host):
    """gin-contrib/cors v1.7.2 with AllowWildcard: exact match, or one '*' wildcard."""
    if origin in ("http://" + req_host, "https://" + req_host):
        return True  # same origin: not a CORS request
    for rule in allowed_origins():
        if rule == "*":
            return True
        if "*" in rule:
            pre, _, post = rule.partition("*")
            if origin.startswith(pre) and origin.endswith(post):
                return True
        elif rule == origin:
            return True
    return False


# -- model names (types/model/name.go) --
def parse_name(name):
    """(registry, namespace, model, tag) or None."""
    name = (name or "").strip()
    if not name:
        return None
    tag = DEFAULT_TAG
    base = name
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        base, tag = name.rsplit(":", 1)
    parts = base.split("/")
    if len(parts) == 1:
        reg, ns, model = DEFAULT_REGISTRY, DEFAULT_NAMESPACE, parts[0]
    elif len(parts) == 2:
        reg, ns, model = DEFAULT_REGISTRY, parts[0], parts[1]
    elif len(parts) == 3:
        reg, ns, model = parts
    else:
        return None
    ok = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
    if not all(ok.match(x) for x in (ns, model, tag)) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", reg):
        return None
    return reg, ns, model, tag


def display_name(reg, ns, model, tag):
    if reg == DEFAULT_REGISTRY and ns == DEFAULT_NAMESPACE:
        return "%s:%s" % (model, tag)
    if reg == DEFAULT_REGISTRY:
        return "%s/%s:%s" % (ns, model, tag)
    return "%s/%s/%s:%s" % (reg, ns, model, tag)


def manifest_path(parts):
    return os.path.join(models_dir(), "manifests", *parts)


def blob_path(digest):
    return os.path.join(models_dir(), "blobs", digest.replace(":", "-"))


def write_blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(digest)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".partial", "wb") as f:
            f.write(data)
        os.rename(path + ".partial", path)
    return digest, len(data)


def read_manifest(parts):
    try:
        with open(manifest_path(parts)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_manifest(parts, manifest):
    path = manifest_path(parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f)
    os.rename(path + ".tmp", path)


def all_models():
    """[(parts, manifest, mtime)] for every manifest on disk."""
    root = os.path.join(models_dir(), "manifests")
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for fn in files:
            if fn.endswith(".tmp"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, fn), root).split(os.sep)
            if len(rel) != 4:
                continue
            m = read_manifest(rel)
            if m is None:
                continue
            out.append((tuple(rel), m, os.path.getmtime(os.path.join(dirpath, fn))))
    return sorted(out, key=lambda x: -x[2])


def details_of(manifest):
    try:
        with open(blob_path(manifest["config"]["digest"])) as f:
            cfg = json.load(f)
    except (OSError, ValueError, KeyError):
        cfg = {}
    return {
        "parent_model": "",
        "format": cfg.get("model_format", "gguf"),
        "family": cfg.get("model_family", "llama"),
        "families": cfg.get("model_families", ["llama"]),
        "parameter_size": cfg.get("model_type", "1.2B"),
        "quantization_level": cfg.get("file_type", "Q8_0"),
    }


def model_entry(parts, manifest, mtime):
    size = sum(l.get("size", 0) for l in manifest.get("layers", [])) + manifest.get("config", {}).get("size", 0)
    raw = json.dumps(manifest).encode()
    name = display_name(*parts)
    return {
        "name": name,
        "model": name,
        "modified_at": sc.rfc3339(mtime),
        "size": size,
        "digest": hashlib.sha256(raw).hexdigest(),
        "details": details_of(manifest),
    }


def fake_model(name):
    """The blobs of a pulled model: a small fake GGUF file and its config."""
    weights = b"GGUF" + hashlib.sha256(name.encode()).digest() * 32
    config = json.dumps(
        {"model_format": "gguf", "model_family": "llama", "model_families": ["llama"],
         "model_type": "1.2B", "file_type": "Q8_0", "architecture": "amd64", "os": "linux"}
    ).encode()
    return weights, config


# -- server --
class State:
    loaded = {}  # name -> expires_at (epoch)


def keep_alive_seconds(value):
    if value is None:
        value = os.environ.get("OLLAMA_KEEP_ALIVE", "5m")
    if isinstance(value, (int, float)):
        return float(value)
    m = re.match(r"^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$", str(value).strip())
    if not m:
        return 300.0
    n = float(m.group(1))
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


class OllamaHandler(sc.Handler):
    health_paths = ("/api/version",)

    def log_request_line(self, started):
        # gin's default logger: [GIN] 2025/12/04 - 10:00:00 | 200 |   1.2ms |  172.18.0.1 | GET  "/api/version"
        ms = (time.time() - started) * 1000
        sys.stdout.write(
            "[GIN] %s | %3d | %12s | %15s | %-7s %s\n"
            % (time.strftime("%Y/%m/%d - %H:%M:%S"), getattr(self, "status", 0), "%.3fms" % ms,
               self.client_address[0], self.command, json.dumps(self.path_only()))
        )
        sys.stdout.flush()

    def handle_any(self):
        started = time.time()
        self.maybe_hang()
        try:
            if self.cors():
                self.route()
        finally:
            self.log_request_line(started)

    do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = do_OPTIONS = handle_any

    def cors(self):
        origin = self.headers.get("Origin")
        self.cors_headers = []
        if origin:
            if not origin_allowed(origin, self.headers.get("Host", "")):
                self.send(403)
                return False
            self.cors_headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
            if self.command == "OPTIONS":
                self.send(204, headers=self.cors_headers + [
                    ("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"),
                    ("Access-Control-Allow-Headers", "Authorization,Content-Type,User-Agent,Accept,X-Requested-With"),
                    ("Access-Control-Max-Age", "43200")])
                return False
        # allowedHostsMiddleware only guards a server that listens on loopback.
        if self.server.loopback:
            h = self.headers.get("Host", "").rsplit(":", 1)[0].strip("[]").lower()
            ok = (h in ("", "localhost", socket.gethostname().lower()) or h.endswith((".localhost", ".local", ".internal"))
                  or re.match(r"^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|0\.0\.0\.0$|::1$)", h))
            if not ok:
                self.send(403)
                return False
        return True

    def ok_json(self, obj, code=200):
        self.send_json(code, obj, headers=self.cors_headers, content_type="application/json; charset=utf-8")

    def err(self, code, msg):
        self.ok_json({"error": msg}, code)

    def route(self):
        p, m = self.path_only(), self.command
        routes = {
            ("GET", "/"): lambda: self.send(200, "Ollama is running", "text/plain; charset=utf-8", self.cors_headers),
            ("HEAD", "/"): lambda: self.send(200, "Ollama is running", "text/plain; charset=utf-8", self.cors_headers),
            ("GET", "/api/version"): lambda: self.ok_json({"version": VERSION}),
            ("HEAD", "/api/version"): lambda: self.ok_json({"version": VERSION}),
            ("GET", "/api/tags"): self.tags,
            ("HEAD", "/api/tags"): self.tags,
            ("GET", "/v1/models"): self.openai_models,
            ("GET", "/api/ps"): self.ps,
            ("POST", "/api/pull"): self.pull,
            ("POST", "/api/push"): self.push,
            ("POST", "/api/show"): self.show,
            ("DELETE", "/api/delete"): self.delete,
            ("POST", "/api/create"): self.create,
            ("POST", "/api/copy"): self.copy,
            ("POST", "/api/generate"): self.generate,
            ("POST", "/api/chat"): self.chat,
            ("POST", "/api/embed"): self.embed,
            ("POST", "/api/embeddings"): self.embeddings,
        }
        fn = routes.get((m, p))
        if fn:
            return fn()
        if any(k[1] == p for k in routes):
            return self.send(405, "405 method not allowed", "text/plain", self.cors_headers)
        self.send(404, "404 page not found", "text/plain", self.cors_headers)

    def request_json(self):
        body = self.body()
        if not body.strip():
            self.err(400, "missing request body")
            return None
        try:
            obj = json.loads(body)
        except ValueError as e:
            self.err(400, str(e))
            return None
        if not isinstance(obj, dict):
            self.err(400, "json: cannot unmarshal into Go value")
            return None
        return obj

    def find(self, name):
        parts = parse_name(name)
        if not parts:
            return None, None
        return parts, read_manifest(parts)

    # -- handlers --
    def tags(self):
        self.ok_json({"models": [model_entry(*x) for x in all_models()]})

    def openai_models(self):
        data = [{"id": display_name(*p), "object": "model", "created": int(t), "owned_by": p[1]} for p, _m, t in all_models()]
        self.ok_json({"object": "list", "data": data})

    def ps(self):
        now = time.time()
        models = []
        for name, exp in list(State.loaded.items()):
            if exp < now:
                del State.loaded[name]
                continue
            parts, man = self.find(name)
            if man:
                e = model_entry(parts, man, now)
                models.append({"name": e["name"], "model": e["model"], "size": e["size"], "digest": e["digest"],
                               "details": e["details"], "expires_at": sc.rfc3339(exp), "size_vram": 0,
                               "context_length": 4096})
        self.ok_json({"models": models})

    def stream_or_single(self, req, events, final_ok=True):
        """Pull/push/create answer a stream of status lines (or the last one with stream:false)."""
        if req.get("stream", True) is False:
            last = None
            for ev in events:
                if "error" in ev:
                    return self.err(500, ev["error"])
                last = ev
            return self.ok_json(last or {"status": "success"})
        self.start_stream(200, "application/x-ndjson", self.cors_headers)
        for ev in events:
            self.chunk(json.dumps(ev, separators=(",", ":")) + "\n")
        self.end_stream()

    def pull(self):
        req = self.request_json()
        if req is None:
            return
        name = req.get("model") or req.get("name") or ""
        parts = parse_name(name)
        if not parts:
            return self.err(400, "invalid model name")

        def events():
            yield {"status": "pulling manifest"}
            time.sleep(0.05)
            if parts[2].startswith("missing"):
                yield {"error": "pull model manifest: file does not exist"}
                return
            weights, config = fake_model(display_name(*parts))
            wd, ws = write_blob(weights)
            cd, cs = write_blob(config)
            for done in (0, ws // 2, ws):
                yield {"status": "pulling %s" % wd[7:19], "digest": wd, "total": ws, "completed": done}
                time.sleep(0.02)
            yield {"status": "verifying sha256 digest"}
            yield {"status": "writing manifest"}
            write_manifest(parts, {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": cs},
                "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": wd, "size": ws}],
            })
            yield {"status": "success"}

        self.stream_or_single(req, events())

    def push(self):
        req = self.request_json()
        if req is None:
            return
        parts, man = self.find(req.get("model") or req.get("name"))
        if not man:
            return self.err(404, "model '%s' not found" % (req.get("model") or req.get("name")))

        def events():
            yield {"status": "retrieving manifest"}
            for layer in man["layers"]:
                yield {"status": "pushing %s" % layer["digest"][7:19], "digest": layer["digest"],
                       "total": layer["size"], "completed": layer["size"]}
            yield {"status": "pushing manifest"}
            yield {"status": "success"}

        self.stream_or_single(req, events())

    def show(self):
        req = self.request_json()
        if req is None:
            return
        name = req.get("model") or req.get("name") or ""
        parts, man = self.find(name)
        if not man:
            return self.err(404, "model '%s' not found" % name)
        self.ok_json({
            "license": "",
            "modelfile": "# Modelfile generated by \"ollama show\"\nFROM %s\n" % blob_path(man["layers"][0]["digest"]),
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": details_of(man),
            "model_info": {"general.architecture": "llama", "general.parameter_count": 1235814432,
                           "llama.context_length": 131072},
            "capabilities": ["completion", "tools"],
            "modified_at": sc.rfc3339(os.path.getmtime(manifest_path(parts))),
        })

    def delete(self):
        req = self.request_json()
        if req is None:
            return
        name = req.get("model") or req.get("name") or ""
        parts, man = self.find(name)
        if not man:
            return self.err(404, "model '%s' not found" % name)
        os.remove(manifest_path(parts))
        State.loaded.pop(display_name(*parts), None)
        self.send(200, headers=self.cors_headers)

    def copy(self):
        req = self.request_json()
        if req is None:
            return
        src_parts, man = self.find(req.get("source"))
        if not man:
            return self.err(404, "model '%s' not found" % req.get("source"))
        dst = parse_name(req.get("destination"))
        if not dst:
            return self.err(400, "invalid destination name")
        write_manifest(dst, man)
        self.send(200, headers=self.cors_headers)

    def create(self):
        req = self.request_json()
        if req is None:
            return
        dst = parse_name(req.get("model") or req.get("name"))
        if not dst:
            return self.err(400, "invalid model name")
        src = req.get("from")
        man = None
        if src:
            _p, man = self.find(src)
            if not man:
                return self.err(404, "model '%s' not found" % src)

        def events():
            yield {"status": "gathering model components"}
            m = man
            if m is None:
                weights, config = fake_model(display_name(*dst))
                wd, ws = write_blob(weights)
                cd, cs = write_blob(config)
                m = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                     "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": cs},
                     "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": wd, "size": ws}]}
            yield {"status": "using existing layer %s" % m["layers"][0]["digest"]}
            yield {"status": "writing manifest"}
            write_manifest(dst, m)
            yield {"status": "success"}

        self.stream_or_single(req, events())

    def loaded(self, name, req):
        State.loaded[name] = time.time() + keep_alive_seconds(req.get("keep_alive"))

    def reply_text(self, prompt):
        return "Stand-in reply to: %s" % (prompt.strip()[:200] or "(empty)")

    def timings(self, n):
        return {"total_duration": 120000000, "load_duration": 20000000, "prompt_eval_count": n,
                "prompt_eval_duration": 30000000, "eval_count": n, "eval_duration": 70000000}

    def chat(self):
        req = self.request_json()
        if req is None:
            return
        name = req.get("model") or ""
        if not name:
            return self.err(400, "model is required")
        parts, man = self.find(name)
        if not man:
            return self.err(404, "model '%s' not found" % name)
        msgs = req.get("messages") or []
        last = next((m.get("content", "") for m in reversed(msgs) if m.get("role") == "user"), "")
        words = self.reply_text(str(last)).split(" ")
        model = display_name(*parts)
        self.loaded(model, req)
        chunks = [w if i == 0 else " " + w for i, w in enumerate(words)]
        final = dict({"model": model, "created_at": sc.rfc3339(), "message": {"role": "assistant", "content": ""},
                      "done_reason": "stop", "done": True}, **self.timings(len(words)))
        if req.get("stream", True) is False:
            final["message"]["content"] = "".join(chunks)
            return self.ok_json(final)
        self.start_stream(200, "application/x-ndjson", self.cors_headers)
        for c in chunks:
            self.chunk(json.dumps({"model": model, "created_at": sc.rfc3339(),
                                   "message": {"role": "assistant", "content": c}, "done": False},
                                  separators=(",", ":")) + "\n")
            time.sleep(0.01)
        final["created_at"] = sc.rfc3339()
        self.chunk(json.dumps(final, separators=(",", ":")) + "\n")
        self.end_stream()

    def generate(self):
        req = self.request_json()
        if req is None:
            return
        name = req.get("model") or ""
        if not name:
            return self.err(400, "model is required")
        parts, man = self.find(name)
        if not man:
            return self.err(404, "model '%s' not found" % name)
        model = display_name(*parts)
        prompt = req.get("prompt", "")
        if not prompt:  # an empty prompt loads (or unloads) the model
            if req.get("keep_alive") in (0, "0", "0s"):
                State.loaded.pop(model, None)
                return self.ok_json({"model": model, "created_at": sc.rfc3339(), "response": "",
                                     "done": True, "done_reason": "unload"})
            self.loaded(model, req)
            return self.ok_json({"model": model, "created_at": sc.rfc3339(), "response": "", "done": True,
                                 "done_reason": "load"})
        self.loaded(model, req)
        words = self.reply_text(str(prompt)).split(" ")
        chunks = [w if i == 0 else " " + w for i, w in enumerate(words)]
        final = dict({"model": model, "created_at": sc.rfc3339(), "response": "", "done": True,
                      "done_reason": "stop", "context": [1, 2, 3]}, **self.timings(len(words)))
        if req.get("stream", True) is False:
            final["response"] = "".join(chunks)
            return self.ok_json(final)
        self.start_stream(200, "application/x-ndjson", self.cors_headers)
        for c in chunks:
            self.chunk(json.dumps({"model": model, "created_at": sc.rfc3339(), "response": c, "done": False},
                                  separators=(",", ":")) + "\n")
        self.chunk(json.dumps(final, separators=(",", ":")) + "\n")
        self.end_stream()

    def embed(self):
        req = self.request_json()
        if req is None:
            return
        name = req.get("model") or ""
        parts, man = self.find(name)
        if not man:
            return self.err(404, "model '%s' not found" % name)
        inputs = req.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list):
            return self.err(400, "invalid input type")
        model = display_name(*parts)
        self.loaded(model, req)
        self.ok_json({"model": model, "embeddings": [sc.fake_vector(str(t), 2048) for t in inputs],
                      "total_duration": 14143917, "load_duration": 1019500,
                      "prompt_eval_count": sum(len(str(t).split()) for t in inputs)})

    def embeddings(self):
        req = self.request_json()
        if req is None:
            return
        name = req.get("model") or ""
        parts, man = self.find(name)
        if not man:
            return self.err(404, "model '%s' not found" % name)
        self.ok_json({"embedding": sc.fake_vector(str(req.get("prompt", "")), 2048, normalize=False)})


def serve():
    os.makedirs(ollama_home(), exist_ok=True)
    mode = sc.fail_mode(ollama_home())
    sc.exit_on_sigterm()
    scheme, h, port = host()
    bind = "::" if h in ("0.0.0.0", "") else h
    try:
        server = sc.Server(bind, port, OllamaHandler)
    except OSError:
        server = sc.Server("0.0.0.0" if bind == "::" else bind, port, OllamaHandler)
    server.loopback = h in ("127.0.0.1", "localhost", "::1")
    OllamaHandler.hang = mode == "hang"
    key = os.path.join(ollama_home(), "id_ed25519")
    if not os.path.exists(key):
        sys.stderr.write("Couldn't find '%s'. Generating new private key.\n" % key)
        with open(key, "w") as f:  # a placeholder, not a key: nothing signs anything here
            f.write("linode-ai stand-in: no key\n")
        os.chmod(key, 0o600)
        with open(key + ".pub", "w") as f:
            f.write("ssh-ed25519 STANDIN linode-ai-stand-in\n")
        sys.stderr.write("Your new public key is: \n\nssh-ed25519 STANDIN linode-ai-stand-in\n\n")
    log = lambda msg, src: sys.stderr.write('time=%s level=INFO source=%s msg="%s"\n' % (sc.rfc3339(digits=3), src, msg))
    log("server config", "routes.go:1554")
    log("total blobs: %d" % len([x for x in os.listdir(os.path.join(models_dir(), "blobs"))] if os.path.isdir(os.path.join(models_dir(), "blobs")) else []), "images.go:522")
    log("Listening on %s:%d (version %s)" % ("[::]" if bind == "::" else bind, port, VERSION), "routes.go:1607")
    log("inference compute", "types.go:60")
    sys.stderr.flush()
    server.serve_forever()


# -- client --
def client_url(path):
    scheme, h, port = host()
    if ":" in h:
        h = "[%s]" % h
    return "%s://%s:%d%s" % (scheme, h, port, path)


def request(method, path, body=None, stream=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(client_url(path), data=data, method=method,
                                 headers={"Content-Type": "application/json", "User-Agent": "ollama/" + VERSION})
    return urllib.request.urlopen(req, timeout=None if stream else 30)


def fail(msg):
    sys.stderr.write("Error: %s\n" % msg)
    sys.exit(1)


def api_error(e):
    try:
        return json.loads(e.read()).get("error") or str(e)
    except Exception:
        return str(e)


def cli_pull(args):
    names = [a for a in args if not a.startswith("-")]
    if len(names) != 1:
        fail('accepts 1 arg(s), received %d' % len(names))
    try:
        resp = request("POST", "/api/pull", {"model": names[0], "insecure": "--insecure" in args}, stream=True)
    except urllib.error.HTTPError as e:
        fail(api_error(e))
    except OSError:
        fail("could not connect to ollama server, run 'ollama serve' to start it")
    last = None
    for line in resp:
        if not line.strip():
            continue
        ev = json.loads(line)
        if "error" in ev:
            fail(ev["error"])
        status = ev.get("status", "")
        if status != last or "completed" in ev:
            if "total" in ev:
                sys.stderr.write("%s %3d%% %d/%d\n" % (status, 100 * ev.get("completed", 0) // max(ev["total"], 1),
                                                      ev.get("completed", 0), ev["total"]))
            else:
                sys.stderr.write(status + "\n")
            last = status
    sys.stderr.flush()


def cli_list(_args):
    try:
        models = json.load(request("GET", "/api/tags"))["models"]
    except OSError:
        fail("could not connect to ollama server, run 'ollama serve' to start it")
    print("%-30s %-14s %-10s %s" % ("NAME", "ID", "SIZE", "MODIFIED"))
    for m in models:
        print("%-30s %-14s %-10s %s" % (m["name"], m["digest"][:12], "%d B" % m["size"], m["modified_at"]))


def cli_ps(_args):
    try:
        models = json.load(request("GET", "/api/ps"))["models"]
    except OSError:
        fail("could not connect to ollama server, run 'ollama serve' to start it")
    print("%-30s %-14s %-10s %-10s %s" % ("NAME", "ID", "SIZE", "PROCESSOR", "UNTIL"))
    for m in models:
        print("%-30s %-14s %-10s %-10s %s" % (m["name"], m["digest"][:12], "%d B" % m["size"], "100% CPU", m["expires_at"]))


def cli_rm(args):
    for name in args:
        try:
            request("DELETE", "/api/delete", {"model": name})
        except urllib.error.HTTPError as e:
            fail(api_error(e))
        print("deleted '%s'" % name)


def cli_show(args):
    try:
        info = json.load(request("POST", "/api/show", {"model": args[0]}))
    except urllib.error.HTTPError as e:
        fail(api_error(e))
    print(json.dumps(info["details"], indent=2))


def cli_version(_args):
    try:
        v = json.load(request("GET", "/api/version"))["version"]
        print("ollama version is %s" % v)
    except OSError:
        print("Warning: could not connect to a running Ollama instance")
        print("Warning: client version is %s" % VERSION)


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("Large language model runner\n\nUsage:\n  ollama [flags]\n  ollama [command]\n\n"
              "Available Commands:\n  serve       Start ollama\n  pull        Pull a model from a registry\n"
              "  list        List models\n  ps          List running models\n  rm          Remove a model\n"
              "  show        Show information for a model\n")
        return
    cmd, rest = argv[0], argv[1:]
    if cmd in ("-v", "--version"):
        return cli_version(rest)
    if cmd in ("serve", "start"):
        return serve()
    fn = {"pull": cli_pull, "list": cli_list, "ls": cli_list, "ps": cli_ps, "rm": cli_rm, "show": cli_show}.get(cmd)
    if not fn:
        sys.stderr.write('Error: unknown command "%s" for "ollama"\n' % cmd)
        sys.exit(1)
    fn(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
