"""The linode-cli plugin through the real linode-cli (from PyPI), against the
local Linode API stand-in. Run by tests/plugin-test.sh with the venv's python."""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "target", "debug", "linode-sim")
CLI = os.path.join(os.path.dirname(sys.executable), "linode-cli")


def run(args, env, expect=0):
    p = subprocess.run([CLI] + args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if p.returncode != expect:
        sys.exit("linode-cli %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (" ".join(args), p.returncode, expect, p.stdout, p.stderr))
    return p


def main():
    home = tempfile.mkdtemp(prefix="plugin-test-")
    ca = os.path.join(home, "probe-ca.pem")
    sim = subprocess.Popen([SIM, "--app", ca], stdout=subprocess.PIPE, text=True)
    try:
        api = sim.stdout.readline().strip()  # http://127.0.0.1:PORT/v4
        app_port = sim.stdout.readline().strip()  # the HTTPS stand-in for the proxy
        if not api.startswith("http://127.0.0.1:") or not app_port.isdigit():
            sys.exit("linode-sim did not start: %r %r" % (api, app_port))
        api_port = api.split(":")[2].split("/")[0]
        config = os.path.join(home, "linode-cli.ini")
        with open(config, "w") as f:
            # The default user's token is refused; "good" has the simulator's token.
            f.write(
                "[DEFAULT]\ndefault-user = bad\n\n"
                "[bad]\ntoken = wrong-token\napi_host = 127.0.0.1:%s\napi_scheme = http\n\n"
                "[good]\ntoken = test-token\napi_host = 127.0.0.1:%s\napi_scheme = http\nregion = us-ord\n" % (api_port, api_port)
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINODE_")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, "config"), XDG_DATA_HOME=os.path.join(home, "data"),
                   XDG_CACHE_HOME=os.path.join(home, "cache"), LINODE_CLI_CONFIG=config, NO_COLOR="1",
                   LINODE_AI_PROBE_CA=ca)

        run(["register-plugin", "linodecli_ai"], env)
        with open(config) as f:
            assert "plugin-name-ai = linodecli_ai" in f.read(), "registration recorded"

        out = run(["ai", "templates", "list"], env).stdout
        assert out.startswith("NAME") and "chat-agent" in out, out
        # linode-cli leaves its global flags in the plugin's args; linode-ai would
        # reject --debug and --suppress-warnings (exit 2) if they were passed on.
        out = run(["--debug", "--suppress-warnings", "ai", "templates", "list", "--json"], env).stdout
        assert json.loads(out)[0]["name"] == "chat-agent", out

        project = os.path.join(home, "proj")
        run(["ai", "init", "chat-agent", "--directory", project], env)
        # The default user's token is refused by the API: the plugin passed it on.
        err = run(["ai", "deploy", "--directory", project], env, expect=1).stderr
        assert "Invalid Token" in err and "Traceback" not in err, err
        # The stand-in keeps new instances provisioning until told otherwise: the
        # status check below sees a state the test chose, not one the clock reached.
        req = urllib.request.Request(api.rsplit("/v4", 1)[0] + "/__sim/config", method="POST",
                                     data=json.dumps({"provisioning_ms": 24 * 3600 * 1000}).encode())
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200, r.status
        # --as-user selects another user's token (and is not passed on as an argument).
        out = run(["--as-user", "good", "ai", "deploy", "--directory", project, "--port", app_port, "--json"], env).stdout
        dep = json.loads(out)["deployment"]
        assert dep["region"] == "us-ord" and dep["linode_id"], dep
        # Checked, not running yet: status exits 3 (linode-cli passes the code through).
        rows = json.loads(run(["--as-user", "good", "ai", "status", "--json"], env, expect=3).stdout)["rows"]
        assert len(rows) == 1 and rows[0]["status"] == "provisioning", rows
        # Exit codes come through: a usage error is 2.
        run(["ai", "deploy", "--no-such-flag"], env, expect=2)
        out = run(["--as-user", "good", "ai", "destroy", "--yes"], env).stdout
        assert "destroyed" in out, out
        with open(os.path.join(home, "config", "linode-ai", "ai-deployments.json")) as f:
            assert json.load(f)["deployments"] == []

        # A missing binary: a plain message, no traceback.
        missing = dict(env, LINODE_AI_BIN=os.path.join(home, "nowhere", "linode-ai"))
        err = run(["ai", "templates", "list"], missing, expect=1).stderr
        assert "linode-ai binary was not found" in err and "Traceback" not in err, err
        print("ok: linode-cli ai (plugin) register, templates list, deploy, status, destroy, --as-user, missing binary")
    finally:
        sim.kill()


if __name__ == "__main__":
    main()
