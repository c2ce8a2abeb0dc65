#!/usr/bin/env python3
"""First boot with real cloud-init: the user-data linode-ai sends (a deploy's,
and the GPU base Image build's), booted by Debian's cloud-init (NoCloud) in a
debootstrap chroot, with stand-ins for what a chroot cannot do (docker,
systemd, apt, the GPU). Each scenario checks what the boot did, in order, from
the stand-ins' record.

Usage (root): tests/chroot/boot_test.py target/debug/linode-ai target/debug/linode-sim
The base chroot is built once and cached in $LINODE_AI_CHROOT_CACHE
(default /var/cache/linode-ai-ci).
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("LINODE_AI_CHROOT_CACHE", "/var/cache/linode-ai-ci")
BASE = os.path.join(CACHE, "bookworm-cloud-init-v2.tar")
# docker.io and iptables: the real-Docker boot (tests/realboot) runs Debian's
# dockerd in this root; this test shadows both with stand-ins.
PACKAGES = "cloud-init,python3-cffi-backend,python3-yaml,curl,ca-certificates,iproute2,procps,gzip,docker.io,iptables"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def base_tar():
    """The Debian bookworm chroot with cloud-init and Docker, built once (about 2 minutes)."""
    if os.path.exists(BASE):
        return BASE
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE)
    print("building the chroot (once): debootstrap bookworm with cloud-init", flush=True)
    run(["debootstrap", "--variant=minbase", "--include=" + PACKAGES, "bookworm", work,
         "http://deb.debian.org/debian"], stdout=subprocess.DEVNULL)
    run(["tar", "cf", BASE + ".tmp", "-C", work, "."])
    os.rename(BASE + ".tmp", BASE)
    shutil.rmtree(work)
    return BASE


def sim_user_data(linode_ai, sim, template, env_lines, extra_args=()):
    """Deploys `template` against the API stand-in and returns the user-data it was sent."""
    home = tempfile.mkdtemp(prefix="boot-home-")
    proc = subprocess.Popen([sim], stdout=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()  # http://127.0.0.1:PORT/v4
        port = base.split(":")[2].split("/")[0]
        env = {"PATH": os.environ["PATH"], "HOME": home, "XDG_CONFIG_HOME": home + "/c", "XDG_DATA_HOME": home + "/d",
               "XDG_CACHE_HOME": home + "/k", "LINODE_CLI_API_HOST": "127.0.0.1:" + port, "LINODE_CLI_API_SCHEME": "http",
               "LINODE_CLI_TOKEN": "test-token", "NO_COLOR": "1"}
        project = os.path.join(home, "p")
        run([linode_ai, "init", template, "--directory", project], env=env, stdout=subprocess.DEVNULL)
        with open(os.path.join(project, ".env"), "a") as f:
            f.write("".join(line + "\n" for line in env_lines))
        key = os.path.join(home, "id.pub")
        with open(key, "w") as f:
            f.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n")
        run([linode_ai, "deploy", "--ssh-key", key, "--directory", project, *extra_args], env=env, stdout=subprocess.DEVNULL)
        reqs = json.load(urllib.request.urlopen("http://127.0.0.1:%s/__sim/requests" % port))
        post = [r for r in reqs if r["method"] == "POST" and r["path"] == "/v4/linode/instances"][-1]
        dotenv = open(os.path.join(project, ".env")).read()
        labels = [r["body"]["label"] for r in reqs if r["method"] == "POST" and r["path"] == "/v4/volumes"]
        return base64.b64decode(post["body"]["metadata"]["user_data"]).decode(), dotenv, labels
    finally:
        proc.kill()
        shutil.rmtree(home, ignore_errors=True)


class Volume:
    """A Block Storage volume: a sparse file on a loop device, linked where
    Linode's udev rule puts an attached volume
    (/dev/disk/by-id/scsi-0Linode_Volume_<label>; this machine's /dev is the
    VM's too). It outlives a VM, as a volume outlives its Linode."""

    def __init__(self, label, work, size="4G"):
        self.label = label
        self.file = os.path.join(work, "volume-%s.img" % label)
        run(["truncate", "-s", size, self.file])
        self.dev = subprocess.run(["losetup", "--find", "--show", self.file], check=True, capture_output=True, text=True).stdout.strip()
        self.link = "/dev/disk/by-id/scsi-0Linode_Volume_" + label
        os.makedirs("/dev/disk/by-id", exist_ok=True)
        if os.path.lexists(self.link):
            os.unlink(self.link)
        os.symlink(self.dev, self.link)

    def close(self):
        if os.path.islink(self.link):
            os.unlink(self.link)
        subprocess.run(["losetup", "-d", self.dev], stderr=subprocess.DEVNULL)


def image_build_user_data(linode_ai):
    """The user-data of `linode-ai image build --gpu` (its dry run makes no API
    call; the API host given is a closed port all the same)."""
    home = tempfile.mkdtemp(prefix="boot-home-")
    try:
        env = {"PATH": os.environ["PATH"], "HOME": home, "XDG_CONFIG_HOME": home + "/c", "XDG_DATA_HOME": home + "/d",
               "XDG_CACHE_HOME": home + "/k", "LINODE_CLI_API_HOST": "127.0.0.1:9", "LINODE_CLI_API_SCHEME": "http",
               "LINODE_CLI_TOKEN": "test-token", "NO_COLOR": "1"}
        out = subprocess.run([linode_ai, "image", "build", "--gpu", "--dry-run", "--json"], env=env, cwd=home,
                             check=True, capture_output=True, text=True, timeout=60).stdout
        return json.loads(out)["user_data"], "", []
    finally:
        shutil.rmtree(home, ignore_errors=True)


# The user-data source of a scenario that boots the GPU base Image build.
IMAGE_BUILD = "image build --gpu"


class Chroot:
    def __init__(self, scenario, own_fs=False):
        self.dir = tempfile.mkdtemp(prefix="boot-%s-" % scenario)
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)
        self.mounts = []
        if own_fs:
            # A root file system of its own (tmpfs), as the Linode's disk is:
            # `df /` inside measures the chroot, not this machine's disk, and
            # unpacking and removing the chroot costs no disk I/O (seconds,
            # not tens of seconds while other jobs write to the disk). Not for
            # tests/realboot (a subclass): its dockerd keeps GBs of images here.
            run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=0755", "tmpfs", self.root])
            self.mounts.append(self.root)
        try:
            run(["tar", "xf", base_tar(), "-C", self.root])
        except BaseException:
            Chroot.close(self)  # this class's: a subclass's close may need what its __init__ sets later
            raise

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def write(self, p, text, mode=0o644):
        full = self.path(p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, mode)

    def read(self, p):
        try:
            return open(self.path(p)).read()
        except FileNotFoundError:
            return None

    def boot(self, user_data, settings):
        for name in os.listdir(os.path.join(HERE, "standins")):
            src = os.path.join(HERE, "standins", name)
            if name.startswith("_"):
                self.write("/usr/local/lib/standin/" + name, open(src).read())
            else:
                self.write("/usr/local/sbin/" + name, open(src).read(), 0o755)
        self.write("/etc/standin.conf", "".join("%s=%s\n" % kv for kv in settings.items()))
        if settings.get("STANDIN_NO_DOCKER"):
            # cloud-init's own install gave up (a held lock): no docker anywhere until the boot installs it.
            os.rename(self.path("/usr/local/sbin/docker"), self.path("/usr/local/lib/standin/docker.pending"))
            for p in ("/usr/bin/docker", "/usr/sbin/dockerd"):
                if os.path.exists(self.path(p)):
                    os.remove(self.path(p))
        self.write("/var/lib/cloud/seed/nocloud/user-data", user_data)
        self.write("/var/lib/cloud/seed/nocloud/meta-data", "instance-id: linode-ai-test\nlocal-hostname: test\n")
        # The chroot has only the C.UTF-8 locale (Linode's image has en_US.UTF-8).
        self.write("/etc/cloud/cloud.cfg.d/99-linode-ai-test.cfg", "datasource_list: [ NoCloud ]\nlocale: C.UTF-8\n")
        for src, fs in (("proc", "proc"), ("/dev", None)):
            target = self.path("/proc" if fs else "/dev")
            if fs:
                run(["mount", "-t", "proc", "proc", target])
            else:
                run(["mount", "--bind", src, target])
            self.mounts.append(target)
        env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        log = open(os.path.join(self.dir, "cloud-init.out"), "w")
        for stage in (["init", "--local"], ["init"], ["modules", "--mode=config"], ["modules", "--mode=final"]):
            subprocess.run(["chroot", self.root, "cloud-init", *stage], env=env, stdout=log, stderr=log, timeout=300)
        status = subprocess.run(["chroot", self.root, "cloud-init", "status", "--long"], env=env,
                                capture_output=True, text=True, timeout=60)
        self.status = status.stdout + status.stderr
        self.output = self.read("/var/log/cloud-init-output.log") or ""
        self.boot_json = json.loads(self.read("/var/lib/linode-ai/status/boot.json") or "null")
        self.start_units(env)
        self.calls = (self.read("/var/log/standin.log") or "").splitlines()

    def start_units(self, env):
        """Starts the units the boot made with systemd-run (its stand-in keeps
        their commands), now that cloud-init is done: what systemd would have
        started at once, past its `cloud-init status --wait`. What the boot
        said is read before (a unit may clean cloud-init's state)."""
        self.units = {}
        units = self.path("/var/lib/standin-units")
        if not os.path.isdir(units):
            return
        for name in sorted(os.listdir(units)):
            argv = [a.decode() for a in open(os.path.join(units, name), "rb").read().split(b"\0")[:-1]]
            # A generous limit, only against a hang.
            p = subprocess.run(["chroot", self.root, *argv], env=env, capture_output=True, text=True, timeout=120)
            self.units[name[:-len(".cmd")]] = {"argv": argv, "rc": p.returncode, "output": p.stdout + p.stderr}

    def leftover_processes(self):
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/root" % pid).startswith(self.root):
                    out.append(int(pid))
            except OSError:
                pass
        return out

    def close(self):
        for pid in self.leftover_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # What the boot mounted inside (the cache volume), deepest first.
        inside = [line.split()[1] for line in open("/proc/mounts")]
        for m in sorted((m for m in inside if m.startswith(self.root + "/") and m not in self.mounts), reverse=True):
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m])
        shutil.rmtree(self.dir, ignore_errors=True)


