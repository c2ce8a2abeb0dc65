#!/usr/bin/env python3
"""Checks each test stand-in image against its contract (tests/images/CONTRACTS.md).

Usage (root): tests/images/contract_test.py CACHE_DIR [-k WORD]...

With -k, only the checks whose name contains one of the WORDs run (a check may
need state an earlier one left: e.g. "rag" needs "qdrant"; so -k qdrant -k rag).

Builds the images first (tests/images/build.py CACHE_DIR: nothing to do when
they are up to date), then, in a network namespace of its own: a read-only
docker-registry on the namespace's 127.0.0.1:5000 serving CACHE_DIR/registry
and a private dockerd (its own data root, exec root and socket). It pulls
each image under its template reference and runs it with the arguments,
environment and volumes the templates give it, then checks over HTTP (curl
inside the namespace) and with docker exec/inspect/logs. Everything it
started (containers, daemon, registry, mounts, namespace, temporary
directories) is removed at the end, also on failure or Ctrl-C.
Last line: "N passed, 0 failed" (exit 0), or "N passed, M failed" (exit 1).
"""
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DOCKER = "/usr/bin/docker"
NET = "linode-ai"  # the boot script's private network (stack::NETWORK)

CADDY = "caddy:2.11.2"
OLLAMA = "ollama/ollama:0.13.4"
WEBUI = "ghcr.io/open-webui/open-webui:v0.11.3"
VLLM = "vllm/vllm-openai:v0.10.2"
TEI = "ghcr.io/huggingface/text-embeddings-inference:cpu-1.9"
QDRANT = "qdrant/qdrant:v1.19.0"


class CheckFailed(Exception):
    pass


def parallel(fn, items):
    """fn over items on a few threads; the first exception is raised."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        for _ in pool.map(fn, list(items)):
            pass


def expect(cond, what):
    if not cond:
        raise CheckFailed(what)


class Env:
    """The namespace, registry and dockerd; torn down by close()."""

    def __init__(self, cache):
        self.cache = cache
        self.ns = "lai-ct-%d" % os.getpid()
        self.nspath = "/var/run/netns/" + self.ns
        self.tmp = tempfile.mkdtemp(prefix="lai-ct-")
        self.run_dir = tempfile.mkdtemp(prefix="lai-ct-", dir="/run")
        self.sock = os.path.join(self.run_dir, "docker.sock")
        self.procs = []
        self.ns_made = False

    # -- set-up --
    def start(self, registry_dir):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.ns_made = True
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        cfg = os.path.join(self.tmp, "registry.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                    "  maintenance:\n    readonly:\n      enabled: true\n    uploadpurging:\n      enabled: false\n"
                    "http:\n  addr: 127.0.0.1:5000\n" % registry_dir)
        reg_log = open(os.path.join(self.tmp, "registry.log"), "w")
        self.procs.append(subprocess.Popen(["nsenter", "--net=" + self.nspath, "/usr/bin/docker-registry", "serve", cfg],
                                           stdout=reg_log, stderr=reg_log))
        # The daemon's data on a tmpfs: faster pulls, and removing it is an unmount.
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=0711", "tmpfs", data], check=True)
        d_log = open(os.path.join(self.tmp, "dockerd.log"), "w")
        self.dockerd = subprocess.Popen(
            ["nsenter", "--net=" + self.nspath, "dockerd", "--data-root", os.path.join(self.tmp, "data"),
             "--exec-root", os.path.join(self.run_dir, "exec"), "--host", "unix://" + self.sock,
             "--pidfile", os.path.join(self.run_dir, "docker.pid"), "--log-level=warn"],
            stdout=d_log, stderr=d_log)
        self.procs.append(self.dockerd)
        deadline = time.time() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.dockerd.poll() is not None or time.time() > deadline:
                raise RuntimeError("dockerd did not start; its log:\n" + open(d_log.name).read()[-3000:])
            time.sleep(0.3)
        while self.http("http://127.0.0.1:5000/v2/")[0] != 200:
            if time.time() > deadline:
                raise RuntimeError("docker-registry did not start; its log:\n" + open(reg_log.name).read()[-3000:])
            time.sleep(0.2)

    def pull(self, images):
        def one(item):
            ref, path = item
            src = "127.0.0.1:5000/" + path
            self.docker("pull", "-q", src)
            self.docker("tag", src, ref)
            self.docker("rmi", src)

        parallel(one, images.items())

    # -- tools --
    def docker(self, *args, check=True, timeout=120):
        return subprocess.run([DOCKER, "-H", "unix://" + self.sock] + list(args), check=check, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, DOCKER_CONFIG=os.path.join(self.tmp, "docker-config")))

    def http(self, url, method="GET", headers=(), body=None, timeout=10):
        """(status, headers, body) through curl inside the namespace; status 0: no answer."""
        out, hdr = os.path.join(self.tmp, "body"), os.path.join(self.tmp, "headers")
        cmd = ["nsenter", "--net=" + self.nspath, "curl", "-sS", "-o", out, "-D", hdr, "-w", "%{http_code}",
               "--max-time", str(timeout), "-X", method]
        for h in headers:
            cmd += ["-H", h]
        if body is not None:
            cmd += ["--data-binary", "@-"]
            if not any(h.lower().startswith("content-type:") for h in headers):
                cmd += ["-H", "Content-Type: application/json"]
        cmd.append(url)
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        for f in (out, hdr):
            if os.path.exists(f):
                os.remove(f)
        r = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        code = int(r.stdout.strip() or 0) if r.stdout.strip().isdigit() else 0
        hs = {}
        if os.path.exists(hdr):
            for line in open(hdr, errors="replace"):
                if ":" in line:
                    k, v = line.split(":", 1)
                    hs[k.strip().lower()] = v.strip()
        b = open(out, "rb").read() if os.path.exists(out) else b""
        return code, hs, b

    def ip(self, name):
        return self.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()

    def run(self, name, image, args=(), env=(), volumes=(), restart=True, extra=()):
        """As the boot script's start_<service>: private network, alias, restart policy, nothing published."""
        self.docker("rm", "-f", name, check=False)
        cmd = ["run", "-d", "--name", name, "--network", NET, "--network-alias", name]
        if restart:
            cmd += ["--restart", "unless-stopped"]
        for e in env:
            cmd += ["-e", e]
        for v in volumes:
            cmd += ["-v", v]
        cmd += list(extra) + [image] + list(args)
        self.docker(*cmd)

    def wait_http(self, url, timeout=30, ok=(200,)):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.http(url, timeout=3)
            if last[0] in ok:
                return last
            time.sleep(0.2)
        raise CheckFailed("%s did not answer %s within %ds (last: %s)" % (url, ok, timeout, last and last[0]))

    def logs(self, name):
        r = self.docker("logs", name, check=False)
        return r.stdout + r.stderr

    def exec(self, name, *cmd):
        return self.docker("exec", name, *cmd, check=False)

    # -- tear-down --
    def close(self):
        try:
            if self.dockerd.poll() is None:
                ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False, timeout=60)
        except Exception:
            pass
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        with open("/proc/mounts") as f:
            points = [line.split()[1] for line in f]
        for p in sorted(points, key=len, reverse=True):
            if p.startswith(self.tmp + "/") or p.startswith(self.run_dir + "/"):
                subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)
        for d in (self.tmp, self.run_dir):
            subprocess.run(["rm", "-rf", "--one-file-system", d])
        if self.ns_made:
            subprocess.run(["ip", "netns", "delete", self.ns], stderr=subprocess.DEVNULL)


