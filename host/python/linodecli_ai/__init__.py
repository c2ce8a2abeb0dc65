"""linode-cli plugin ``ai``: hands over to the ``linode-ai`` binary.

Register with ``linode-cli register-plugin linodecli_ai``, then run
``linode-cli ai templates list``, ``linode-cli ai deploy`` and so on.

The plugin is a thin shim (linode-cli's plugin contract: ``PLUGIN_NAME`` and
``call(args, context)``): it drops linode-cli's own global flags from the
arguments, passes the resolved token, the effective API URL and the active
linode-cli user through the environment, and replaces itself with
``linode-ai`` so its exit code, output and prompts are the user's.
"""

import os
import shutil
import sys
import sysconfig

PLUGIN_NAME = "ai"

# linode-cli global flags it leaves in the plugin's args: name -> takes a value.
_GLOBAL_FLAGS = {"--as-user": True, "--debug": False, "--suppress-warnings": False, "--no-defaults": False}


def strip_global_flags(args):
    """Returns ``args`` without linode-cli's global flags (and their values)."""
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name, eq, _ = arg.partition("=")
        if name in _GLOBAL_FLAGS:
            skip = _GLOBAL_FLAGS[name] and not eq
            continue
        out.append(arg)
    return out


def _config_value(config, key):
    try:
        value = config.get_value(key)
    except Exception:  # an unusual or missing config must not break the hand-over
        return None
    return value or None


def environment(context, base_env=None):
    """The environment ``linode-ai`` runs with: token, API URL, user."""
    env = dict(os.environ if base_env is None else base_env)
    config = getattr(getattr(context, "client", None), "config", None)
    if context.token:
        env["LINODE_CLI_TOKEN"] = context.token
    # context.client.base_url ignores the overrides: compute the effective URL parts.
    for key, var in (("api_host", "LINODE_CLI_API_HOST"), ("api_scheme", "LINODE_CLI_API_SCHEME"), ("api_version", "LINODE_CLI_API_VERSION")):
        if not env.get(var) and config is not None:
            value = _config_value(config, key)
            if value:
                env[var] = str(value)
    user = None
    if config is not None:
        user = getattr(config, "username", None)
        if not user:
            try:
                user = config.default_username()
            except Exception:
                user = None
    if user:
        # linode-ai reads this user's defaults (region, type, authorized_users).
        env["LINODE_AI_AS_USER"] = user
    return env


def find_binary():
    """The ``linode-ai`` executable: $LINODE_AI_BIN, this environment's scripts, then PATH."""
    explicit = os.environ.get("LINODE_AI_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    scripts = sysconfig.get_path("scripts")
    for candidate in (os.path.join(scripts, "linode-ai"), os.path.join(os.path.dirname(sys.executable), "linode-ai")):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("linode-ai")


def call(args, context):
    """linode-cli's entry point: replaces this process with ``linode-ai``."""
    binary = find_binary()
    if binary is None:
        sys.stderr.write(
            "error: the linode-ai binary was not found (looked at $LINODE_AI_BIN, "
            + sysconfig.get_path("scripts")
            + " and PATH).\nReinstall the plugin with 'pip install linodecli-ai' "
            "(or 'pipx inject linode-cli linodecli-ai'), or set LINODE_AI_BIN.\n"
        )
        sys.stderr.flush()
        os._exit(1)
    argv = ["linode-ai"] + strip_global_flags(list(args))
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(binary, argv, environment(context))
    except OSError as err:
        sys.stderr.write("error: cannot run %s: %s\n" % (binary, err.strerror))
        os._exit(1)