def index(calls, needle, after=-1):
    for i, c in enumerate(calls):
        if i > after and needle in c:
            return i
    raise AssertionError("no call containing %r after #%d in:\n%s" % (needle, after, "\n".join(calls)))


def in_order(calls, *needles):
    at = -1
    for n in needles:
        at = index(calls, n, at)


def check(cond, what, box):
    if not cond:
        raise AssertionError("%s\n--- calls:\n%s\n--- cloud-init status:\n%s\n--- output:\n%s" % (
            what, "\n".join(box.calls), box.status, box.output[-3000:]))


def scenario(name, linode_ai, sim, template, env_lines, settings, verify, files=None):
    """Boots `template`'s user-data (IMAGE_BUILD: the GPU base Image build's)
    in a fresh chroot holding `files` (path: text) first."""
    if template == IMAGE_BUILD:
        user_data, dotenv, labels = image_build_user_data(linode_ai)
    else:
        user_data, dotenv, labels = sim_user_data(linode_ai, sim, template, env_lines)
    work = tempfile.mkdtemp(prefix="volumes-%s-" % name)
    volumes = [Volume(label, work) for label in labels]
    box = Chroot(name, own_fs=True)
    started = time.time()
    try:
        for path, text in (files or {}).items():
            box.write(path, text)
        box.boot(user_data, settings)
        try:
            verify(box, dotenv)
        except AssertionError as e:
            if "--- output" in str(e):
                raise
            raise AssertionError("%s\n--- cloud-init status:\n%s\n--- output:\n%s" % (e, box.status, box.output[-3000:])) from None
        # A pull the boot stopped gets a moment to exit (its SIGTERM handler
        # may run after cloud-init returns); anything left running (a pull,
        # which sleeps 60 s here, or a retry's `sleep 5`) outlives the grace.
        deadline = time.time() + 2
        while box.leftover_processes() and time.time() < deadline:
            time.sleep(0.05)
        check(not box.leftover_processes(), "nothing keeps running after the boot (background pulls stopped)", box)
    finally:
        box.close()
        for v in volumes:
            v.close()
        shutil.rmtree(work, ignore_errors=True)
    print("ok: %s (cloud-init booted the user-data in %.0fs)" % (name, time.time() - started), flush=True)


