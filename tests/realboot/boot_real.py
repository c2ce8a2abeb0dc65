#!/usr/bin/env python3
"""The first boot for real: the user-data `linode-ai deploy` sends, booted by
real cloud-init in a Debian root whose every `docker` command reaches a real
Docker engine running in that root, on a host of its own.

Each scenario is one instance:
- a network namespace plays the VM's network (a veth to this machine, which
  plays the internet: Pebble, the registries), and a second one plays Linode's
  metadata service at 169.254.169.254, reached only through the VM, as on Linode;
- the root is the Debian chroot of tests/chroot (cloud-init and Debian's
  docker.io), where dockerd runs when the boot starts it (so every bind mount
  resolves inside the instance) and pulls each image by the exact reference the
  template names: Docker Hub names from a registry mirror, ghcr.io from a
  registry with a test CA that dockerd trusts, `ghcr.io` resolving to it only in
  the root's own /etc/hosts;
- the images are tests/images' stand-ins (Caddy 2.11.2 itself for the proxy);
- the proxy orders its certificate from Pebble over real HTTP-01;
- the checks go to the published 443 from this machine, as the internet would,
  and `linode-ai status` asks the API stand-in, which hands out the VM's address.

Stand-ins remain only for what a root on this machine cannot have: apt (the
packages are in the root already), systemd (a `systemctl` that runs docker's
unit the way systemd would, drop-in included), the GPU (kernel modules,
nvidia-smi, NVIDIA's runtime, which is runc here) and NVIDIA's repository.

Usage (root): tests/realboot/boot_real.py target/debug/linode-ai target/debug/linode-sim [scenario...]
Prints one `ok:` line per scenario with its boot timeline, then `N passed, 0 failed`.
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "chroot"))
import boot_test as chroot  # noqa: E402

PATH = chroot.PATH
# The test network: 10.250.<n>.0/30 per instance (this machine .1, the VM .2);
# the metadata service on a link of the VM's own.
SUBNET = "10.250.%d.%d"
METADATA = "169.254.169.254"
DOMAIN = "%s.linode-ai.test"
TOOLS = os.path.join(REPO, "target", "realboot")


def sh(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def out(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, timeout=60, every=0.2):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(every)


class Procs:
    """Processes this run started; all stopped by PID at the end."""

    def __init__(self):
        self.children = []

    def start(self, cmd, log, **kw):
        p = subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        self.children.append(p)
        return p

    def stop(self):
        for p in reversed(self.children):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.children = []


class Ca:
    """The test CA tests/images baked into the proxy image (Caddy trusts it, as
    the official image trusts public CAs): it signs Pebble's and ghcr.io's
    TLS certificates."""

    def __init__(self, cert, key, work):
        self.cert, self.key, self.work = cert, key, work

    def issue(self, name, dns=(), ips=()):
        key = os.path.join(self.work, name + ".key")
        csr = os.path.join(self.work, name + ".csr")
        crt = os.path.join(self.work, name + ".pem")
        ext = os.path.join(self.work, name + ".ext")
        sans = ["DNS:%s" % d for d in dns] + ["IP:%s" % i for i in ips]
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join(sans))
        sh(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=%s" % name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sh(["openssl", "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
            "-CAserial", os.path.join(self.work, "ca.srl"),
            "-days", "2", "-out", crt, "-extfile", ext], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return crt, key


class Net:
    """The VM's network namespace, a veth to this machine, and the metadata
    service's namespace behind the VM (never on this machine's own links)."""

    def __init__(self, n, work, procs):
        tag = "%d%d" % (os.getpid() % 1000, n)
        self.ns, self.md = "lai-vm" + tag, "lai-md" + tag
        self.host_ip, self.vm_ip = SUBNET % (n, 1), SUBNET % (n, 2)
        h, v, mv, mm = "lai-h" + tag, "lai-v" + tag, "lai-mv" + tag, "lai-mm" + tag
        self.h = h
        for ns in (self.ns, self.md):
            sh(["ip", "netns", "add", ns])
        sh(["ip", "link", "add", h, "type", "veth", "peer", "name", v])
        sh(["ip", "link", "set", v, "netns", self.ns])
        sh(["ip", "addr", "add", self.host_ip + "/30", "dev", h])
        sh(["ip", "link", "set", h, "up"])
        self.vm(["ip", "addr", "add", self.vm_ip + "/30", "dev", v])
        self.vm(["ip", "link", "set", v, "up"])
        self.vm(["ip", "link", "set", "lo", "up"])
        self.vm(["ip", "route", "add", "default", "via", self.host_ip])
        # Linode's metadata service: link-local, one hop from the VM.
        sh(["ip", "link", "add", mv, "netns", self.ns, "type", "veth", "peer", "name", mm, "netns", self.md])
        self.vm(["ip", "addr", "add", "169.254.100.1/16", "dev", mv])
        self.vm(["ip", "link", "set", mv, "up"])
        self.in_md(["ip", "addr", "add", METADATA + "/16", "dev", mm])
        self.in_md(["ip", "link", "set", mm, "up"])
        self.in_md(["ip", "link", "set", "lo", "up"])
        www = os.path.join(work, "metadata")
        os.makedirs(www)
        with open(os.path.join(www, "user-data"), "w") as f:
            f.write("every secret of the deployment\n")
        procs.start(["nsenter", "--net=/run/netns/" + self.md, "python3", "-m", "http.server", "--bind", METADATA,
                     "--directory", www, "80"], os.path.join(work, "metadata.log"))
        wait_for("the metadata service", lambda: self.in_md(["curl", "-fsS", "-o", "/dev/null", "http://%s/user-data" % METADATA],
                                                            check=False, stderr=subprocess.DEVNULL).returncode == 0, 20)

    def vm(self, cmd, **kw):
        return sh(["nsenter", "--net=/run/netns/" + self.ns] + cmd, **kw)

    def in_md(self, cmd, **kw):
        return sh(["nsenter", "--net=/run/netns/" + self.md] + cmd, **kw)

    def close(self):
        for ns in (self.ns, self.md):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "link", "del", self.h], stderr=subprocess.DEVNULL)


class Internet:
    """What the VM reaches on this machine: the registries (by the templates'
    exact image references) and Pebble, bound to the VM's link only."""

    def __init__(self, net, images, ca, work, procs):
        self.net, self.work = net, work
        mirror, ghcr = os.path.join(work, "mirror.yml"), os.path.join(work, "ghcr.yml")
        gcrt, gkey = ca.issue("ghcr.io", dns=["ghcr.io"])
        for path, addr, tls in ((mirror, net.host_ip + ":5000", None), (ghcr, net.host_ip + ":443", (gcrt, gkey))):
            with open(path, "w") as f:
                f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                        "  maintenance:\n    uploadpurging:\n      enabled: false\n    readonly:\n      enabled: true\n"
                        "http:\n  addr: %s\n" % (images["registry_dir"], addr))
                if tls:
                    f.write("  tls:\n    certificate: %s\n    key: %s\n" % tls)
            procs.start(["docker-registry", "serve", path], path + ".log")
        # Pebble (ACME) with its own DNS: every name resolves to the VM.
        pcrt, pkey = ca.issue("pebble", dns=["localhost"], ips=[net.host_ip, "127.0.0.1"])
        self.management, dns = free_port(), free_port()
        with open(os.path.join(work, "pebble.json"), "w") as f:
            json.dump({"pebble": {"listenAddress": net.host_ip + ":14000",
                                  "managementListenAddress": "127.0.0.1:%d" % self.management,
                                  "certificate": pcrt, "privateKey": pkey, "httpPort": 80, "tlsPort": 443,
                                  "ocspResponderURL": "", "externalAccountBindingRequired": False}}, f)
        procs.start(["pebble-challtestsrv", "-management", "127.0.0.1:%d" % free_port(), "-dns01", "127.0.0.1:%d" % dns,
                     "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", net.vm_ip, "-defaultIPv6", ""],
                    os.path.join(work, "challtestsrv.log"))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        procs.start(["pebble", "-config", os.path.join(work, "pebble.json"), "-dnsserver", "127.0.0.1:%d" % dns],
                    os.path.join(work, "pebble.log"), env=env)
        self.ca = ca
        self.directory = "https://%s:14000/dir" % net.host_ip
        for port in (5000, 443, 14000):
            wait_for("%s:%d" % (net.host_ip, port), lambda: _connects(net.host_ip, port), 20)

    def issuing_root(self):
        ctx = ssl.create_default_context(cafile=self.ca.cert)
        pem = urllib.request.urlopen("https://127.0.0.1:%d/roots/0" % self.management, context=ctx, timeout=10).read()
        path = os.path.join(self.work, "issuing-root.pem")
        with open(path, "wb") as f:
            f.write(pem)
        return path


