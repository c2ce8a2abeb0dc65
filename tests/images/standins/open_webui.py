#!/usr/bin/python3
"""Stand-in for ghcr.io/open-webui/open-webui:v0.11.3 (tests only).

Run by /app/backend/start.sh (the image's CMD is `bash start.sh`, WORKDIR
/app/backend) in place of `uvicorn open_webui.main:app`. Honours the parts of
Open WebUI the linode-ai templates rely on:
  GET /health -> {"status": true}; GET / -> the HTML page (sign-in form)
  POST /api/v1/auths/signup {name, email, password}: the first account becomes
    admin and sign-up closes behind it (persisted: ui.enable_signup=false);
    later sign-ups answer 403
  POST /api/v1/auths/signin {email, password}: 200 with a token, 400 on a
    wrong email or password, 429 after 15 tries in 3 minutes for one email
  GET /api/v1/auths/ (Bearer token or `token` cookie), GET /api/config,
  GET|POST /ollama/<path> proxied to $OLLAMA_BASE_URL for a signed-in user
  with VECTOR_DB=qdrant and RAG_EMBEDDING_ENGINE=openai (open_webui_rag.py):
    POST /api/v1/files/ (multipart `file`), GET /api/v1/files/{id},
    GET /api/v1/files/{id}/process/status[?stream=true],
    POST /api/v1/retrieval/query/collection -- embeddings through
    $RAG_OPENAI_API_BASE_URL/embeddings, vectors into Qdrant at $QDRANT_URI
Accounts live in $DATA_DIR/webui.db (SQLite; default /app/backend/data, the
image's volume), passwords as salted PBKDF2 hashes (the real one: bcrypt).
Every request is logged to stdout, as uvicorn's access log through loguru.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, "/usr/local/lib/linode-ai-standin")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402
import open_webui_rag as rag  # noqa: E402

VERSION = "0.11.3"
BACKEND_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.abspath(os.environ.get("DATA_DIR") or os.path.join(BACKEND_DIR, "data"))
DB_PATH = os.path.join(DATA_DIR, "webui.db")
LOCK = threading.Lock()

ACCESS_PROHIBITED = "You do not have permission to access this resource. Please contact your administrator for assistance."
INVALID_CRED = "The email or password provided is incorrect. Please check for typos and try logging in again."
EMAIL_TAKEN = "Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew."
INVALID_EMAIL_FORMAT = "The email format you entered is invalid. Please double-check and make sure you're using a valid email address (e.g., yourname@example.com)."
RATE_LIMIT_EXCEEDED = "API rate limit exceeded"
PASSWORD_TOO_LONG = "Uh-oh! The password you entered is too long. Please make sure your password is less than 72 bytes long."


def env_bool(name, default):
    return os.environ.get(name, default).lower() == "true"


WEBUI_AUTH = env_bool("WEBUI_AUTH", "True")
ENABLE_SIGNUP_ENV = False if not WEBUI_AUTH else env_bool("ENABLE_SIGNUP", "True")
ENABLE_LOGIN_FORM = env_bool("ENABLE_LOGIN_FORM", "True")
DEFAULT_USER_ROLE = os.environ.get("DEFAULT_USER_ROLE", "pending")
SECRET = os.environ.get("WEBUI_SECRET_KEY") or os.environ.get("WEBUI_JWT_SECRET_KEY") or "t0p-s3cr3t"
JWT_EXPIRES_IN = os.environ.get("JWT_EXPIRES_IN", "4w")


def log(message, name="open_webui.main", function="<module>", line=0, level="INFO"):
    t = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + ".%03d" % int((t % 1) * 1000)
    sys.stdout.write("%s | %-8s | %s:%s:%d - %s\n" % (stamp, level, name, function, line, message))
    sys.stdout.flush()


# -- storage --
def db():
    conn = sqlite3.connect(DB_PATH, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def init_db():
    os.makedirs(DATA_DIR, exist_ok=True)
    with db() as c:
        c.execute('CREATE TABLE IF NOT EXISTS "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, role TEXT,'
                  ' profile_image_url TEXT, created_at INTEGER, updated_at INTEGER, last_active_at INTEGER)')
        c.execute("CREATE TABLE IF NOT EXISTS auth (id TEXT PRIMARY KEY, email TEXT, password TEXT, active INTEGER)")
        c.execute("CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY, data TEXT, version INTEGER,"
                  " created_at INTEGER, updated_at INTEGER)")


# ENABLE_PERSISTENT_CONFIG=false (models/config.py Config.persistent_enabled_for): settings are
# never read from nor written to the database; an update (e.g. sign-up closing behind the first
# account) lives in memory only, so it is gone at the next start.
PERSISTENT_CONFIG = env_bool("ENABLE_PERSISTENT_CONFIG", "True")
MEMORY_CONFIG = {}


def config_get(key, default):
    if not PERSISTENT_CONFIG:
        return MEMORY_CONFIG.get(key, default)
    with db() as c:
        row = c.execute("SELECT data FROM config ORDER BY id DESC LIMIT 1").fetchone()
    data = json.loads(row["data"]) if row else {}
    node = data
    for k in key.split("."):
        if not isinstance(node, dict) or k not in node:
            return default
        node = node[k]
    return node


def config_set(key, value):
    if not PERSISTENT_CONFIG:
        MEMORY_CONFIG[key] = value
        return
    with db() as c:
        row = c.execute("SELECT id, data FROM config ORDER BY id DESC LIMIT 1").fetchone()
        data = json.loads(row["data"]) if row else {}
        node = data
        parts = key.split(".")
        for k in parts[:-1]:
            node = node.setdefault(k, {})
        node[parts[-1]] = value
        now = int(time.time())
        if row:
            c.execute("UPDATE config SET data=?, updated_at=? WHERE id=?", (json.dumps(data), now, row["id"]))
        else:
            c.execute("INSERT INTO config (data, version, created_at, updated_at) VALUES (?, 0, ?, ?)",
                      (json.dumps(data), now, now))


def enable_signup():
    return bool(config_get("ui.enable_signup", ENABLE_SIGNUP_ENV))


def num_users():
    with db() as c:
        return c.execute('SELECT COUNT(*) FROM "user"').fetchone()[0]


def user_by_email(email):
    with db() as c:
        return c.execute('SELECT * FROM "user" WHERE email=?', (email,)).fetchone()


def user_by_id(uid):
    with db() as c:
        return c.execute('SELECT * FROM "user" WHERE id=?', (uid,)).fetchone()


# -- passwords and tokens --
def hash_password(password):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100000)
    return "pbkdf2_sha256$100000$%s$%s" % (base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def verify_password(password, stored):
    try:
        algo, n, salt, digest = stored.split("$")
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(n))
        return algo == "pbkdf2_sha256" and hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, AttributeError):
        return False


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def expires_delta():
    m = re.match(r"^(-?\d+)(ms|s|m|h|d|w)$", JWT_EXPIRES_IN.strip())
    if not m or m.group(1).startswith("-"):
        return None
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]


def create_token(uid, expires_at):
    payload = {"id": uid, "jti": str(uuid.uuid4())}
    if expires_at:
        payload["exp"] = expires_at
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64url(hmac.new(SECRET.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest())
    return "%s.%s.%s" % (head, body, sig)


def decode_token(token):
    try:
        head, body, sig = token.split(".")
        want = b64url(hmac.new(SECRET.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, sig):
            return None
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if data.get("exp") and data["exp"] < time.time():
            return None
        return data
    except (ValueError, TypeError):
        return None


class RateLimiter:
    """signin_rate_limiter = RateLimiter(limit=5 * 3, window=60 * 3) in routers/auths.py."""

    def __init__(self, limit, window):
        self.limit, self.window, self.hits, self.lock = limit, window, {}, threading.Lock()

    def is_limited(self, key):
        now = time.time()
        with self.lock:
            hits = [t for t in self.hits.get(key, []) if t > now - self.window] + [now]
            self.hits[key] = hits
            return len(hits) > self.limit


SIGNIN_LIMITER = RateLimiter(15, 180)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<meta name="robots" content="noindex,nofollow" />
<title>Open WebUI</title>
</head>
<body>
<!-- linode-ai test stand-in for Open WebUI v0.11.3 (the real page is a Svelte app) -->
<main id="auth-page">
<h1>Sign in to Open WebUI</h1>
<form id="signin" action="/api/v1/auths/signin" method="post">
<label>Email <input type="email" name="email" autocomplete="email" required /></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required /></label>
<button type="submit">Sign in</button>
</form>
<p id="result" role="status"></p>
</main>
<script>
document.getElementById('signin').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const r = await fetch('/api/v1/auths/signin', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({email: f.get('email'), password: f.get('password')})});
  const j = await r.json();
  document.getElementById('result').textContent = r.ok ? 'Signed in as ' + j.name + ' (' + j.role + ')' : j.detail;
});
</script>
</body>
</html>
"""