def chat_webui(box, dotenv):
    c = box.calls
    # Ollama healthy -> Open WebUI healthy -> admin created -> proxy exposes the site -> model pulled.
    # The model downloads as soon as Ollama answers, while Open WebUI starts.
    in_order(c, "docker network create linode-ai", "docker run ollama", "curl health http://172.18.0.",
             "docker exec ollama ollama pull llama3.2:1b", "docker run webui",
             "curl health http://172.18.0.", "auths/signin", "auths/signup fields=email,name,password",
             "auths/signin", "docker run proxy")
    check("pull model llama3.2:1b" in box.output or box.boot_json["state"] == "done", "the last step waits for the model", box)
    runs = [x for x in c if x.startswith("docker run ")]
    check(all("publish=80:80" in x for x in runs if x.startswith("docker run proxy")), "the proxy publishes 80", box)
    check(all("publish= " in x for x in runs if not x.startswith("docker run proxy")), "only the proxy publishes ports", box)
    webui = [x for x in runs if x.startswith("docker run webui")][0]
    names = webui.split(" env=")[1].split(" ")[0].split(",")
    check(names[0] == "WEBUI_SECRET_KEY" and {"OLLAMA_BASE_URL", "WEBUI_URL", "CORS_ALLOW_ORIGIN"} <= set(names),
          "Open WebUI gets its secret and fixed values: " + webui, box)
    check("WEBUI_ADMIN_PASSWORD" not in webui, "the admin password never reaches a container", box)
    for line in dotenv.splitlines():
        if line.startswith(("WEBUI_ADMIN_PASSWORD=", "WEBUI_SECRET_KEY=")):
            check(line.split("=", 1)[1] not in "\n".join(c), "no secret value in any command line", box)
    check(box.boot_json == {"state": "done", "step": "ready", "at": box.boot_json["at"]}, "boot.json says done: %r" % box.boot_json, box)
    check("status: done" in box.status, "cloud-init finished without error", box)
    check(any(x.startswith("curl POST http://172.18.0.") and "auths/signup" in x for x in c), "the admin is made on the private network", box)
    in_order(c, "systemctl enable --now docker", "iptables -w -I DOCKER-USER -d 169.254.169.254/32 -j REJECT", "docker pull")
    no_shadowing(box)