def _connects(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class Project:
    """linode-ai's side: a home, the API stand-in handing out the VM's address, a project."""

    def __init__(self, linode_ai, sim, work, vm_ip, procs):
        self.linode_ai = linode_ai
        self.home = os.path.join(work, "home")
        os.makedirs(self.home)
        log = os.path.join(work, "sim.log")
        p = subprocess.Popen([sim, "--ipv4", vm_ip], stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
        procs.children.append(p)
        base = p.stdout.readline().strip()
        self.sim = base.rsplit("/", 1)[0]
        port = base.split(":")[2].split("/")[0]
        self.env = {"PATH": os.environ["PATH"], "HOME": self.home, "XDG_CONFIG_HOME": self.home + "/c",
                    "XDG_DATA_HOME": self.home + "/d", "XDG_CACHE_HOME": self.home + "/k",
                    "LINODE_CLI_API_HOST": "127.0.0.1:" + port, "LINODE_CLI_API_SCHEME": "http",
                    "LINODE_CLI_TOKEN": "test-token", "NO_COLOR": "1"}
        self.dir = os.path.join(self.home, "p")
        self.key = os.path.join(self.home, "id.pub")
        with open(self.key, "w") as f:
            f.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n")

    def run(self, *args, check=True, env=None):
        r = out([self.linode_ai, *args], env=dict(self.env, **(env or {})))
        if check and r.returncode != 0:
            raise AssertionError("linode-ai %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def deploy(self, template, env_lines, domain, acme_ca):
        if os.path.isdir(template):
            self.run("templates", "add", template)
            template = os.path.basename(template)
        self.run("init", template, "--directory", self.dir)
        with open(os.path.join(self.dir, ".env"), "a") as f:
            f.write("".join(line + "\n" for line in env_lines))
        self.run("deploy", "--ssh-key", self.key, "--directory", self.dir, "--domain", domain, "--acme-ca", acme_ca)
        reqs = json.load(urllib.request.urlopen(self.sim + "/__sim/requests"))
        post = [r for r in reqs if r["method"] == "POST" and r["path"] == "/v4/linode/instances"][-1]
        return base64.b64decode(post["body"]["metadata"]["user_data"]).decode()

    def volumes(self):
        """Labels of the volumes the deploy made (attached to the new Linode)."""
        return [v["label"] for v in json.load(urllib.request.urlopen(self.sim + "/__sim/volumes"))]

    def dotenv(self):
        vals = {}
        for line in open(os.path.join(self.dir, ".env")):
            if "=" in line and not line.startswith("#"):
                k, v = line.rstrip("\n").split("=", 1)
                vals[k] = v
        return vals


class Vm(chroot.Chroot):
    """The instance: the chroot, in the VM's network namespace, with dockerd inside."""

    def __init__(self, scenario, net, internet):
        super().__init__(scenario)
        self.net, self.internet = net, internet

    def prepare(self, user_data):
        standins = os.path.join(REPO, "tests", "chroot", "standins")
        self.write("/usr/local/lib/standin/_lib.sh", open(os.path.join(standins, "_lib.sh")).read())
        # From the chroot test: what apt and the GPU do (docker, iptables and curl are real here).
        for name in ("apt-get", "apt-cache", "gpg", "modprobe", "nvidia-smi", "uname"):
            self.write("/usr/local/sbin/" + name, open(os.path.join(standins, name)).read(), 0o755)
        for name in os.listdir(os.path.join(HERE, "standins")):
            self.write("/usr/local/sbin/" + name, open(os.path.join(HERE, "standins", name)).read(), 0o755)
        self.write("/etc/standin.conf", "STANDIN_PREBUILT=1\n")
        self.write("/etc/docker/daemon.json", json.dumps({
            "registry-mirrors": ["http://%s:5000" % self.net.host_ip],
            "insecure-registries": ["%s:5000" % self.net.host_ip]}))
        self.write("/etc/docker/certs.d/ghcr.io/ca.crt", open(self.internet.ca.cert).read())
        with open(self.path("/etc/hosts"), "a") as f:
            f.write("%s ghcr.io\n" % self.net.host_ip)
        self.write("/etc/resolv.conf", "nameserver 127.0.0.1\n")
        self.write("/var/lib/cloud/seed/nocloud/user-data", user_data)
        self.write("/var/lib/cloud/seed/nocloud/meta-data", "instance-id: linode-ai-real\nlocal-hostname: vm\n")
        # The root here is this machine's disk: never grow or resize it.
        self.write("/etc/cloud/cloud.cfg.d/99-linode-ai-test.cfg",
                   "datasource_list: [ NoCloud ]\nlocale: C.UTF-8\nresize_rootfs: false\ngrowpart:\n  mode: 'off'\n")
        for src, kind in (("proc", "proc"), ("/sys", "rbind"), ("/dev", "rbind")):
            target = self.path("/" + src.strip("/"))
            os.makedirs(target, exist_ok=True)
            if kind == "proc":
                sh(["mount", "-t", "proc", "proc", target])
            else:
                sh(["mount", "--rbind", src, target])
                sh(["mount", "--make-rslave", target])
            self.mounts.append(target)

    def inside(self, cmd, **kw):
        """A command on the VM (its network, its root)."""
        env = kw.pop("env", {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8"})
        return subprocess.run(["nsenter", "--net=/run/netns/" + self.net.ns, os.path.join(HERE, "enter"), self.root] + cmd,
                              env=env, **kw)

    def docker(self, *args):
        r = self.inside(["docker", *args], capture_output=True, text=True, timeout=120)
        return r

    def boot(self, user_data):
        self.prepare(user_data)
        log = open(os.path.join(self.dir, "cloud-init.out"), "w")
        started = time.time()
        for stage in (["init", "--local"], ["init"], ["modules", "--mode=config"], ["modules", "--mode=final"]):
            self.inside(["cloud-init", *stage], stdout=log, stderr=log, timeout=900)
        self.seconds = time.time() - started
        st = self.inside(["cloud-init", "status", "--long"], capture_output=True, text=True, timeout=60)
        self.status = st.stdout + st.stderr
        self.output = self.read("/var/log/cloud-init-output.log") or ""
        self.calls = (self.read("/var/log/standin.log") or "").splitlines()
        self.boot_json = json.loads(self.read("/var/lib/linode-ai/status/boot.json") or "null")

    def reboot(self):
        """As a VM reboot does to Docker: the daemon stops, the firewall
        rules are gone, the daemon starts again (drop-in first)."""
        self.inside(["systemctl", "stop", "docker"], check=True, timeout=120)
        for table in ("filter", "nat"):
            self.net.vm(["iptables", "-t", table, "-F"])
            self.net.vm(["iptables", "-t", table, "-X"])
        self.inside(["systemctl", "start", "docker"], check=True, timeout=120)

    def close(self):
        try:
            self.inside(["systemctl", "stop", "docker"], timeout=120)
        except Exception:
            pass
        # Whatever still runs in the VM's network (dockerd, shims, containers).
        pids = subprocess.run(["ip", "netns", "pids", self.net.ns], capture_output=True, text=True).stdout.split()
        for pid in [int(p) for p in pids] + self.leftover_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.2)
        subprocess.run(["umount", "-R", "-l", self.root], stderr=subprocess.DEVNULL)
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-R", "-l", m], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def check(cond, what, vm=None):
    if not cond:
        extra = ""
        if vm is not None:
            extra = "\n--- cloud-init status:\n%s\n--- boot log (end):\n%s" % (vm.status, vm.output[-4000:])
        raise AssertionError(what + extra)


class Web:
    """This machine reaching the instance's published ports by its name, as the internet would."""

    def __init__(self, domain, vm_ip, root):
        self.domain, self.vm_ip, self.root = domain, vm_ip, root

    def req(self, path, method="GET", headers=(), data=None, port=443, scheme="https", max_time=20, form=()):
        cmd = ["curl", "-sS", "--path-as-is", "--max-time", str(max_time), "-D", "-", "-o", "-",
               "--resolve", "%s:%d:%s" % (self.domain, port, self.vm_ip), "-X", method]
        for f in form:  # multipart fields (`file=@path;type=text/markdown`)
            cmd += ["-F", f]
        if scheme == "https":
            cmd += ["--cacert", self.root]
        for h in headers:
            cmd += ["-H", h]
        if data is not None:
            cmd += ["--data-binary", data]
        cmd.append("%s://%s:%d%s" % (scheme, self.domain, port, path))
        r = subprocess.run(cmd, capture_output=True)
        if r.returncode != 0:
            return 0, "", r.stderr.decode(errors="replace")
        raw = r.stdout.decode(errors="replace")
        head, _, body = raw.partition("\r\n\r\n")
        while head.startswith("HTTP/1.1 100") or head.startswith("HTTP/2 100"):
            head, _, body = body.partition("\r\n\r\n")
        code = int(head.split()[1]) if head else 0
        return code, head.lower(), body

    def code(self, path, **kw):
        return self.req(path, **kw)[0]

    def cert_fingerprint(self):
        ctx = ssl.create_default_context(cafile=self.root)
        with socket.create_connection((self.vm_ip, 443), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=self.domain) as t:
                return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


# ---------------------------------------------------------------- checks


def common(vm, web, project, services, secrets):
    """What every booted instance shows."""
    check("status: done" in vm.status, "cloud-init finished without error", vm)
    check(vm.boot_json and vm.boot_json["state"] == "done", "boot.json says done: %r" % vm.boot_json, vm)
    names = vm.docker("ps", "--format", "{{.Names}}").stdout.split()
    check(sorted(names) == sorted(services + ["proxy"]), "the services and the proxy run: %r" % names, vm)
    published = {}
    for n in names:
        info = json.loads(vm.docker("inspect", n).stdout)[0]
        ports = {k: v for k, v in (info["HostConfig"]["PortBindings"] or {}).items() if v}
        published[n] = sorted(ports)
        env_names = {e.split("=", 1)[0] for e in info["Config"]["Env"]}
        for secret, owners in secrets.items():
            if n not in owners:
                check(secret not in env_names, "%s gets only its own variables, not %s" % (n, secret), vm)
    check(published.pop("proxy") == ["443/tcp", "80/tcp"], "the proxy publishes 80 and 443", vm)
    check(all(v == [] for v in published.values()), "only the proxy publishes ports: %r" % published, vm)
    code, _, body = web.req("/healthz/boot")
    check(code == 200 and '"done"' in body, "/healthz/boot says done: %d %s" % (code, body), vm)
    for s in services:
        check(web.code("/healthz/" + s) == 200, "/healthz/%s answers" % s, vm)
    # Port 80 only redirects (and answers Pebble's HTTP-01, which is how the certificate came).
    code, head, _ = web.req("/", scheme="http", port=80)
    check(code in (301, 308) and "location: https://" in head, "port 80 redirects: %d" % code, vm)
    check(web.code("/nope/../healthz/boot") == 400, "a path with dot segments is refused", vm)
    # Port by port, from outside (no Cloud Firewall here: this is what the VM itself opens).
    open_ports = [p for p in (22, 80, 443, 2019, 3000, 5000, 6333, 6334, 8000, 8080, 11434) if _connects(vm.net.vm_ip, p)]
    check(open_ports == [80, 443], "only 80 and 443 answer from outside: %r" % open_ports, vm)
    check(web.code("/healthz/boot", headers=["Host: other.example"]) == 421, "another Host gets 421", vm)
    # The metadata service answers the VM, never a container.
    r = vm.inside(["curl", "-fsS", "-m", "5", "http://%s/user-data" % METADATA], capture_output=True, text=True)
    check(r.returncode == 0 and "every secret" in r.stdout, "the VM itself reaches the metadata service: %s" % r.stderr, vm)
    containers_cannot_reach_metadata(vm, names)
    # `linode-ai status` sees it running, through the same proxy and certificate.
    st = project.run("status", check=False, env={"LINODE_AI_PROBE_CA": web.root})
    check(st.returncode == 0 and "running" in st.stdout, "linode-ai status says running:\n%s%s" % (st.stdout, st.stderr), vm)


def cache_in_use(vm):
    """A template with a cache volume keeps Docker's data on it (the first
    boot found it blank and formatted it)."""
    check("the cache volume is blank: formatting it" in vm.output, "the blank volume was formatted", vm)
    root = vm.docker("info", "-f", "{{.DockerRootDir}}").stdout.strip()
    check(root == "/mnt/linode-ai-cache/docker", "Docker's data is on the volume: %r" % root, vm)
    fstab = vm.read("/etc/fstab") or ""
    check("/mnt/linode-ai-cache ext4 defaults,noatime,nofail" in fstab, "the volume is in fstab (mounted at reboots)", vm)


def kept_cache(vm, web, first, images):
    """A second Linode on the same volume: the filesystem is kept, nothing
    is pulled, the certificate is the same (no new order)."""
    check(vm.boot_json and vm.boot_json["state"] == "done", "the boot on the kept volume is done: %r" % vm.boot_json, vm)
    check("the cache volume holds a filesystem: kept" in vm.output and "formatting" not in vm.output,
          "the volume is not formatted twice", vm)
    pulls = vm.read("/var/log/linode-ai-pull.log") or ""
    for img in images:
        check("linode-ai: %s is already here" % img in pulls, "%s is not pulled again:\n%s" % (img, pulls), vm)
    check("pull of" not in pulls, "no pull was tried:\n" + pulls, vm)
    wait_for("the proxy", lambda: web.code("/healthz/boot") == 200, 60)
    check(web.cert_fingerprint() == first["cert"], "the certificate came from the volume (no new order)", vm)


PY_GET = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"


def containers_cannot_reach_metadata(vm, names):
    """Each container, and a new one on the private network, reach this
    machine (so they have a route out) but not the metadata service."""
    outside = "https://%s:14000/dir" % vm.net.host_ip
    probe = ["run", "--rm", "--network", "linode-ai", "--entrypoint", "curl", "caddy:2.11.2", "-sS", "-m", "5", "-k"]
    r = vm.docker(*probe, "-o", "/dev/null", outside)
    check(r.returncode == 0, "a container reaches the outside (%s): %s" % (outside, r.stderr), vm)
    r = vm.docker(*probe, "http://%s/user-data" % METADATA)
    check(r.returncode != 0 and "every secret" not in r.stdout, "a new container cannot read the metadata service", vm)
    for n in names:
        # python3 is in every stand-in (the real Ollama image has neither curl nor python).
        r = vm.docker("exec", n, "python3", "-c", PY_GET, "http://%s/user-data" % METADATA)
        check(r.returncode != 0 and "every secret" not in r.stdout and "Error" in r.stderr,
              "container %s cannot read the metadata service: %s%s" % (n, r.stdout, r.stderr[-300:]), vm)


def chat_agent(vm, web, project, key):
    bearer = "Authorization: Bearer " + key
    check(web.code("/api/tags") == 401, "Ollama needs the key", vm)
    code, _, body = web.req("/api/tags", headers=[bearer])
    check(code == 200 and "llama3.2:1b" in body, "the model pulled at boot is listed: %d %s" % (code, body), vm)
    code, _, body = web.req("/api/chat", method="POST", headers=[bearer, "Origin: https://" + web.domain],
                            data='{"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}],"stream":true}')
    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
    check(code == 200 and len(lines) > 1 and lines[-1].get("done") is True, "the chat streams: %d %s" % (code, body[:300]), vm)
    code, head, body = web.req("/")
    check(code == 200 and "<title>Chat</title>" in body and "x-frame-options: deny" in head, "the chat page", vm)
    for path in ("/api/pull", "/api/delete", "/api/create"):
        check(web.code(path, method="POST", headers=[bearer], data="{}") == 404, "%s is not routed" % path, vm)


def chat_webui(vm, web, project, env):
    code, head, body = web.req("/")
    check(code == 200 and "x-frame-options: deny" in head and "frame-ancestors 'none'" in head, "Open WebUI's page, not frameable", vm)
    creds = json.dumps({"email": env.get("WEBUI_ADMIN_EMAIL", "admin@example.com"), "password": env["WEBUI_ADMIN_PASSWORD"]})
    code, _, body = web.req("/api/v1/auths/signin", method="POST", headers=["Content-Type: application/json"], data=creds)
    check(code == 200 and '"role": "admin"' in body.replace('":"', '": "'), "the admin made at boot signs in: %d %s" % (code, body[:200]), vm)
    code, _, body = web.req("/api/v1/auths/signup", method="POST", headers=["Content-Type: application/json"],
                            data=json.dumps({"name": "x", "email": "x@example.com", "password": "x-password-1"}))
    check(code == 403, "sign-up is closed: %d %s" % (code, body[:300]), vm)
    check(env["WEBUI_ADMIN_PASSWORD"] not in vm.output, "the admin password is in no log", vm)


def llm_api(vm, web, project, key):
    bearer = "Authorization: Bearer " + key
    check(web.code("/health") == 200, "vLLM's health is public", vm)
    check(web.code("/v1/models") == 401, "/v1 needs the key", vm)
    code, _, body = web.req("/v1/models", headers=[bearer])
    # The image's entrypoint ignores a positional model and serves its default (Qwen/Qwen3-0.6B).
    check(code == 200 and "Qwen/Qwen2.5-1.5B-Instruct" in body, "vLLM serves the template's model: %d %s" % (code, body[:300]), vm)
    for path in ("/metrics", "/metrics/../health", "/metrics/%2e%2e/health", "/tokenize"):
        check(web.code(path) in (400, 404), "%s does not reach vLLM" % path, vm)
    check(web.code("/metrics/../v1/models", headers=[bearer]) == 400, "dot segments refused with the key too", vm)
    info = json.loads(vm.docker("inspect", "vllm").stdout)[0]
    check(info["HostConfig"]["Runtime"] == "nvidia", "vLLM runs on the nvidia runtime the reload registered", vm)
    check("NVIDIA_VISIBLE_DEVICES=all" in info["Config"]["Env"], "vLLM sees every GPU", vm)


def embeddings(vm, web, project, key):
    bearer = "Authorization: Bearer " + key
    check(web.code("/health") == 200, "TEI's health is public", vm)
    body = '{"inputs":"hello"}'
    check(web.code("/embed", method="POST", headers=["Content-Type: application/json"], data=body) == 401, "/embed needs the key", vm)
    code, _, answer = web.req("/embed", method="POST", headers=[bearer, "Content-Type: application/json"], data=body)
    check(code == 200 and answer.startswith("[["), "an embedding comes back: %d %s" % (code, answer[:100]), vm)
    # TEI logs its arguments, key included: what linode-ai shows never has it.
    raw = vm.docker("logs", "tei")
    check(key in raw.stdout + raw.stderr, "the stand-in logs the key as TEI does (else this check proves nothing)", vm)
    shown = vm.inside(["bash", "-c", "docker logs tei 2>&1 | linode-ai-redact"], capture_output=True, text=True)
    check(key not in shown.stdout and "[redacted]" in shown.stdout, "linode-ai-redact cuts the key from TEI's log", vm)
    check(key not in vm.output, "the boot log holds no key", vm)


def serves_and_reboots(vm, web, project, services, secrets, probe):
    """The checks every template passes, its own (`probe`), then a reboot and
    its own again."""
    common(vm, web, project, services, secrets)
    probe()
    after_reboot(vm, web, services, probe)


def after_reboot(vm, web, services, probe):
    before_cert = web.cert_fingerprint()
    vm.reboot()
    wait_for("the containers after the reboot",
             lambda: sorted(vm.docker("ps", "--format", "{{.Names}}").stdout.split()) == sorted(services + ["proxy"]), 60)
    wait_for("the proxy after the reboot", lambda: web.code("/healthz/boot") == 200, 60)
    check(web.cert_fingerprint() == before_cert, "the certificate was kept on its volume (no new order)", vm)
    for s in services:
        wait_for("/healthz/%s after the reboot" % s, lambda: web.code("/healthz/" + s) == 200, 60)
    containers_cannot_reach_metadata(vm, services + ["proxy"])
    probe()


# ---------------------------------------------------------------- scenarios


class Run:
    def __init__(self, linode_ai, sim, images, ca):
        self.linode_ai, self.sim, self.images, self.ca = linode_ai, sim, images, ca
        self.n = 0

    def boot(self, name, template, env_lines, verify, fails=False, again=None):
        """Deploys `template` against the API stand-in and boots its
        user-data; `again(vm, web, project, first)`: a second VM then boots
        the same user-data on the same cache volume (a Linode made again on
        a kept volume)."""
        self.n += 1
        work = tempfile.mkdtemp(prefix="realboot-%s-" % name)
        procs = Procs()
        net = vm = None
        volumes = []
        started = time.time()
        try:
            net = Net(self.n, work, procs)
            internet = Internet(net, self.images, Ca(self.ca["cert"], self.ca["key"], work), work, procs)
            project = Project(self.linode_ai, self.sim, work, net.vm_ip, procs)
            domain = DOMAIN % name
            user_data = project.deploy(template, env_lines, domain, internet.directory)
            volumes = [chroot.Volume(label, work) for label in project.volumes()]
            vm = Vm(name, net, internet)
            vm.boot(user_data)
            first_boot = timeline(vm)
            if not fails:
                check("status: done" in vm.status, "cloud-init finished", vm)
            # Every template starts its proxy before the step these scenarios fail at.
            root = wait_for("Pebble's certificate", lambda: _cert_ready(internet, domain, net.vm_ip), 60)
            web = Web(domain, net.vm_ip, root)
            if volumes:
                cache_in_use(vm)
            verify(vm, web, project)
            print("ok: %s (booted in %.1fs; scenario %.1fs)" % (name, vm.seconds, time.time() - started), flush=True)
            print(first_boot, flush=True)
            if again:
                first = {"seconds": vm.seconds, "cert": web.cert_fingerprint()}
                vm.close()
                vm = Vm(name + "-again", net, internet)
                vm.boot(user_data)
                again(vm, web, project, first)
                print("ok: %s on its kept volume (booted in %.1fs)" % (name, vm.seconds), flush=True)
                print(timeline(vm), flush=True)
            return True
        except Exception:
            print("FAILED: %s\n%s" % (name, traceback.format_exc()), flush=True)
            if vm is not None:
                for f in ("/var/log/dockerd.log",):
                    text = vm.read(f) or ""
                    errors = [l for l in text.splitlines() if "level=error" in l or "level=warn" in l]
                    print("--- %s (errors and warnings, last 20):\n%s" % (f, "\n".join(errors[-20:])), flush=True)
                    print("--- %s (end):\n%s" % (f, text[-3000:]), flush=True)
                try:
                    print("--- docker ps -a:\n" + vm.docker("ps", "-a").stdout, flush=True)
                except Exception:
                    pass
            return False
        finally:
            if vm is not None:
                vm.close()
            for v in volumes:
                v.close()
            procs.stop()
            if net is not None:
                net.close()
            shutil.rmtree(work, ignore_errors=True)


def _cert_ready(internet, domain, vm_ip):
    root = internet.issuing_root()
    try:
        Web(domain, vm_ip, root).cert_fingerprint()
        return root
    except (OSError, ssl.SSLError):
        return None


def timeline(vm):
    """The boot's steps with the second each began (from linode-ai-step's records)."""
    lines = []
    t0 = None
    for line in (vm.read("/var/log/linode-ai-steps.log") or "").splitlines():
        at, state, step = line.split(" ", 2)
        at = float(at)
        t0 = at if t0 is None else t0
        lines.append("  %6.1fs  %s%s" % (at - t0, step, "" if state == "running" else " (%s)" % state))
    return "\n".join(lines) or "  (no step log)"


def main():
    if os.geteuid() != 0:
        sys.exit("tests/realboot/boot_real.py needs root (network namespaces, chroot, dockerd)")
    linode_ai, sim = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    only = sys.argv[3:]
    cache = os.environ.get("LINODE_AI_IMAGES_CACHE", os.path.join(chroot.CACHE, "images"))
    built = out([sys.executable, os.path.join(REPO, "tests", "images", "build.py"), cache])
    if built.returncode != 0:
        sys.exit("tests/images/build.py failed:\n" + built.stdout + built.stderr)
    images = json.loads(built.stdout.strip().splitlines()[-1])
    ca = {"cert": images["ca"], "key": images["ca_key"]}
    run = Run(linode_ai, sim, images, ca)
    results = []
    for name, fn in SCENARIOS:
        if not only or name in only:
            results.append(fn(run))
    passed = sum(1 for r in results if r)
    print("%d passed, %d failed" % (passed, len(results) - passed), flush=True)
    sys.exit(0 if passed == len(results) else 1)


def s_chat_agent(run):
    def verify(vm, web, project):
        env = project.dotenv()
        serves_and_reboots(vm, web, project, ["ollama"], {"CHAT_API_KEY": ["proxy"]},
                           lambda: chat_agent(vm, web, project, env["CHAT_API_KEY"]))

    def again(vm, web, project, first):
        # `resume` of chat-agent (issue "Idle GPUs cost money"): a new Linode on
        # the kept volume pulls no image, and the model is there before its pull.
        kept_cache(vm, web, first, ["caddy:2.11.2", "ollama/ollama:0.13.4"])
        chat_agent(vm, web, project, project.dotenv()["CHAT_API_KEY"])
    return run.boot("chat-agent", "chat-agent", [], verify, again=again)


def s_chat_webui(run):
    def verify(vm, web, project):
        env = project.dotenv()
        serves_and_reboots(vm, web, project, ["ollama", "webui"],
                           {"WEBUI_ADMIN_PASSWORD": [], "WEBUI_SECRET_KEY": ["webui"]},
                           lambda: chat_webui(vm, web, project, env))
        # A resume over the kept volume re-runs the boot (issue "Idle GPUs cost
        # money"): with the admin password changed in .env since, it stops at
        # the admin step and says why, instead of a bare 403.
        envf = vm.path("/etc/build-ai.env")
        text = open(envf).read().replace(env["WEBUI_ADMIN_PASSWORD"], "a-changed-password-123")
        with open(envf, "w") as f:
            f.write(text)
        r = vm.inside(["bash", "/usr/local/bin/linode-ai-boot"], capture_output=True, text=True, timeout=600)
        check(r.returncode != 0, "the re-run boot fails with a changed password", vm)
        check("the password was changed after the first boot" in r.stderr, "and says why:\n" + r.stderr[-2000:], vm)
        check('FAILED at step "post-start of webui"' in r.stderr, "naming the step:\n" + r.stderr[-1000:], vm)

    def again(vm, web, project, first):
        # A new Linode on the kept cache volume: nothing downloads, the admin is there.
        kept_cache(vm, web, first, ["caddy:2.11.2", "ollama/ollama:0.13.4", "ghcr.io/open-webui/open-webui:v0.11.3"])
        check("admin exists" in vm.output, "the admin kept on the volume signs in", vm)
        chat_webui(vm, web, project, project.dotenv())
    return run.boot("chat-webui", "chat-webui", [], verify, again=again)


def s_llm_api(run):
    def verify(vm, web, project):
        env = project.dotenv()
        check(any(x.startswith("nvidia-ctk runtime configure") for x in vm.calls) and
              "systemctl reload docker" in vm.calls, "the toolkit registered its runtime and Docker reloaded", vm)
        serves_and_reboots(vm, web, project, ["vllm"], {"VLLM_API_KEY": ["proxy", "vllm"]},
                           lambda: llm_api(vm, web, project, env["VLLM_API_KEY"]))
    return run.boot("llm-api", "llm-api", [], verify)


def s_embeddings(run):
    def verify(vm, web, project):
        env = project.dotenv()
        serves_and_reboots(vm, web, project, ["tei"], {"API_KEY": ["proxy", "tei"]},
                           lambda: embeddings(vm, web, project, env["API_KEY"]))
    return run.boot("embeddings", "embeddings", [], verify)


# What Qdrant holds, read from inside the Open WebUI container (it has
# python3 and QDRANT_API_KEY; Qdrant's image has neither curl nor python).
sys.path.insert(0, os.path.join(REPO, "tests", "images"))
from contract_test import VM_CHECK  # noqa: E402

RAG_DOC = "# Guide\nThe secret word is pelican.\n\n## Install\nRun the installer.\nThen reboot.\n"


def rag(vm, web, project, env, uploaded):
    """A document uploaded through the site is embedded by TEI and stored in
    Qdrant (checked from what each service saw); after a reboot, Qdrant
    still holds it."""
    chat_webui(vm, web, project, env)
    if uploaded:
        r = vm.docker("exec", "webui", "python3", "-c", VM_CHECK)
        check(r.returncode == 0 and r.stdout.startswith("points 2 size 384") and uploaded[0] in r.stdout,
              "Qdrant kept the document: %r %r" % (r.stdout, r.stderr[-300:]), vm)
        return
    creds = json.dumps({"email": env.get("WEBUI_ADMIN_EMAIL", "admin@example.com"), "password": env["WEBUI_ADMIN_PASSWORD"]})
    code, _, body = web.req("/api/v1/auths/signin", method="POST", headers=["Content-Type: application/json"], data=creds)
    token = json.loads(body)["token"]
    auth = "Authorization: Bearer " + token
    doc = os.path.join(vm.dir, "notes.md")
    with open(doc, "w") as f:
        f.write(RAG_DOC)
    code, _, body = web.req("/api/v1/files/", method="POST", headers=[auth], form=["file=@%s;type=text/markdown" % doc])
    check(code == 200, "the upload is taken: %d %s" % (code, body[:300]), vm)
    fid = json.loads(body)["id"]

    def processed():
        c, _, b = web.req("/api/v1/files/" + fid, headers=[auth])
        st = json.loads(b).get("data", {}).get("status") if c == 200 else None
        return st if st in ("completed", "failed") else None
    status = wait_for("the upload's processing", processed, 120)
    check(status == "completed", "the document was processed: %s" % web.req("/api/v1/files/" + fid, headers=[auth])[2][:500], vm)
    r = vm.docker("exec", "webui", "python3", "-c", VM_CHECK)
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines and lines[0] == "points 2 size 384" and len(lines) == 3
          and all(l.startswith("file-%s notes.md BAAI/bge-small-en-v1.5 " % fid) for l in lines[1:]),
          "Qdrant holds the document's two chunks, embedded by bge-small (384): %r %r" % (r.stdout, r.stderr[-300:]), vm)
    tei = vm.docker("logs", "tei")
    check((tei.stdout + tei.stderr).count("Success") >= 2, "TEI embedded each chunk (its log)", vm)
    q = vm.docker("logs", "qdrant")
    check('"PUT /collections/open-webui_files/points?wait=false HTTP/1.1" 200' in q.stdout + q.stderr,
          "Qdrant stored the points (its log)", vm)
    for k in ("QDRANT_API_KEY", "EMBEDDINGS_API_KEY", "WEBUI_ADMIN_PASSWORD"):
        check(env[k] not in vm.output, "%s is in no boot log" % k, vm)
    uploaded.append(fid)


def s_rag(run):
    uploaded = []

    def verify(vm, web, project):
        env = project.dotenv()
        serves_and_reboots(vm, web, project, ["qdrant", "tei", "ollama", "webui"],
                           {"WEBUI_ADMIN_PASSWORD": [], "WEBUI_SECRET_KEY": ["webui"], "QDRANT_API_KEY": ["webui"],
                            "EMBEDDINGS_API_KEY": [], "HF_TOKEN": ["tei"]},
                           lambda: rag(vm, web, project, env, uploaded))

    def again(vm, web, project, first):
        # A resume: no pull, and the document uploaded before is still in Qdrant.
        kept_cache(vm, web, first, ["caddy:2.11.2", "qdrant/qdrant:v1.19.0",
                                    "ghcr.io/huggingface/text-embeddings-inference:cpu-1.9",
                                    "ollama/ollama:0.13.4", "ghcr.io/open-webui/open-webui:v0.11.3"])
        rag(vm, web, project, project.dotenv(), uploaded)
    return run.boot("rag", "rag", [], verify, again=again)


def variant(name, edit):
    """A copy of the stock chat-agent template under another name, edited
    (installed with `templates add`, as a template author would)."""
    d = os.path.join(tempfile.mkdtemp(prefix="tpl-"), name)
    os.makedirs(d)
    text = open(os.path.join(REPO, "templates", "chat-agent", "template.yml")).read()
    text = text.replace("name: chat-agent", "name: " + name, 1)
    with open(os.path.join(d, "template.yml"), "w") as f:
        f.write(edit(text))
    return d


def failed_boot(vm, web, project, step, words):
    check("status: done" not in vm.status, "cloud-init reports the failure", vm)
    check(vm.boot_json and vm.boot_json["state"] == "failed" and vm.boot_json["step"] == step,
          "boot.json names the step %r: %r" % (step, vm.boot_json), vm)
    check('FAILED at step "%s"' % step in vm.output, "the boot log names the step", vm)
    for w in words:
        check(w in vm.output, "the boot log says %r" % w, vm)
    check(web.req("/healthz/boot")[2].count('"failed"') == 1, "/healthz/boot says failed", vm)
    st = project.run("status", "-V", check=False, env={"LINODE_AI_PROBE_CA": web.root})
    check(st.returncode == 3 and step in st.stdout, "linode-ai status names the step (exit 3):\n%s%s" % (st.stdout, st.stderr), vm)


def s_restart_loop(run):
    # Ollama exits at once and Docker restarts it: the wait stops at once,
    # names the container's state and shows its last lines (not 300 s later).
    # The image is pinned by digest (pulled by it): the boot gets past the pull.
    link = os.path.join(run.images["registry_dir"], "docker/registry/v2/repositories/ollama/ollama/_manifests/tags/0.13.4/current/link")
    digest = open(link).read().strip()
    tpl = variant("chat-pinned", lambda t: t.replace("ollama/ollama:0.13.4", "ollama/ollama:0.13.4@" + digest))

    def verify(vm, web, project):
        failed_boot(vm, web, project, "wait for ollama", ["ollama is not running", "keeps restarting"])
        check(vm.seconds < 120, "the failure came before the 300 s health timeout (%.0fs)" % vm.seconds, vm)
        image = vm.docker("inspect", "-f", "{{.Config.Image}}", "ollama").stdout.strip()
        check(image == "ollama/ollama:0.13.4@" + digest, "the container runs the pinned digest: %s" % image, vm)
    return run.boot("restart-loop", tpl, ["OLLAMA_STANDIN_FAIL=exit"], verify, fails=True)


def s_health_timeout(run):
    tpl = variant("chat-slow", lambda t: t.replace("start_timeout_seconds: 300", "start_timeout_seconds: 8"))

    def verify(vm, web, project):
        failed_boot(vm, web, project, "wait for ollama", ["did not answer /api/version within 8s"])
    return run.boot("health-timeout", tpl, ["OLLAMA_STANDIN_FAIL=hang"], verify, fails=True)


def s_failed_pull(run):
    tpl = variant("chat-nopull", lambda t: t.replace("ollama/ollama:0.13.4", "ollama/ollama:0.0.0-missing"))

    def verify(vm, web, project):
        failed_boot(vm, web, project, "pull ollama/ollama:0.0.0-missing", ["could not pull ollama/ollama:0.0.0-missing (3 tries)"])
        pulls = vm.read("/var/log/linode-ai-pull.log") or ""
        check(pulls.count("pull of ollama/ollama:0.0.0-missing failed") == 3, "three tries, no more:\n" + pulls, vm)
    return run.boot("failed-pull", tpl, [], verify, fails=True)


SCENARIOS = [
    ("chat-agent", s_chat_agent),
    ("chat-webui", s_chat_webui),
    ("llm-api", s_llm_api),
    ("embeddings", s_embeddings),
    ("rag", s_rag),
    ("restart-loop", s_restart_loop),
    ("health-timeout", s_health_timeout),
    ("failed-pull", s_failed_pull),
]

if __name__ == "__main__":
    main()