# ------------------------------------------------------------------ checks
def check_image_configs(env, st):
    def cfg(ref):
        return json.loads(env.docker("image", "inspect", ref).stdout)[0]["Config"]

    c = cfg(CADDY)
    expect(c["Cmd"] == ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"], "caddy Cmd %s" % c["Cmd"])
    expect(not c.get("Entrypoint"), "caddy has no Entrypoint")
    expect(c["WorkingDir"] == "/srv", "caddy WorkingDir")
    expect({"XDG_CONFIG_HOME=/config", "XDG_DATA_HOME=/data"} <= set(c["Env"]), "caddy XDG env")
    expect(set(c["ExposedPorts"]) == {"80/tcp", "443/tcp", "443/udp", "2019/tcp"}, "caddy EXPOSE")
    expect(not c.get("Volumes"), "caddy declares no VOLUME")
    c = cfg(OLLAMA)
    expect(c["Entrypoint"] == ["/bin/ollama"] and c["Cmd"] == ["serve"], "ollama entrypoint/cmd")
    expect("OLLAMA_HOST=0.0.0.0:11434" in c["Env"] and "11434/tcp" in c["ExposedPorts"], "ollama env/port")
    c = cfg(WEBUI)
    expect(c["Cmd"] == ["bash", "start.sh"] and c["WorkingDir"] == "/app/backend", "open-webui cmd/workdir")
    expect("PORT=8080" in c["Env"] and "8080/tcp" in c["ExposedPorts"], "open-webui port")
    c = cfg(VLLM)
    expect(c["Entrypoint"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"], "vllm entrypoint %s" % c["Entrypoint"])
    expect(c["WorkingDir"] == "/vllm-workspace", "vllm workdir")
    c = cfg(TEI)
    expect(c["Entrypoint"] == ["text-embeddings-router"] and c["Cmd"] == ["--json-output"], "tei entrypoint/cmd")
    expect({"PORT=80", "HUGGINGFACE_HUB_CACHE=/data"} <= set(c["Env"]), "tei env")
    c = cfg(QDRANT)
    expect(c["Cmd"] == ["./entrypoint.sh"] and not c.get("Entrypoint"), "qdrant cmd %s" % c["Cmd"])
    expect(c["WorkingDir"] == "/qdrant" and c["User"] == "0:0", "qdrant workdir/user")
    expect({"TZ=Etc/UTC", "RUN_MODE=production"} <= set(c["Env"]), "qdrant env")
    expect(set(c["ExposedPorts"]) == {"6333/tcp", "6334/tcp"} and not c.get("Volumes"), "qdrant EXPOSE, no VOLUME")


def start_ollama(env):
    env.run("ollama", OLLAMA, env=["OLLAMA_KEEP_ALIVE=10m"], volumes=["ollama:/root/.ollama"])
    return "http://%s:11434" % env.ip("ollama")


def check_ollama_health(env, st):
    st["ollama"] = base = start_ollama(env)
    code, hs, body = env.wait_http(base + "/api/version")
    expect(json.loads(body) == {"version": "0.13.4"}, "/api/version body %r" % body)
    expect(json.loads(env.http(base + "/api/tags")[2]) == {"models": []}, "no model before a pull")
    expect(env.http(base + "/")[2] == b"Ollama is running", "GET /")


def check_ollama_origin(env, st):
    base = st["ollama"]
    expect(env.http(base + "/api/version", headers=["Origin: https://evil.example"])[0] == 403, "unknown Origin -> 403")
    expect(env.http(base + "/api/tags", headers=["Origin: https://1-2-3-4.ip.linodeusercontent.com"])[0] == 403,
           "the site's own Origin (Host rewritten) -> 403")
    code, hs, _ = env.http(base + "/api/version", headers=["Origin: http://localhost:3000"])
    expect(code == 200 and hs.get("access-control-allow-origin") == "http://localhost:3000", "localhost Origin allowed")
    expect(env.http(base + "/api/version", headers=["Origin: http://127.0.0.1"])[0] == 200, "127.0.0.1 Origin allowed")


def check_ollama_pull_exec(env, st):
    r = env.exec("ollama", "ollama", "pull", "llama3.2:1b")
    expect(r.returncode == 0 and "success" in r.stdout + r.stderr, "docker exec ollama ollama pull: %s" % r.stderr[-300:])
    names = [m["name"] for m in json.loads(env.http(st["ollama"] + "/api/tags")[2])["models"]]
    expect(names == ["llama3.2:1b"], "/api/tags after pull: %s" % names)
    r = env.exec("ollama", "test", "-s", "/root/.ollama/models/manifests/registry.ollama.ai/library/llama3.2/1b")
    expect(r.returncode == 0, "manifest under /root/.ollama/models")
    r = env.exec("ollama", "ollama", "pull", "missing-model")
    expect(r.returncode == 1 and "file does not exist" in r.stderr, "pull of an unknown model fails")
    expect(env.exec("ollama", "curl", "--version").returncode != 0, "no curl in the ollama image")


def check_ollama_stream(env, st):
    code, hs, body = env.http(st["ollama"] + "/api/chat", "POST",
                              body={"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hello"}]})
    lines = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    expect(code == 200 and hs.get("content-type") == "application/x-ndjson", "chat: %s %s" % (code, hs.get("content-type")))
    expect(len(lines) > 2 and not lines[0]["done"] and lines[-1]["done"] is True, "NDJSON chunks then done:true")
    expect("".join(l["message"]["content"] for l in lines).endswith("hello"), "chat content")
    code, _, body = env.http(st["ollama"] + "/api/chat", "POST", body={"model": "nope", "messages": []})
    expect(code == 404 and json.loads(body) == {"error": "model 'nope' not found"}, "unknown model -> 404")
    code, _, body = env.http(st["ollama"] + "/api/generate", "POST", body={"model": "llama3.2:1b", "prompt": "x", "stream": False})
    expect(code == 200 and json.loads(body)["done"] is True, "generate")
    expect(env.http(st["ollama"] + "/api/embed", "POST", body={"model": "llama3.2:1b", "input": "x"})[0] == 200, "embed")
    expect(json.loads(env.http(st["ollama"] + "/api/ps")[2])["models"][0]["name"] == "llama3.2:1b", "ps")


def check_ollama_restart(env, st):
    env.docker("restart", "ollama")
    base = st["ollama"] = "http://%s:11434" % env.ip("ollama")
    env.wait_http(base + "/api/version")
    names = [m["name"] for m in json.loads(env.http(base + "/api/tags")[2])["models"]]
    expect(names == ["llama3.2:1b"], "model kept across docker restart: %s" % names)


WEBUI_ENV = ["OLLAMA_BASE_URL=http://ollama:11434", "WEBUI_URL=https://1-2-3-4.ip.linodeusercontent.com",
             "CORS_ALLOW_ORIGIN=https://1-2-3-4.ip.linodeusercontent.com", "ANONYMIZED_TELEMETRY=false",
             "AUDIO_STT_ENGINE=webapi", "ENABLE_OPENAI_API=false", "WEBUI_SECRET_KEY=0123456789abcdef"]
ADMIN = {"name": "Admin", "email": "admin@example.com", "password": "correct horse battery staple"}


def check_webui_health_page(env, st):
    env.run("webui", WEBUI, env=WEBUI_ENV, volumes=["open-webui:/app/backend/data"])
    base = st["webui"] = "http://%s:8080" % env.ip("webui")
    code, _, body = env.wait_http(base + "/health")
    expect(json.loads(body) == {"status": True}, "/health body %r" % body)
    code, hs, body = env.http(base + "/")
    expect(code == 200 and hs.get("content-type", "").startswith("text/html"), "GET / is HTML")
    expect(b"<title>Open WebUI</title>" in body and b'type="password"' in body, "GET / is the sign-in page")


def check_webui_signup(env, st):
    base = st["webui"]
    signin = {"email": ADMIN["email"], "password": ADMIN["password"]}
    code, _, body = env.http(base + "/api/v1/auths/signin", "POST", body=signin)
    expect(code == 400, "sign-in before any account: %s" % code)
    code, hs, body = env.http(base + "/api/v1/auths/signup", "POST", body=ADMIN)
    user = json.loads(body)
    expect(code == 200 and user["role"] == "admin" and user["token_type"] == "Bearer", "first sign-up is the admin: %s" % body[:200])
    expect("token=" in hs.get("set-cookie", ""), "session cookie")
    st["token"] = user["token"]
    code, _, body = env.http(base + "/api/v1/auths/signup", "POST", body={"name": "Eve", "email": "eve@example.com", "password": "x"})
    expect(code == 403, "second sign-up refused: %s %s" % (code, body[:120]))
    code, _, body = env.http(base + "/api/v1/auths/signin", "POST", body=signin)
    expect(code == 200 and json.loads(body)["role"] == "admin", "admin signs in")
    code, _, _ = env.http(base + "/api/v1/auths/signin", "POST", body=dict(signin, password="wrong"))
    expect(code in (400, 401), "wrong password refused: %s" % code)
    expect(json.loads(env.http(base + "/api/config")[2])["features"]["enable_signup"] is False, "sign-up closed")


def check_webui_data(env, st):
    r = env.exec("webui", "python3", "-c",
                 "import sys; d = open('/app/backend/data/webui.db', 'rb').read(); "
                 "sys.exit(0 if b'admin@example.com' in d and %r.encode() not in d else 1)" % ADMIN["password"])
    expect(r.returncode == 0, "users in /app/backend/data/webui.db, password not in clear")
    code, _, body = env.http(st["webui"] + "/ollama/api/version", headers=["Authorization: Bearer " + st["token"]])
    expect(code == 200 and json.loads(body) == {"version": "0.13.4"}, "OLLAMA_BASE_URL reaches Ollama: %s" % code)
    expect(env.http(st["webui"] + "/ollama/api/version")[0] == 401, "the Ollama proxy needs a session")
    logs = env.logs("webui")
    expect('"POST /api/v1/auths/signin HTTP/1.1" 200' in logs and '"GET /health HTTP/1.1" 200' in logs,
           "every request logged to stdout")


def check_webui_restart(env, st):
    env.docker("restart", "webui")
    base = st["webui"] = "http://%s:8080" % env.ip("webui")
    env.wait_http(base + "/health")
    code, _, _ = env.http(base + "/api/v1/auths/signin", "POST", body={"email": ADMIN["email"], "password": ADMIN["password"]})
    expect(code == 200, "admin kept across docker restart: %s" % code)
    code, _, _ = env.http(base + "/api/v1/auths/signup", "POST", body={"name": "E", "email": "e@example.com", "password": "x"})
    expect(code == 403, "sign-up still closed after restart: %s" % code)
    code, _, _ = env.http(base + "/api/v1/auths/", headers=["Authorization: Bearer " + st["token"]])
    expect(code == 200, "a session survives the restart (same WEBUI_SECRET_KEY)")


def check_webui_template_script(env, st):
    """The chat-webui template's own post-start script, run twice against a fresh Open WebUI."""
    try:
        import yaml
    except ImportError:
        raise CheckFailed("python3-yaml is needed to read the template")
    doc = yaml.safe_load(open(os.path.join(REPO, "templates", "chat-webui", "template.yml")))
    svc = [s for s in doc["deploy"]["linode"]["services"] if s["name"] == "webui"][0]
    script = os.path.join(env.tmp, "post-start-webui.sh")
    with open(script, "w") as f:
        f.write(svc["post_start_script"])
    shim = os.path.join(env.tmp, "bin")
    os.makedirs(shim, exist_ok=True)
    with open(os.path.join(shim, "linode-ai-step"), "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(os.path.join(shim, "linode-ai-step"), 0o755)
    env.run("webui2", WEBUI, env=WEBUI_ENV, volumes=["open-webui-2:/app/backend/data"])
    url = "http://%s:8080" % env.ip("webui2")
    env.wait_http(url + "/health")
    penv = dict(os.environ, PATH=shim + ":" + os.environ["PATH"], LINODE_AI_SERVICE_URL=url,
                WEBUI_ADMIN_EMAIL="boss@example.com", WEBUI_ADMIN_PASSWORD="s3cret pass")
    outs = []
    for _ in range(2):
        r = subprocess.run(["nsenter", "--net=" + env.nspath, "bash", script], env=penv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        outs.append((r.returncode, r.stdout.strip()))
    expect(outs[0] == (0, "admin created") and outs[1] == (0, "admin exists"), "post-start runs: %s" % outs)
    env.docker("rm", "-f", "webui2")


def check_vllm(env, st):
    env.run("vllm", VLLM, args=["Qwen/Qwen2.5-1.5B-Instruct"], env=["VLLM_API_KEY=vkey-123"],
            volumes=["hf-cache:/root/.cache/huggingface"])
    base = "http://%s:8000" % env.ip("vllm")
    code, _, body = env.wait_http(base + "/health")
    expect(body == b"", "/health 200, empty, no key")
    code, _, body = env.http(base + "/v1/models")
    expect(code == 401 and json.loads(body) == {"error": "Unauthorized"}, "/v1/models without the key: %s" % code)
    expect(env.http(base + "/v1/models", headers=["Authorization: Bearer wrong"])[0] == 401, "wrong key -> 401")
    code, _, body = env.http(base + "/v1/models", headers=["Authorization: Bearer vkey-123"])
    ids = [m["id"] for m in json.loads(body)["data"]]
    # v0.10.2's ENTRYPOINT (api_server) ignores the positional model: it serves the default.
    expect(code == 200 and ids == ["Qwen/Qwen3-0.6B"], "served models %s" % ids)
    for path in ("/metrics", "/version", "/ping"):
        expect(env.http(base + path)[0] == 200, "%s open without the key" % path)
    expect(env.http(base + "/tokenize", "POST", body={"prompt": "a b"})[0] == 200, "/tokenize open without the key")
    expect(env.http(base + "/pooling", "POST", body={})[0] != 401, "/pooling not guarded")
    code, _, body = env.http(base + "/v1/chat/completions", "POST", headers=["Authorization: Bearer vkey-123"],
                             body={"model": "Qwen/Qwen3-0.6B", "messages": [{"role": "user", "content": "hi"}]})
    expect(code == 200 and json.loads(body)["choices"][0]["message"]["role"] == "assistant", "chat completion")
    code, hs, body = env.http(base + "/v1/chat/completions", "POST", headers=["Authorization: Bearer vkey-123"],
                              body={"model": "Qwen/Qwen3-0.6B", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    expect(hs.get("content-type", "").startswith("text/event-stream") and body.rstrip().endswith(b"data: [DONE]"), "SSE stream")
    logs = env.logs("vllm")
    expect("non-default args: {'model_tag': 'Qwen/Qwen2.5-1.5B-Instruct'}" in logs, "log shows the ignored model_tag")
    expect("vkey-123" not in logs, "VLLM_API_KEY (env) not logged")
    expect(env.exec("vllm", "test", "-d", "/root/.cache/huggingface/hub/models--Qwen--Qwen3-0.6B").returncode == 0,
           "model files in the HF cache volume")


def check_vllm_args(env, st):
    env.run("vllm2", VLLM, args=["--model", "Qwen/Qwen2.5-1.5B-Instruct", "--api-key", "cli-key"],
            env=["VLLM_API_KEY=env-key"])
    base = "http://%s:8000" % env.ip("vllm2")
    env.wait_http(base + "/health")
    expect(env.http(base + "/v1/models", headers=["Authorization: Bearer env-key"])[0] == 401, "--api-key beats VLLM_API_KEY")
    code, _, body = env.http(base + "/v1/models", headers=["Authorization: Bearer cli-key"])
    expect(code == 200 and [m["id"] for m in json.loads(body)["data"]] == ["Qwen/Qwen2.5-1.5B-Instruct"], "--model served")
    env.run("vllm3", VLLM, args=["serve", "Qwen/Qwen2.5-1.5B-Instruct"], restart=False)
    code = env.docker("wait", "vllm3").stdout.strip()
    expect(code == "2" and "unrecognized arguments: Qwen/Qwen2.5-1.5B-Instruct" in env.logs("vllm3"),
           "`serve MODEL` args: api_server.py usage error (exit %s)" % code)
    env.docker("rm", "-f", "vllm2", "vllm3")


def check_tei(env, st):
    env.run("tei", TEI, args=["--model-id", "BAAI/bge-small-en-v1.5"],
            env=["API_KEY=tei-key-456", "TOKENIZATION_WORKERS=2"], volumes=["tei-data:/data"])
    base = st["tei"] = "http://%s:80" % env.ip("tei")
    env.wait_http(base + "/health")
    auth = ["Authorization: Bearer tei-key-456"]
    code, _, body = env.http(base + "/embed", "POST", body={"inputs": "hello"})
    expect(code == 401 and body == b"", "/embed without the key: %s" % code)
    code, _, body = env.http(base + "/embed", "POST", headers=auth, body={"inputs": ["hello", "world"]})
    vecs = json.loads(body)
    expect(code == 200 and len(vecs) == 2 and len(vecs[0]) == 384, "/embed with the key")
    code, _, body = env.http(base + "/v1/embeddings", "POST", headers=auth, body={"input": "hello", "model": "x"})
    expect(code == 200 and json.loads(body)["data"][0]["object"] == "embedding", "/v1/embeddings with the key")
    expect(env.http(base + "/v1/embeddings", "POST", body={"input": "x"})[0] == 401, "/v1/embeddings without the key")
    # As Open WebUI's RAG_EMBEDDING_ENGINE=openai sends it: {"input": [...], "model": ...}
    code, _, body = env.http(base + "/v1/embeddings", "POST", headers=auth,
                             body={"input": ["a b", "c"], "model": "BAAI/bge-small-en-v1.5"})
    res = json.loads(body)
    expect(code == 200 and [d["index"] for d in res["data"]] == [0, 1] and len(res["data"][1]["embedding"]) == 384
           and res["model"] == "BAAI/bge-small-en-v1.5" and res["usage"]["prompt_tokens"] > 0, "batch: %s" % body[:200])
    code, _, body = env.http(base + "/v1/embeddings", "POST", headers=auth, body={"input": ["x"] * 33})
    expect(code == 422 and json.loads(body) == {"message": "batch size 33 > maximum allowed batch size 32", "code": 422,
                                                 "type": "Validation"}, "over max_client_batch_size: %s %r" % (code, body))
    code, _, body = env.http(base + "/v1/embeddings", "POST", headers=auth, body={"input": []})
    expect(code == 400 and json.loads(body)["type"] == "Empty", "empty batch: %s %r" % (code, body))
    code, _, body = env.http(base + "/embed", "POST", headers=auth, body={"inputs": ["x"] * 33})
    expect(code == 422 and json.loads(body)["error_type"] == "Validation", "/embed over the batch size: %s" % code)
    code, _, body = env.http(base + "/v1/embeddings", "POST", headers=auth, body={"input": "x", "encoding_format": "base64"})
    expect(code == 200 and len(base64.b64decode(json.loads(body)["data"][0]["embedding"])) == 384 * 4, "base64 floats")
    env.http(base + "/v1/embeddings", "POST", headers=auth, body={"input": "x", "model": "other/model"})
    logs = env.logs("tei")
    expect("The provided `model=other/model` has not been found" in logs, "another model name: only a warning")
    expect(re.search(r'INFO openai_embed\{total_time="[^"]+" .*server\.rs:1318: Success', logs), "Success logged")
    expect(env.http(base + "/info")[0] == 401, "/info needs the key")
    code, _, body = env.http(base + "/info", headers=auth)
    expect(code == 200 and json.loads(body)["model_id"] == "BAAI/bge-small-en-v1.5" and json.loads(body)["tokenization_workers"] == 2,
           "/info")
    for path in ("/health", "/", "/ping", "/metrics"):
        expect(env.http(base + path)[0] == 200, "GET %s open without the key (TEI >= 1.5.1)" % path)


def check_tei_logs(env, st):
    logs = env.logs("tei")
    first = logs.splitlines()[0]
    expect(re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z  INFO text_embeddings_router: router/src/main.rs:216: Args \{ ", first),
           "plain (not JSON) Args line first: the args replace CMD --json-output: %r" % first[:120])
    expect('model_id: "BAA*/***-*****-**-v1.5"' in first, "model_id partially redacted")
    expect('api_key: Some("tei-key-456")' in first, "API key logged in clear, as the real 1.9 router does")
    expect("tokenization_workers: Some(2)" in first and "port: 80," in first, "TOKENIZATION_WORKERS and PORT read")
    expect("Invalid hostname, defaulting to 0.0.0.0" in logs, "HOSTNAME (container id) is not an address")
    expect(env.exec("tei", "test", "-d", "/data/models--BAAI--bge-small-en-v1.5").returncode == 0, "model in /data")
    env.run("tei2", TEI, restart=False)  # the image's own CMD: no --model-id
    code = env.docker("wait", "tei2").stdout.strip()
    expect(code == "2" and "--model-id <MODEL_ID>" in env.logs("tei2"), "default CMD without MODEL_ID exits 2")
    env.docker("rm", "-f", "tei2")


# ------------------------------------------------------------------ Qdrant and the rag trio
QKEY = "qdrant-key-789"
QAUTH = ["api-key: " + QKEY]


def qdrant_base(env):
    return "http://%s:6333" % env.ip("qdrant")


def qjson(env, path, method="GET", body=None, headers=QAUTH):
    """(status, parsed body or raw bytes) of a Qdrant REST call with the key."""
    code, _, raw = env.http(qdrant_base(env) + path, method, headers=headers, body=body)
    try:
        return code, json.loads(raw)
    except ValueError:
        return code, raw


def start_qdrant(env):
    env.run("qdrant", QDRANT, env=["QDRANT__SERVICE__API_KEY=" + QKEY, "QDRANT__TELEMETRY_DISABLED=true"],
            volumes=["qdrant:/qdrant/storage"])
    env.wait_http(qdrant_base(env) + "/readyz")


def check_qdrant(env, st):
    start_qdrant(env)
    base = qdrant_base(env)
    code, _, body = env.http(base + "/")
    info = json.loads(body)
    expect(code == 200 and info["title"] == "qdrant - vector search engine" and info["version"] == "1.19.0",
           "GET / without the key: %s %r" % (code, body[:120]))
    for path, text in (("/healthz", b"healthz check passed"), ("/livez", b"healthz check passed"),
                       ("/readyz", b"all shards are ready")):
        code, _, body = env.http(base + path)
        expect(code == 200 and body == text, "%s open without the key: %s %r" % (path, code, body))
    code, hs, body = env.http(base + "/collections")
    expect(code == 401 and body == b"Must provide an API key or an Authorization bearer token",
           "/collections without the key: %s %r" % (code, body))
    code, _, body = env.http(base + "/collections", headers=["api-key: wrong"])
    expect(code == 401 and body == b"Invalid API key or JWT", "wrong key: %s %r" % (code, body))
    expect(env.http(base + "/readyz/x")[0] == 401, "an unrouted path under /readyz is not whitelisted")
    expect(env.http(base + "/collections", headers=["Authorization: Bearer " + QKEY])[0] == 200, "Bearer key")
    code, res = qjson(env, "/collections/contract")
    expect(code == 404 and res["status"]["error"] == "Not found: Collection `contract` doesn't exist!", "missing: %s" % res)
    create = {"vectors": {"size": 4, "distance": "Cosine", "on_disk": False}, "hnsw_config": {"m": 0, "payload_m": 16}}
    code, res = qjson(env, "/collections/contract", "PUT", create)
    expect(code == 200 and res["result"] is True and res["status"] == "ok", "create: %s %s" % (code, res))
    code, res = qjson(env, "/collections/contract", "PUT", create)
    expect(code == 409 and res["status"]["error"] == "Wrong input: Collection `contract` already exists!",
           "create twice: %s %s" % (code, res))
    code, res = qjson(env, "/collections/contract/index?wait=true", "PUT",
                      {"field_name": "tenant_id", "field_schema": {"type": "keyword", "is_tenant": True, "on_disk": False}})
    expect(code == 200 and res["result"]["status"] == "completed", "payload index: %s %s" % (code, res))
    pts = {"points": [{"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "vector": [1, 0, 0, 0],
                       "payload": {"text": "one", "tenant_id": "a"}},
                      {"id": 7, "vector": [0, 2, 0, 0], "payload": {"text": "two", "tenant_id": "b"}}]}
    code, res = qjson(env, "/collections/contract/points?wait=true", "PUT", pts)
    expect(code == 200 and res["result"]["status"] == "completed", "upsert wait=true: %s %s" % (code, res))
    for wait in ("true", "false"):
        code, res = qjson(env, "/collections/contract/points?wait=" + wait, "PUT",
                          {"points": [{"id": 9, "vector": [1, 2, 3], "payload": {}}]})
        expect(code == 400 and res["status"]["error"] == "Wrong input: Vector dimension error: expected dim: 4, got 3",
               "dimension mismatch (wait=%s): %s %s" % (wait, code, res))
    code, res = qjson(env, "/collections/contract/points?wait=false", "PUT",
                      {"points": [{"id": 8, "vector": [0, 0, 1, 0], "payload": {"text": "three", "tenant_id": "a"}}]})
    expect(code == 200 and res["result"]["status"] == "acknowledged", "upsert wait=false: %s" % res)
    flt = {"must": [{"key": "tenant_id", "match": {"value": "a"}}]}
    code, res = qjson(env, "/collections/contract/points/scroll", "POST",
                      {"filter": flt, "limit": 999999999, "with_payload": True, "with_vector": False})
    got = [(p["id"], p["payload"]["text"]) for p in res["result"]["points"]]
    expect(got == [(8, "three"), ("5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "one")], "scroll by tenant: %s" % got)
    code, res = qjson(env, "/collections/contract/points/count", "POST", {"filter": flt, "exact": True})
    expect(res["result"] == {"count": 2}, "count: %s" % res)
    code, res = qjson(env, "/collections/contract/points/query", "POST",
                      {"query": {"nearest": [0, 1, 0, 0]}, "limit": 1, "with_payload": True, "with_vector": False})
    top = res["result"]["points"][0]
    expect(top["id"] == 7 and abs(top["score"] - 1.0) < 1e-4, "query: nearest is 7 with cosine 1: %s" % top)
    code, res = qjson(env, "/collections/contract")
    expect(res["result"]["points_count"] == 3 and res["result"]["config"]["params"]["vectors"]["size"] == 4
           and res["result"]["payload_schema"]["tenant_id"]["params"]["is_tenant"] is True, "collection info: %s" % res)
    expect(qjson(env, "/collections/contract/exists")[1]["result"] == {"exists": True}, "exists")
    logs = env.logs("qdrant")
    expect("Telemetry reporting disabled" in logs, "QDRANT__TELEMETRY_DISABLED=true read")
    expect('"PUT /collections/contract/points?wait=true HTTP/1.1" 200' in logs
           and '"GET /collections HTTP/1.1" 401' in logs, "requests logged (actix Logger)")
    expect('"GET /healthz' not in logs and '"GET /readyz HTTP' not in logs, "health paths not logged")
    expect(QKEY not in logs, "the key is not logged")
    r = env.exec("qdrant", "sh", "-c", "command -v curl || command -v wget")
    expect(r.returncode != 0, "no curl or wget in the qdrant image: %r" % r.stdout)
    r = env.exec("qdrant", "test", "-s", "/qdrant/storage/collections/contract/standin.json")
    expect(r.returncode == 0, "collection stored on the /qdrant/storage volume")


TEI_KEY = "tei-key-rag"
RAG_WEBUI_ENV = ["OLLAMA_BASE_URL=http://ollama:11434", "WEBUI_URL=https://1-2-3-4.ip.linodeusercontent.com",
                 "CORS_ALLOW_ORIGIN=https://1-2-3-4.ip.linodeusercontent.com", "ANONYMIZED_TELEMETRY=false",
                 "AUDIO_STT_ENGINE=webapi", "ENABLE_OPENAI_API=false", "WEBUI_SECRET_KEY=0123456789abcdef",
                 "VECTOR_DB=qdrant", "QDRANT_URI=http://qdrant:6333", "QDRANT_API_KEY=" + QKEY,
                 "RAG_EMBEDDING_ENGINE=openai", "RAG_OPENAI_API_BASE_URL=http://rag-tei:80/v1",
                 "RAG_OPENAI_API_KEY=" + TEI_KEY, "RAG_EMBEDDING_MODEL=BAAI/bge-small-en-v1.5"]
NOTES = "# Guide\n\nThe secret word is pelican.\n\n## Install\n\nRun the installer.\nThen reboot.\n"


# What to run in a booted VM to see an upload's vectors (Open WebUI's container has python3 and
# QDRANT_API_KEY; Qdrant's has neither curl nor python): `docker exec webui python3 -c "$VM_CHECK"`.
VM_CHECK = r"""
import json, os, urllib.request as u
def q(path, body=None):
    r = u.Request("http://qdrant:6333" + path, method="POST" if body is not None else "GET",
                  data=None if body is None else json.dumps(body).encode(),
                  headers={"api-key": os.environ["QDRANT_API_KEY"], "Content-Type": "application/json"})
    return json.load(u.urlopen(r, timeout=10))["result"]
info = q("/collections/open-webui_files")
print("points", info["points_count"], "size", info["config"]["params"]["vectors"]["size"])
for p in q("/collections/open-webui_files/points/scroll", {"limit": 100, "with_payload": True})["points"]:
    m = p["payload"]["metadata"]
    print(p["payload"]["tenant_id"], m["name"], m["embedding_config"]["model"], json.dumps(p["payload"]["text"][:40]))
"""


def rag_env(**changes):
    out = [e for e in RAG_WEBUI_ENV if e.split("=", 1)[0] not in changes]
    return out + ["%s=%s" % kv for kv in changes.items()]


def start_webui(env, name, e, volume):
    env.run(name, WEBUI, env=e, volumes=["%s:/app/backend/data" % volume])
    base = "http://%s:8080" % env.ip(name)
    env.wait_http(base + "/health")
    return base


def admin_token(env, base):
    code, _, body = env.http(base + "/api/v1/auths/signup", "POST", body=ADMIN)
    if code != 200:
        code, _, body = env.http(base + "/api/v1/auths/signin", "POST",
                                 body={"email": ADMIN["email"], "password": ADMIN["password"]})
    expect(code == 200, "admin session: %s %r" % (code, body[:200]))
    return json.loads(body)["token"]


def upload(env, base, token, name, content, query=""):
    """POST /api/v1/files/ as the browser does: multipart/form-data, field `file`."""
    boundary = "----linode-ai-%s" % os.urandom(6).hex()
    body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: text/markdown\r\n\r\n"
            "%s\r\n--%s--\r\n" % (boundary, name, content, boundary))
    code, _, raw = env.http(base + "/api/v1/files/" + query, "POST", body=body,
                            headers=["Authorization: Bearer " + token,
                                     "Content-Type: multipart/form-data; boundary=" + boundary])
    expect(code == 200, "upload %s: %s %r" % (name, code, raw[:300]))
    return json.loads(raw)


def file_when_done(env, base, token, fid, timeout=30):
    deadline = time.time() + timeout
    while True:
        code, _, raw = env.http(base + "/api/v1/files/" + fid, headers=["Authorization: Bearer " + token])
        f = json.loads(raw)
        if (f.get("data") or {}).get("status") in ("completed", "failed") or time.time() > deadline:
            return f
        time.sleep(0.3)


def tenant_points(env, fid):
    code, res = qjson(env, "/collections/open-webui_files/points/scroll", "POST",
                      {"filter": {"must": [{"key": "tenant_id", "match": {"value": "file-" + fid}}]},
                       "limit": 100, "with_payload": True, "with_vector": False})
    return res["result"]["points"] if code == 200 else None


def successes(env, name):
    return sum(1 for l in env.logs(name).splitlines() if "openai_embed{" in l and l.endswith("Success"))


def check_rag_upload(env, st):
    env.run("rag-tei", TEI, args=["--model-id", "BAAI/bge-small-en-v1.5"],
            env=["API_KEY=" + TEI_KEY, "TOKENIZATION_WORKERS=2"], volumes=["rag-tei-data:/data"])
    env.wait_http("http://%s:80/health" % env.ip("rag-tei"))
    base = st["rag-webui"] = start_webui(env, "rag-webui", RAG_WEBUI_ENV, "rag-open-webui")
    token = st["rag-token"] = admin_token(env, base)
    expect(env.http(base + "/api/v1/files/", "POST", body="x")[0] == 401, "upload needs a session")
    f = upload(env, base, token, "notes.md", NOTES)
    expect(f["status"] is True and f["data"] == {"status": "pending"} and f["meta"]["content_type"] == "text/markdown"
           and f["filename"] == "notes.md", "upload answer: %s" % f)
    fid = st["rag-file"] = f["id"]
    done = file_when_done(env, base, token, fid)
    expect(done["data"]["status"] == "completed" and done["data"]["error"] is None, "processed: %s" % done["data"])
    expect(done["meta"]["collection_name"] == "file-" + fid, "collection_name file-<id>: %s" % done["meta"])
    digest = hashlib.sha256(NOTES.encode()).hexdigest()
    expect(done["hash"] == digest, "file hash = sha256 of the text")
    code, _, raw = env.http(base + "/api/v1/files/%s/process/status" % fid, headers=["Authorization: Bearer " + token])
    expect(json.loads(raw) == {"status": "completed"}, "process/status: %r" % raw)
    r = env.exec("rag-webui", "sh", "-c", "ls /app/backend/data/uploads/")
    expect(r.stdout.strip() == "%s_notes.md" % fid, "stored as DATA_DIR/uploads/<id>_<name>: %r" % r.stdout)
    # What Qdrant holds (checked over its REST API with the key, as a VM check would).
    points = tenant_points(env, fid)
    texts = sorted(p["payload"]["text"] for p in points)
    expect(texts == ["# Guide  \nThe secret word is pelican.", "## Install  \nRun the installer.\nThen reboot."],
           "two chunks (markdown header split): %s" % texts)
    meta = points[0]["payload"]["metadata"]
    expect(meta["file_id"] == fid and meta["name"] == "notes.md" and meta["source"] == "notes.md"
           and meta["hash"] == digest and meta["start_index"] == 0
           and meta["embedding_config"] == {"engine": "openai", "model": "BAAI/bge-small-en-v1.5"},
           "payload metadata: %s" % meta)
    code, res = qjson(env, "/collections/open-webui_files")
    info = res["result"]
    expect(info["config"]["params"]["vectors"] == {"size": 384, "distance": "Cosine", "on_disk": False}
           and info["config"]["hnsw_config"]["m"] == 0 and info["config"]["hnsw_config"]["payload_m"] == 16,
           "multi-tenant collection: 384 dims, cosine, m=0: %s" % info["config"])
    expect(info["payload_schema"]["tenant_id"]["params"]["is_tenant"] is True
           and {"metadata.hash", "metadata.file_id"} <= set(info["payload_schema"]), "payload indexes: %s"
           % info["payload_schema"])
    r = env.exec("rag-webui", "python3", "-c", VM_CHECK)
    out = r.stdout.splitlines()
    expect(r.returncode == 0 and out[0] == "points 2 size 384" and len(out) == 3 and all(
        l.startswith("file-%s notes.md BAAI/bge-small-en-v1.5 " % fid) for l in out[1:]),
        "VM_CHECK from inside the Open WebUI container: %r %r" % (r.stdout, r.stderr[-300:]))
    # The requests, as the services logged them.
    expect(successes(env, "rag-tei") == 2, "TEI: one /v1/embeddings per chunk (RAG_EMBEDDING_BATCH_SIZE=1)")
    expect("has not been found" not in env.logs("rag-tei"), "model name matches TEI's served model")
    qlogs = env.logs("qdrant")
    for line in ('"PUT /collections/open-webui_files HTTP/1.1" 200', '"PUT /collections/open-webui_files/index?wait=true '
                 'HTTP/1.1" 200', '"PUT /collections/open-webui_files/points?wait=false HTTP/1.1" 200',
                 '"GET /collections/open-webui_files/exists HTTP/1.1" 200', '"python-client/1.18.0 python/'):
        expect(line in qlogs, "Qdrant log has %s" % line)
    wlogs = env.logs("rag-webui")
    expect("Api key is used with an insecure connection." in wlogs, "qdrant-client's warning (http with a key)")
    expect("Failed to obtain server version" not in wlogs, "the client's version check (GET /) reached Qdrant")
    # Retrieval: the query is embedded by TEI and searched in Qdrant within the file's tenant.
    code, _, raw = env.http(base + "/api/v1/retrieval/query/collection", "POST",
                            headers=["Authorization: Bearer " + token],
                            body={"collection_names": ["file-" + fid], "query": "# Guide   The secret word is pelican."})
    res = json.loads(raw)
    expect(code == 200 and res["documents"][0][0] == "# Guide  \nThe secret word is pelican."
           and abs(res["distances"][0][0] - 1.0) < 1e-4, "query/collection: %s %s" % (code, raw[:300]))
    expect(successes(env, "rag-tei") == 3, "the query was embedded by TEI")


def check_rag_failures(env, st):
    before = successes(env, "rag-tei")
    # Wrong Qdrant key: the upload is accepted, processing fails, the file says why.
    base = start_webui(env, "rag-webui-bad", rag_env(QDRANT_API_KEY="wrong"), "rag-open-webui-bad")
    token = admin_token(env, base)
    f = upload(env, base, token, "notes.md", NOTES, "?process_in_background=false")
    expect(f["status"] is True and f["data"] == {"status": "pending"}, "synchronous upload still answers 200: %s" % f)
    done = file_when_done(env, base, token, f["id"])
    expect(done["data"]["status"] == "failed" and done["data"]["error"] == (
        "Unexpected Response: 401 (Unauthorized)\nRaw response content:\nb'Invalid API key or JWT'"),
        "wrong Qdrant key: %s" % done["data"])
    expect(done["hash"] is None, "hash cleared on failure")
    code, _, raw = env.http(base + "/api/v1/files/%s/process/status" % f["id"], headers=["Authorization: Bearer " + token])
    expect(json.loads(raw) == {"status": "failed"}, "process/status failed: %r" % raw)
    code, _, raw = env.http(base + "/api/v1/files/%s/process/status?stream=true" % f["id"],
                            headers=["Authorization: Bearer " + token])
    expect(raw.startswith(b'data: {"status": "failed", "error": "Unexpected Response: 401'), "SSE status: %r" % raw[:120])
    expect(successes(env, "rag-tei") == before, "Qdrant is asked first (duplicate check): TEI never called")
    expect(tenant_points(env, f["id"]) == [], "nothing stored for the failed file")
    # Wrong TEI key: Qdrant is reached, the embeddings are refused.
    bad_tei = rag_env(RAG_OPENAI_API_KEY="wrong")
    base = start_webui(env, "rag-webui-bad", bad_tei, "rag-open-webui-bad2")
    token = admin_token(env, base)
    done = file_when_done(env, base, token, upload(env, base, token, "notes.md", NOTES)["id"])
    expect(done["data"]["status"] == "failed" and done["data"]["error"] == (
        "401, message='Unauthorized', url='http://rag-tei:80/v1/embeddings'"), "wrong TEI key: %s" % done["data"])
    # Persistent config: RAG_* are stored at the first start; a fixed key in the environment is ignored.
    base = start_webui(env, "rag-webui-bad", RAG_WEBUI_ENV, "rag-open-webui-bad2")
    token = admin_token(env, base)
    done = file_when_done(env, base, token, upload(env, base, token, "notes.md", NOTES)["id"])
    expect(done["data"]["status"] == "failed" and "401, message='Unauthorized'" in done["data"]["error"],
           "RAG_OPENAI_API_KEY from the first start wins (persistent config): %s" % done["data"])
    # ENABLE_PERSISTENT_CONFIG=false: the environment wins, but sign-up reopens at each start ...
    base = start_webui(env, "rag-webui-bad", rag_env(ENABLE_PERSISTENT_CONFIG="false"), "rag-open-webui-bad2")
    token = admin_token(env, base)
    done = file_when_done(env, base, token, upload(env, base, token, "notes.md", NOTES)["id"])
    expect(done["data"]["status"] == "completed", "ENABLE_PERSISTENT_CONFIG=false: env key used: %s" % done["data"])
    stranger = {"name": "Eve", "email": "eve@example.com", "password": "x"}
    code, _, raw = env.http(base + "/api/v1/auths/signup", "POST", body=stranger)
    expect(code == 200 and json.loads(raw)["role"] == "pending", "... sign-up open again: %s" % code)
    # ... unless ENABLE_SIGNUP=false (the first account can still sign up: no users yet).
    base = start_webui(env, "rag-webui-bad", rag_env(ENABLE_PERSISTENT_CONFIG="false", ENABLE_SIGNUP="false"),
                       "rag-open-webui-bad3")
    admin_token(env, base)
    expect(env.http(base + "/api/v1/auths/signup", "POST", body=stranger)[0] == 403, "ENABLE_SIGNUP=false closes it")
    # Another embedding model (768 dimensions) against the existing 384-dimension collection.
    env.run("rag-tei-768", TEI, args=["--model-id", "BAAI/bge-base-en-v1.5"], env=["API_KEY=" + TEI_KEY])
    env.wait_http("http://%s:80/health" % env.ip("rag-tei-768"))
    base = start_webui(env, "rag-webui-bad", rag_env(RAG_OPENAI_API_BASE_URL="http://rag-tei-768:80/v1"),
                       "rag-open-webui-bad4")
    token = admin_token(env, base)
    done = file_when_done(env, base, token, upload(env, base, token, "notes.md", NOTES)["id"])
    expect(done["data"]["status"] == "failed" and done["data"]["error"].startswith(
        "Unexpected Response: 400 (Bad Request)\nRaw response content:\nb'{\"status\":{\"error\":\"Wrong input: Vector "
        "dimension error: expected dim: 384, got 768\"}"), "768-dim vectors into the 384 collection: %s" % done["data"])
    env.docker("rm", "-f", "rag-webui-bad", "rag-tei-768")


def check_qdrant_restart(env, st):
    env.docker("restart", "qdrant")
    env.wait_http(qdrant_base(env) + "/readyz")
    expect(len(tenant_points(env, st["rag-file"])) == 2, "points kept across docker restart")
    env.docker("rm", "-f", "qdrant")
    start_qdrant(env)  # a new container on the same volume
    expect(len(tenant_points(env, st["rag-file"])) == 2, "points kept in a recreated container")
    expect(qjson(env, "/collections/contract/points/count", "POST", {})[1]["result"] == {"count": 3},
           "the other collection too")
    code, _, raw = env.http(st["rag-webui"] + "/api/v1/retrieval/query/collection", "POST",
                            headers=["Authorization: Bearer " + st["rag-token"]],
                            body={"collection_names": ["file-" + st["rag-file"]], "query": "pelican"})
    expect(code == 200 and len(json.loads(raw)["documents"][0]) == 2, "Open WebUI still finds them: %r" % raw[:200])


def make_cert(env, cn, ca=None):
    d = os.path.join(env.tmp, "tls-" + cn)
    os.makedirs(d, exist_ok=True)
    key, csr, crt, ext = (os.path.join(d, n) for n in ("key.pem", "req.csr", "cert.pem", "ext.cnf"))
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n" % cn)
    q = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    if ca:
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", csr, "-subj", "/CN=" + cn], **q)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAserial", os.path.join(d, "ca.srl"), "-CAcreateserial",
                        "-out", crt, "-days", "2", "-extfile", ext], **q)
    else:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn,
                        "-addext", "subjectAltName=DNS:" + cn], **q)
    os.chmod(key, 0o644)
    return d


TLS_SERVER = ("import http.server, ssl\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        b = b'upstream over TLS'\n"
              "        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)\n"
              "s = http.server.HTTPServer(('0.0.0.0', 8443), H)\n"
              "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain('/tls/cert.pem', '/tls/key.pem')\n"
              "s.socket = c.wrap_socket(s.socket, server_side=True)\n"
              "s.serve_forever()\n")


def check_caddy_trusts_ca(env, st):
    """Real Caddy (Go's TLS, system roots) trusts a server certificate the test CA issued, and no other."""
    good = make_cert(env, "tls-good", (st["ca"], st["ca_key"]))
    bad = make_cert(env, "tls-bad")
    for name, d in (("tls-good", good), ("tls-bad", bad)):
        env.run(name, VLLM, args=["-c", TLS_SERVER], volumes=["%s:/tls:ro" % d], extra=["--entrypoint", "python3"])
    conf = os.path.join(env.tmp, "Caddyfile")
    with open(conf, "w") as f:
        f.write("{\n  admin off\n}\n:80 {\n  handle /good {\n    reverse_proxy https://tls-good:8443\n  }\n"
                "  handle /bad {\n    reverse_proxy https://tls-bad:8443\n  }\n  respond \"caddy here\" 200\n}\n")
    env.run("proxy", CADDY, volumes=["caddy-data:/data", "caddy-config:/config", conf + ":/etc/caddy/Caddyfile:ro"])
    base = "http://%s:80" % env.ip("proxy")
    code, _, body = env.wait_http(base + "/")
    expect(body == b"caddy here", "caddy serves the mounted Caddyfile")
    code, _, body = env.wait_http(base + "/good", timeout=15)
    expect(body == b"upstream over TLS", "TLS to a CA-issued certificate")
    expect(env.http(base + "/bad")[0] == 502, "a certificate from another issuer is refused")
    r = env.exec("proxy", "caddy", "version")
    expect(r.stdout.startswith("v2.11.2"), "caddy version %r" % r.stdout[:40])
    env.docker("rm", "-f", "tls-good", "tls-bad", "proxy")


# Fail switches: (name, image, args, env, volume, data dir, health path, another path that answers)
FAILS = [
    ("ollama", OLLAMA, [], [], "/root/.ollama", 11434, "/api/version", "/api/tags"),
    ("webui", WEBUI, [], WEBUI_ENV, "/app/backend/data", 8080, "/health", "/api/config"),
    ("vllm", VLLM, ["Qwen/Qwen2.5-1.5B-Instruct"], ["VLLM_API_KEY=k"], "/root/.cache/huggingface", 8000, "/health", "/version"),
    ("tei", TEI, ["--model-id", "BAAI/bge-small-en-v1.5"], ["API_KEY=k"], "/data", 80, "/health", "/metrics"),
    ("qdrant", QDRANT, [], ["QDRANT__SERVICE__API_KEY=k"], "/qdrant/storage", 6333, "/readyz", "/"),
]


def check_fail_modes(env, st):
    def start(case):
        name, image, args, e, data, port, _h, _o = case
        env.run("exit-" + name, image, args=args, env=e + ["LINODE_AI_STANDIN_FAIL=exit"])
        env.run("hang-" + name, image, args=args, env=e + ["LINODE_AI_STANDIN_FAIL=hang"])
        # The switch in a file on the data volume (the boot passes no such variable).
        vol = "failvol-" + name
        env.docker("run", "--rm", "-v", "%s:%s" % (vol, data), "--entrypoint", "sh", image, "-c",
                   "echo exit > %s/linode-ai-standin-fail" % data)
        env.run("file-" + name, image, args=args, env=e, volumes=["%s:%s" % (vol, data)])

    parallel(start, FAILS)
    time.sleep(3)
    problems = []
    for name, image, args, e, data, port, health, other in FAILS:
        for kind in ("exit", "file"):
            c = "%s-%s" % (kind, name)
            s = json.loads(env.docker("inspect", c).stdout)[0]
            if s["RestartCount"] < 1:
                problems.append("%s: not in a restart loop (restarts %d, %s)" % (c, s["RestartCount"], s["State"]["Status"]))
            if "exiting with status 1" not in env.logs(c):
                problems.append("%s: no exit message" % c)
        ip = env.ip("hang-" + name)
        if env.http("http://%s:%d%s" % (ip, port, other), timeout=5)[0] != 200:
            problems.append("hang-%s: %s does not answer" % (name, other))
        code = env.http("http://%s:%d%s" % (ip, port, health), timeout=1)[0]
        if code != 0:
            problems.append("hang-%s: %s answered %s" % (name, health, code))
    env.docker("rm", "-f", *["%s-%s" % (k, c[0]) for c in FAILS for k in ("exit", "hang", "file")], check=False)
    expect(not problems, "; ".join(problems))


CHECKS = [
    ("image configs match the real images", check_image_configs),
    ("ollama: /api/version, /api/tags, GET /", check_ollama_health),
    ("ollama: Origin check (403 for an unknown Origin)", check_ollama_origin),
    ("ollama: docker exec ollama ollama pull", check_ollama_pull_exec),
    ("ollama: streamed /api/chat (NDJSON), generate, embed, ps", check_ollama_stream),
    ("ollama: pulled model kept across docker restart", check_ollama_restart),
    ("open-webui: /health and the sign-in page at /", check_webui_health_page),
    ("open-webui: first sign-up is the admin, then sign-up 403", check_webui_signup),
    ("open-webui: data dir, Ollama proxy, request log", check_webui_data),
    ("open-webui: accounts kept across docker restart", check_webui_restart),
    ("open-webui: the chat-webui post-start script", check_webui_template_script),
    ("vllm: key on /v1/* only, positional model ignored", check_vllm),
    ("vllm: --api-key precedence, --model, `serve MODEL` error", check_vllm_args),
    ("tei: API_KEY on /embed, /v1/embeddings, /info; /health open", check_tei),
    ("tei: start-up log (Args with the API key), default CMD", check_tei_logs),
    ("qdrant: health open, key elsewhere, collections, points, sizes", check_qdrant),
    ("rag: upload -> TEI embeddings -> Qdrant points; query", check_rag_upload),
    ("rag: failures (Qdrant key, TEI key, stored config, size)", check_rag_failures),
    ("qdrant: data kept across restart and recreation", check_qdrant_restart),
    ("caddy: real Caddy trusts the test CA", check_caddy_trusts_ca),
    ("fail switches: exit (env and volume file), hang", check_fail_modes),
]


def main(argv):
    words = []
    args = list(argv)
    while "-k" in args:
        i = args.index("-k")
        if i + 1 >= len(args):
            sys.stderr.write(__doc__)
            return 2
        words.append(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    cache = os.path.abspath(args[0])
    checks = [(n, fn) for n, fn in CHECKS if not words or any(w in n for w in words)]
    built = subprocess.run([sys.executable, os.path.join(HERE, "build.py"), cache], stdout=subprocess.PIPE, text=True)
    if built.returncode != 0:
        print("build.py failed\n0 passed, 1 failed")
        return 1
    result = json.loads(built.stdout.strip().splitlines()[-1])
    env = Env(cache)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, interrupted)
    passed, failed = 0, []
    started = time.time()
    try:
        env.start(result["registry_dir"])
        t = time.time()
        print("set-up: dockerd and registry in %.1fs" % (t - started), flush=True)
        env.pull(result["images"])
        env.docker("network", "create", NET)
        print("set-up: %d images pulled in %.1fs" % (len(result["images"]), time.time() - t), flush=True)
        st = {"ca": result["ca"], "ca_key": result["ca_key"]}
        for name, fn in checks:
            t = time.time()
            try:
                fn(env, st)
                passed += 1
                print("ok   %-62s %5.1fs" % (name, time.time() - t), flush=True)
            except CheckFailed as e:
                failed.append(name)
                print("FAIL %s: %s" % (name, e), flush=True)
            except Exception as e:  # a broken check is a failure too
                failed.append(name)
                print("FAIL %s: %s\n%s" % (name, e, traceback.format_exc()), flush=True)
    except KeyboardInterrupt as e:
        failed.append("interrupted (%s)" % e)
    except Exception as e:
        failed.append("set-up")
        print("FAIL set-up: %s" % e, flush=True)
    finally:
        env.close()
    print("(%.0fs)" % (time.time() - started))
    if failed:
        print("failed: %s" % ", ".join(failed))
    print("%d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