def rag(box, dotenv):
    c = box.calls
    # Qdrant, TEI and Ollama start at once and are each health-waited; Open WebUI
    # only after all three answer; then the admin, then the proxy.
    for s in ("qdrant", "tei", "ollama"):
        in_order(c, "docker run " + s, "docker run webui", "auths/signup fields=email,name,password", "docker run proxy")
    runs = {x.split(" ")[2]: x for x in c if x.startswith("docker run ")}
    env = {k: set(v.split(" env=")[1].split(" ")[0].split(",")) for k, v in runs.items()}
    check({"VECTOR_DB", "QDRANT_URI", "QDRANT_API_KEY", "RAG_EMBEDDING_ENGINE", "RAG_OPENAI_API_BASE_URL",
           "RAG_OPENAI_API_KEY", "RAG_EMBEDDING_MODEL", "WEBUI_SECRET_KEY"} <= env["webui"],
          "Open WebUI is wired to Qdrant and TEI: %r" % env["webui"], box)
    check("QDRANT__SERVICE__API_KEY" in env["qdrant"], "Qdrant gets its key: %r" % env["qdrant"], box)
    check({"API_KEY", "HF_TOKEN"} <= env["tei"], "TEI gets its key and the Hugging Face token: %r" % env["tei"], box)
    # Each secret reaches only the services that list it.
    for name, who in (("HF_TOKEN", {"tei"}), ("WEBUI_ADMIN_PASSWORD", set()), ("EMBEDDINGS_API_KEY", set()),
                      ("QDRANT_API_KEY", {"webui"})):
        got = {k for k, v in env.items() if name in v}
        check(got == who, "%s reaches %r, no more: %r" % (name, who, got), box)
    secrets = [l.split("=", 1)[1] for l in dotenv.splitlines()
               if l.startswith(("HF_TOKEN=", "EMBEDDINGS_API_KEY=", "QDRANT_API_KEY=", "WEBUI_ADMIN_PASSWORD="))]
    check(len(secrets) == 4 and not any(v and v in "\n".join(c) for v in secrets), "no secret value in any command line", box)
    check(not any(v and v in box.output for v in secrets), "no secret value in the boot log", box)
    check(box.boot_json["state"] == "done" and "status: done" in box.status, "boot done: %r" % box.boot_json, box)
    no_shadowing(box)