class WebUIHandler(sc.Handler):
    health_paths = ("/health",)
    server_version = "uvicorn"
    data_dir = DATA_DIR

    def handle_any(self):
        self.maybe_hang()
        try:
            self.route()
        except BrokenPipeError:
            pass
        finally:
            # uvicorn's access log, routed through loguru (open_webui/utils/logger.py).
            log('%s:%d - "%s %s HTTP/%s" %d' % (self.client_address[0], self.client_address[1], self.command,
                                                  self.path, self.request_version.split("/")[-1],
                                                  getattr(self, "status", 0)),
                "uvicorn.protocols.http.httptools_impl", "send", 476)

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = do_OPTIONS = handle_any

    def cors_headers(self):
        origin = self.headers.get("Origin")
        allowed = [o for o in os.environ.get("CORS_ALLOW_ORIGIN", "*").split(";") if o]
        if origin and ("*" in allowed or origin in allowed):
            return [("Access-Control-Allow-Origin", origin if "*" not in allowed else "*"), ("Vary", "Origin")]
        return []

    def reply(self, code, obj, headers=()):
        self.send_json(code, obj, headers=list(headers) + self.cors_headers())

    def detail(self, code, msg):
        self.reply(code, {"detail": msg})

    def route(self):
        p, m = self.path_only(), self.command
        if m == "OPTIONS":
            return self.send(200, "OK", "text/plain", self.cors_headers())
        if p in ("/health", "/health/db", "/ready") and m in ("GET", "HEAD"):
            return self.reply(200, {"status": True})
        if p == "/api/config" and m == "GET":
            return self.app_config()
        if p == "/api/version" and m == "GET":
            return self.reply(200, {"version": VERSION})
        if p == "/api/v1/auths/signup" and m == "POST":
            return self.signup()
        if p == "/api/v1/auths/signin" and m == "POST":
            return self.signin()
        if p in ("/api/v1/auths/", "/api/v1/auths") and m == "GET":
            return self.session_user()
        if p == "/api/v1/auths/signout" and m in ("GET", "POST"):
            return self.reply(200, {"status": True}, [("Set-Cookie", 'token=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/')])
        if p.startswith("/ollama/"):
            return self.ollama_proxy(p[len("/ollama"):])
        if rag.route(self, p, m, lambda h: h.current_user()):
            return
        if p.startswith("/api/") or p.startswith("/ws/"):
            return self.detail(404 if m in ("GET", "HEAD") else 405 if p.startswith("/api/v1/auths/") else 404, "Not Found")
        if m not in ("GET", "HEAD"):
            return self.detail(405, "Method Not Allowed")
        if "." in p.rsplit("/", 1)[-1]:  # a static file the stand-in does not have
            return self.detail(404, "Not Found")
        # SPAStaticFiles: the app's index.html for every page route.
        self.send(200, PAGE, "text/html; charset=utf-8", self.cors_headers())

    def form(self, fields):
        raw = self.body()
        try:
            data = json.loads(raw) if raw.strip() else None
        except ValueError:
            return self.reply(422, {"detail": [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error",
                                                "input": {}, "ctx": {"error": "Expecting value"}}]})
        if not isinstance(data, dict):
            return self.reply(422, {"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required",
                                                "input": None}]})
        missing = [f for f in fields if not isinstance(data.get(f), str)]
        if missing:
            return self.reply(422, {"detail": [{"type": "missing", "loc": ["body", f], "msg": "Field required",
                                                "input": data} for f in missing]})
        return data

    def current_user(self):
        token = None
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if not token:
            for part in self.headers.get("Cookie", "").split(";"):
                k, _, v = part.strip().partition("=")
                if k == "token":
                    token = v
        data = decode_token(token) if token else None
        return user_by_id(data["id"]) if data and "id" in data else None

    def session_response(self, user):
        delta = expires_delta()
        expires_at = int(time.time() + delta) if delta else None
        token = create_token(user["id"], expires_at)
        cookie = "token=%s; HttpOnly; Path=/; SameSite=lax" % token
        if expires_at:
            cookie += "; Expires=" + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(expires_at))
        self.reply(200, {
            "token": token, "token_type": "Bearer", "expires_at": expires_at,
            "id": user["id"], "email": user["email"], "name": user["name"], "role": user["role"],
            "profile_image_url": "/api/v1/users/%s/profile/image" % user["id"],
            "permissions": {"chat": {"controls": True, "file_upload": True}, "features": {"web_search": True}},
        }, [("Set-Cookie", cookie)])

    def signup(self):
        data = self.form(("name", "email", "password"))
        if not isinstance(data, dict):
            return
        with LOCK:
            has_users = num_users() > 0
            if WEBUI_AUTH:
                if has_users and (not enable_signup() or not ENABLE_LOGIN_FORM):
                    return self.detail(403, ACCESS_PROHIBITED)
            elif has_users:
                return self.detail(403, ACCESS_PROHIBITED)
            email = data["email"].lower()
            if not (email.endswith("@localhost") or re.match(r"[^@]+@[^@]+\.[^@]+", email)):
                return self.detail(400, INVALID_EMAIL_FORMAT)
            if user_by_email(email):
                return self.detail(400, EMAIL_TAKEN)
            if len(data["password"].encode()) > 72:
                return self.detail(400, PASSWORD_TOO_LONG)
            uid, now = str(uuid.uuid4()), int(time.time())
            with db() as c:
                c.execute("INSERT INTO auth (id, email, password, active) VALUES (?, ?, ?, 1)",
                          (uid, email, hash_password(data["password"])))
                c.execute('INSERT INTO "user" (id, name, email, role, profile_image_url, created_at, updated_at,'
                          ' last_active_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                          (uid, data["name"], email, DEFAULT_USER_ROLE, data.get("profile_image_url") or "/user.png",
                           now, now, now))
            if num_users() == 1:  # the first account: admin, and sign-up closes behind it
                with db() as c:
                    c.execute('UPDATE "user" SET role=? WHERE id=?', ("admin", uid))
                config_set("ui.enable_signup", False)
                log("first user %s is the admin; sign-up is now disabled" % email, "open_webui.routers.auths",
                    "signup_handler", 875)
        self.session_response(user_by_id(uid))

    def signin(self):
        data = self.form(("email", "password"))
        if not isinstance(data, dict):
            return
        email = data["email"].lower()
        if SIGNIN_LIMITER.is_limited(email):
            return self.detail(429, RATE_LIMIT_EXCEEDED)
        user = user_by_email(email)
        with db() as c:
            auth = c.execute("SELECT * FROM auth WHERE email=? AND active=1", (email,)).fetchone()
        if user and auth and verify_password(data["password"], auth["password"]):
            with db() as c:
                c.execute('UPDATE "user" SET last_active_at=? WHERE id=?', (int(time.time()), user["id"]))
            return self.session_response(user)
        self.detail(400, INVALID_CRED)

    def session_user(self):
        user = self.current_user()
        if not user:
            return self.detail(401, "Not authenticated")
        self.reply(200, {"id": user["id"], "email": user["email"], "name": user["name"], "role": user["role"],
                         "profile_image_url": user["profile_image_url"], "token_type": "Bearer"})

    def app_config(self):
        user = self.current_user()
        self.reply(200, {
            "status": True, "name": os.environ.get("WEBUI_NAME", "Open WebUI"), "version": VERSION,
            "default_locale": "", "oauth": {"providers": {}},
            "features": {"auth": WEBUI_AUTH, "auth_trusted_header": False, "enable_signup": enable_signup(),
                         "enable_login_form": ENABLE_LOGIN_FORM, "enable_api_keys": False, "enable_ldap": False},
            "onboarding": user is None and num_users() == 0,
        })

    def ollama_proxy(self, path):
        user = self.current_user()
        if not user or user["role"] not in ("admin", "user"):
            return self.detail(401, "401 Unauthorized")
        if os.environ.get("ENABLE_OLLAMA_API", "True").lower() != "true":
            return self.detail(503, "Ollama API is disabled")
        base = os.environ.get("OLLAMA_BASE_URL", "/ollama").rstrip("/")
        body = self.body() if self.command in ("POST", "PUT", "DELETE") else None
        req = urllib.request.Request(base + path, data=body, method=self.command,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                self.send(r.status, r.read(), r.headers.get("Content-Type"))
        except urllib.error.HTTPError as e:
            self.send(e.code, e.read(), e.headers.get("Content-Type"))
        except (OSError, ValueError) as e:
            self.detail(500, "Open WebUI: Server Connection Error (%s)" % e)


def main(argv):
    host, port = "0.0.0.0", int(os.environ.get("PORT", "8080"))
    for i, a in enumerate(argv):
        if a == "--host":
            host = argv[i + 1]
        elif a == "--port":
            port = int(argv[i + 1])
    mode = sc.fail_mode(DATA_DIR)
    sc.exit_on_sigterm()
    init_db()
    rag.init(log, config_get, config_set, db)
    WebUIHandler.hang = mode == "hang"
    print("\n ██████╗ ██████╗ ███████╗███╗   ██╗    ██╗    ██╗███████╗██████╗ ██╗   ██╗██╗\n"
          "  (linode-ai test stand-in)\n\nv%s - building the best AI user interface.\n"
          "https://github.com/open-webui/open-webui\n" % VERSION)
    log("Started server process [%d]" % os.getpid(), "uvicorn.server", "_serve", 84)
    log("Waiting for application startup.", "uvicorn.lifespan.on", "startup", 48)
    log("Application startup complete.", "uvicorn.lifespan.on", "startup", 62)
    log("Uvicorn running on http://%s:%d (Press CTRL+C to quit)" % (host, port), "uvicorn.server", "_log_started_message", 216)
    sc.Server(host, port, WebUIHandler).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