def chat_agent(box, dotenv):
    c = box.calls
    # The proxy first (the certificate is ordered meanwhile), then Ollama, then the model.
    in_order(c, "docker run proxy", "docker run ollama", "curl health", "docker exec ollama ollama pull llama3.2:1b")
    proxy = [x for x in c if x.startswith("docker run proxy")][0]
    check("CHAT_API_KEY" in proxy.split(" publish=")[0] and "publish=80:80,443:443" in proxy, "the proxy gets the key and 80/443: " + proxy, box)
    page = box.read("/var/lib/linode-ai/www/chat/index.html") or ""
    check("<title>Chat</title>" in page, "the chat page was written (gz+b64 decoded by cloud-init)", box)
    check(oct(os.stat(box.path("/etc/build-ai.env")).st_mode & 0o777) == "0o600", "the env file is private", box)
    check("serving https://203-0-113-10.ip.linodeusercontent.com" in box.output, "the name comes from the public IPv4", box)
    check(box.boot_json["state"] == "done", "boot.json says done", box)
    check("status: done" in box.status, "cloud-init finished without error", box)
    no_shadowing(box)


def docker_missing(box, dotenv):
    c = box.calls
    # The boot installs Docker itself, waiting for the package lists' lock (not cloud-init's 30 s).
    in_order(c, "update", "install docker.io", "systemctl enable --now docker", "docker run ollama")
    update = [x for x in c if x.startswith("apt-get -o DPkg::Lock::Timeout=600") and " update" in x]
    check(update, "the boot's own apt-get update waits for the lock", box)
    check(box.boot_json["state"] == "done", "the boot is done: %r" % box.boot_json, box)
    check("linode-ai: install Docker" in box.output, "the step is named", box)
    # cloud-init still reports its own failed package install (as on a VM).
    check("package" in box.status, "cloud-init names the package step it gave up on", box)


def gpu_prebuilt(box, dotenv):
    c = box.calls
    # Modules built for the archive's driver: signed modules, the headless driver without DKMS.
    in_order(c, "apt-cache policy nvidia-utils-580-server", "apt-cache show linux-modules-nvidia-580-server-6.8.0-49-generic",
             "install --no-install-recommends linux-modules-nvidia-580-server-6.8.0-49-generic nvidia-headless-no-dkms-580-server nvidia-utils-580-server",
             "modprobe nvidia", "curl download https://nvidia.github.io/libnvidia-container/gpgkey", "gpg dearmor",
             "nvidia-container-toolkit.list", "update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/nvidia-container-toolkit.list",
             "install nvidia-container-toolkit",
             "nvidia-ctk runtime configure --runtime=docker", "systemctl reload docker", "nvidia-smi", "docker run vllm")
    check(not any("nvidia-driver-" in x or "nvidia-dkms" in x or "nvidia-headless-580" in x for x in c),
          "no DKMS, compiler or X with signed modules", box)
    apt = [x for x in c if x.startswith("apt-get -o")]
    check(apt and all("DPkg::Lock::Timeout=600" in x for x in apt), "every apt call waits for the lock", box)
    check(all("--force-confold" in x for x in apt if " install " in x), "every install keeps config files", box)
    check(not any("linux-headers" in x for x in c), "no headers needed with signed modules", box)
    vllm = [x for x in c if x.startswith("docker run vllm")][0]
    check("--runtime nvidia" in vllm and "NVIDIA_VISIBLE_DEVICES" in vllm and "--ipc=host" in vllm, "vLLM gets the GPU: " + vllm, box)
    keyring = box.path("/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg")
    check(os.path.getsize(keyring) > 0, "the keyring is in place", box)
    check(box.boot_json["state"] == "done" and "status: done" in box.status, "boot done", box)


def gpu_dkms(box, dotenv):
    c = box.calls
    # No signed modules for this kernel: DKMS builds for the running one.
    in_order(c, "apt-cache show linux-modules-nvidia-580-server-6.8.0-49-generic",
             "install --no-install-recommends linux-headers-6.8.0-49-generic nvidia-headless-580-server nvidia-utils-580-server",
             "modprobe nvidia", "nvidia-smi", "docker run vllm")
    check(not any("linux-modules-nvidia" in x and "install" in x for x in c), "no signed modules to install", box)


def gpu_stale_modules(box, dotenv):
    c = box.calls
    # Signed modules exist for this kernel but were built for an older driver
    # than the archive's nvidia-utils (NVML would say "Driver/library version
    # mismatch"): DKMS builds the archive's driver instead.
    in_order(c, "apt-cache show linux-modules-nvidia-580-server-6.8.0-49-generic",
             "install --no-install-recommends linux-headers-6.8.0-49-generic nvidia-headless-580-server nvidia-utils-580-server",
             "nvidia-smi", "docker run vllm")
    check(not any("install" in x and "linux-modules-nvidia" in x for x in c), "the stale modules are not installed", box)
    check("signed modules for 6.8.0-49-generic: 580.126.09; user space: 580.196.07" in box.output, "the boot log says why", box)


def gpu_smi_fails(box, dotenv):
    c = box.calls
    check(not any(x.startswith("docker run vllm") for x in c), "the app does not start on a broken GPU", box)
    check(box.boot_json["state"] == "failed" and box.boot_json["step"] == "NVIDIA: check the GPU with nvidia-smi",
          "boot.json names the failed step: %r" % box.boot_json, box)
    check('FAILED at step "NVIDIA: check the GPU with nvidia-smi"' in box.output, "the boot log names the step", box)
    check("error" in box.status, "cloud-init reports the error (not done)", box)
    check(any("docker pull vllm/vllm-openai:v0.10.2 interrupted" in x for x in c), "the multi-GB pull is stopped", box)


def gpu_repo_fails(box, dotenv):
    c = box.calls
    check(box.boot_json["state"] == "failed" and box.boot_json["step"] == "NVIDIA: container toolkit repository",
          "boot.json names the step: %r" % box.boot_json, box)
    check(not os.path.exists(box.path("/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg")), "no empty keyring left", box)
    check(not os.path.exists(box.path("/etc/apt/sources.list.d/nvidia-container-toolkit.list")), "no half-written source list", box)
    check(not any("install nvidia-container-toolkit" in x for x in c), "stops at the first failure", box)
    check(len([x for x in c if "curl download" in x]) == 1, "curl was asked once (its own --retry does the retrying)", box)


# What a GPU base Image holds (as the build leaves it): the marker, NVIDIA's
# keyring and source list, nouveau off. Docker, nvidia-smi and nvidia-ctk are
# the stand-ins every chroot has.
GPU_BASE_FILES = {
    "/etc/linode-ai/gpu-base": "driver 580.196.07 (580-server)\nkernel 6.8.0-49-generic\nbuilt 2026-12-01T10:00:00Z\n",
    "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg": "FAKE PGP KEY\n",
    "/etc/apt/sources.list.d/nvidia-container-toolkit.list":
        "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /\n",
    "/etc/modprobe.d/blacklist-nouveau.conf": "blacklist nouveau\noptions nouveau modeset=0\n",
}
# A stock image has a machine id; the seal must not leave it in the Image.
STOCK_MACHINE_ID = {"/etc/machine-id": "0123456789abcdef0123456789abcdef\n"}
DRIVER_PACKAGES = ("install --no-install-recommends linux-modules-nvidia-580-server-6.8.0-49-generic "
                   "nvidia-headless-no-dkms-580-server nvidia-utils-580-server")


def gpu_image(box, dotenv):
    c = box.calls
    # Docker, the driver with signed modules (as gpu-prebuilt), the toolkit,
    # the marker, a smaller disk, then the seal as a unit of its own, last.
    in_order(c, "apt-get -o DPkg::Lock::Timeout=600 -q update", "install docker.io", "systemctl enable --now docker",
             "apt-cache policy nvidia-utils-580-server", DRIVER_PACKAGES, "modprobe nvidia",
             "curl download https://nvidia.github.io/libnvidia-container/gpgkey", "install nvidia-container-toolkit",
             "nvidia-ctk runtime configure --runtime=docker", "systemctl reload docker", "nvidia-smi",
             "nvidia-smi --query-gpu=driver_version", "apt-get clean",
             "systemd-run --no-block --unit=linode-ai-seal --collect bash -c ", "systemctl poweroff")
    install = [x for x in c if x.startswith("apt-get -o") and " install " in x and "docker.io" in x]
    check(install and "DPkg::Lock::Timeout=600" in install[0], "the boot installs docker.io, waiting for the lock", box)
    check(os.path.exists(box.path("/usr/local/sbin/docker")), "Docker is in the image", box)
    check(box.boot_json and box.boot_json["state"] == "done" and box.boot_json["step"] == "seal and power off",
          "boot.json said done before the seal: %r" % box.boot_json, box)
    check("status: done" in box.status, "cloud-init finished without error", box)
    # The marker names the driver nvidia-smi reports and the running kernel.
    marker = (box.read("/etc/linode-ai/gpu-base") or "").splitlines()
    check(len(marker) == 3 and marker[:2] == ["driver 580.196.07 (580-server)", "kernel 6.8.0-49-generic"]
          and re.fullmatch(r"built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", marker[2]), "the marker: %r" % marker, box)
    check(not os.path.exists(box.path("/etc/linode-ai/gpu-base.tmp")), "no half-written marker", box)
    # The disk, measured by the real df on the chroot's own file system (tmpfs).
    used = re.search(r"linode-ai: the disk holds (\d+) MB \(a private Image holds at most (\d+)\)", box.output)
    check(used and 0 < int(used.group(1)) <= int(used.group(2)), "the disk is measured and small enough", box)
    check(os.listdir(box.path("/var/lib/apt/lists")) == [], "no package lists in the image", box)
    # The seal: one unit, started by systemd-run with --no-block, that waits
    # for cloud-init, then cleans it, then powers off. `cloud-init clean` is the
    # real one (it runs in the chroot); its effects are checked below.
    check(len([x for x in c if x.startswith("systemd-run")]) == 1 and list(box.units) == ["linode-ai-seal"],
          "one seal unit: %r" % box.units, box)
    seal = box.units["linode-ai-seal"]
    check(seal["argv"][:2] == ["bash", "-c"] and seal["rc"] == 0, "the seal ran: %r" % seal, box)
    script = seal["argv"][2]
    at = [script.find(x) for x in ("cloud-init status --wait", "cloud-init clean --logs --machine-id", "systemctl poweroff")]
    check(-1 not in at and at == sorted(at), "the seal waits for cloud-init, cleans it, then powers off: " + script, box)
    check(os.listdir(box.path("/var/lib/cloud")) == ["seed"], "cloud-init forgot the instance: %r"
          % os.listdir(box.path("/var/lib/cloud")), box)
    for log in ("/var/log/cloud-init.log", "/var/log/cloud-init-output.log", "/var/log/linode-ai-steps.log"):
        check(not os.path.exists(box.path(log)), "%s is not in the image" % log, box)
    check(box.read("/etc/machine-id") in (None, "uninitialized\n"), "no machine id in the image", box)
    check(not os.path.exists(box.path("/var/lib/linode-ai/status")), "no boot status in the image", box)
    check(c[-1] == "systemctl poweroff" and c.count("systemctl poweroff") == 1, "the power-off comes last, once", box)


def gpu_image_driver_fails(box, dotenv):
    c = box.calls
    failed = "NVIDIA: driver 580.196.07, signed modules for 6.8.0-49-generic"
    check(any(DRIVER_PACKAGES in x for x in c), "the driver install was tried", box)
    # boot.json is public: plain characters only (linode-ai-step drops the comma).
    check(box.boot_json == {"state": "failed", "step": failed.replace(",", ""), "at": box.boot_json["at"]},
          "boot.json names the failed step: %r" % box.boot_json, box)
    check('FAILED at step "%s"' % failed in box.output, "the boot log names the step", box)
    check("error" in box.status, "cloud-init reports the error", box)
    check(box.read("/etc/linode-ai/gpu-base") is None and box.read("/etc/linode-ai/gpu-base.tmp") is None,
          "no marker", box)
    # The Linode stays on, its boot log and cloud-init's state kept for Lish.
    check(not any(x.startswith("systemd-run") or x == "systemctl poweroff" for x in c) and not box.units,
          "no seal, no power-off", box)
    check(not any(x.startswith(("nvidia-ctk", "apt-get clean")) for x in c), "nothing after the failed step", box)
    check(box.read("/var/log/cloud-init-output.log") and os.path.lexists(box.path("/var/lib/cloud/instance")),
          "cloud-init's log and state are kept", box)


def llm_api_from_image(box, dotenv):
    c = box.calls
    step = "NVIDIA: driver from the GPU base image"
    check("linode-ai: " + step in box.output and "linode-ai: image driver 580.196.07 (580-server)" in box.output,
          "the boot takes the image's driver and says which", box)
    steps = box.read("/var/log/linode-ai-steps.log") or ""
    check(" running " + step + "\n" in steps and "NVIDIA: find the driver" not in steps, "the step timeline: " + steps, box)
    in_order(c, "systemctl enable --now docker", "nvidia-smi", "nvidia-ctk runtime configure --runtime=docker",
             "systemctl reload docker", "docker run vllm")
    installs = [x for x in c if x.startswith("apt-get") and " install " in x]
    check(not any(re.search(r"nvidia|linux-modules|linux-headers", x) for x in installs),
          "no driver or toolkit package installed: %r" % installs, box)
    check(not any(x.startswith(("apt-cache", "modprobe", "gpg", "curl download")) for x in c),
          "no driver lookup, module load or repository set-up", box)
    check(c.count("nvidia-ctk runtime configure --runtime=docker") == 1, "the runtime is configured once", box)
    vllm = [x for x in c if x.startswith("docker run vllm")][0]
    check("--runtime nvidia" in vllm and "NVIDIA_VISIBLE_DEVICES" in vllm, "vLLM gets the GPU: " + vllm, box)
    check(box.boot_json["state"] == "done" and "status: done" in box.status, "boot done: %r" % box.boot_json, box)


# Project vars named like the boot script's own variables: the env file is
# sourced in each service's subshell, so none of them may steer the boot.
SHADOWS = ["NETWORK=host", "DOMAIN=evil.invalid", "HTTPS_PORT=1", "ENV_FILE=/nonexistent", "ip=127.0.0.9",
           "args=--privileged", "port=1", "name=x"]


def no_shadowing(box):
    runs = [x for x in box.calls if x.startswith("docker run ")]
    check(runs and all("--network linode-ai " in x for x in runs), "every service is on the private network: %r" % runs, box)
    check(not any("privileged" in x or "evil.invalid" in x or "127.0.0.9" in x for x in box.calls),
          "no project var steers a command: %r" % box.calls, box)


def main():
    if os.geteuid() != 0:
        sys.exit("tests/chroot/boot_test.py needs root (chroot, mount)")
    linode_ai, sim = sys.argv[1], sys.argv[2]
    # Scenario names (or templates) to run; none: all.
    only = sys.argv[3:]
    scenarios = [
        ("chat-webui", "chat-webui", SHADOWS, {}, chat_webui),
        ("chat-agent", "chat-agent", SHADOWS, {}, chat_agent),
        ("rag", "rag", SHADOWS + ["HF_TOKEN=hf_chroot_secret_token_1234"], {}, rag),
        ("docker-missing", "chat-agent", [], {"STANDIN_NO_DOCKER": 1}, docker_missing),
        ("gpu-prebuilt", "llm-api", [], {"STANDIN_PREBUILT": 1}, gpu_prebuilt),
        ("gpu-dkms", "llm-api", [], {"STANDIN_PREBUILT": 0}, gpu_dkms),
        ("gpu-stale-modules", "llm-api", [], {"STANDIN_PREBUILT": 1, "STANDIN_MODULES_VER": "580.126.09"}, gpu_stale_modules),
        ("gpu-nvidia-smi-fails", "llm-api", [], {"STANDIN_PREBUILT": 1, "STANDIN_NVIDIA_SMI_FAILS": 1,
                                                  "STANDIN_SLOW_PULL": "vllm-openai"}, gpu_smi_fails),
        ("gpu-repo-fails", "llm-api", [], {"STANDIN_PREBUILT": 1, "STANDIN_FAIL_DOWNLOAD": "gpgkey"}, gpu_repo_fails),
        # The GPU base Image build on a stock image (no Docker yet).
        ("gpu-image", IMAGE_BUILD, [], {"STANDIN_PREBUILT": 1, "STANDIN_NO_DOCKER": 1}, gpu_image,
         {"files": STOCK_MACHINE_ID}),
        ("gpu-image-driver-fails", IMAGE_BUILD, [], {"STANDIN_PREBUILT": 1, "STANDIN_NO_DOCKER": 1,
                                                     "STANDIN_FAIL_APT": "nvidia-utils-580-server"},
         gpu_image_driver_fails, {"files": STOCK_MACHINE_ID}),
        # An llm-api deploy on a Linode made from that Image.
        ("llm-api-from-image", "llm-api", [], {"STANDIN_PREBUILT": 1}, llm_api_from_image, {"files": GPU_BASE_FILES}),
    ]
    # Arguments pick scenarios by name or by template (llm-api: every llm-api boot).
    known = {s[0] for s in scenarios} | {s[1] for s in scenarios}
    unknown = [n for n in only if n not in known]
    if unknown:
        sys.exit("unknown scenario(s) %s; known: %s" % (", ".join(unknown), ", ".join(s[0] for s in scenarios)))
    for name, template, env_lines, settings, verify, *opts in scenarios:
        if not only or name in only or template in only:
            scenario(name, linode_ai, sim, template, env_lines, settings, verify, **(opts[0] if opts else {}))


if __name__ == "__main__":
    main()
