#!/usr/bin/python3
"""Stand-in for qdrant/qdrant:v1.19.0 (tests only, never deployed).

/qdrant/qdrant, run by /qdrant/entrypoint.sh (the image's CMD; WORKDIR /qdrant).
It honours the REST API (port 6333) as far as Open WebUI's qdrant-client 1.18
uses it, and Qdrant's own rules around it (tests/images/CONTRACTS.md):
  GET /                      {"title": "qdrant - vector search engine", "version", "commit"}; no key
  GET /healthz, /livez       "healthz check passed"; GET /readyz "all shards are ready"; no key
  GET /collections, GET|PUT|DELETE /collections/{name}, GET /collections/{name}/exists
  PUT /collections/{name}/index, DELETE /collections/{name}/index/{field}
  PUT /collections/{name}/points (upsert; vector size checked: 400), POST .../points (retrieve),
  GET .../points/{id}, POST .../points/{scroll,count,query,search,delete}
Configuration: the environment, as Qdrant's `config` crate reads it (prefix
QDRANT, separator "__"): QDRANT__SERVICE__API_KEY (+ ALT_API_KEY,
READ_ONLY_API_KEY), QDRANT__SERVICE__HTTP_PORT, QDRANT__SERVICE__HOST,
QDRANT__STORAGE__STORAGE_PATH (default ./storage), QDRANT__TELEMETRY_DISABLED,
QDRANT__LOG_LEVEL; the --disable-telemetry flag. YAML config files are not read.
With a key set, every path except "/", "/healthz", "/readyz*", "/livez*" and
"/dashboard*" needs `api-key: KEY` (or `Authorization: Bearer KEY`): none ->
401 "Must provide an API key or an Authorization bearer token", wrong -> 401
"Invalid API key or JWT" (text/plain); the read-only key gets 403 on writes.
Collections and points are kept in STORAGE/collections/<name>/standin.json, so
the volume keeps them across a restart. Every request is logged to stdout like
actix's Logger (which skips /, /healthz, /readyz, /livez, /metrics, /telemetry).
No gRPC (port 6334 is not served).
"""
import hmac
import json
import math
import os
import re
import sys
import threading
import time
import uuid

sys.path.insert(0, "/usr/local/lib/linode-ai-standin")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

VERSION = "1.19.0"
COMMIT = "74f3e85b9473c62560006c043e13737ce6b48412"  # tag v1.19.0
DISTANCES = ("Cosine", "Euclid", "Dot", "Manhattan")
FIELD_TYPES = ("keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid")
LOCK = threading.RLock()


def env_bool(name, default=False):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    return v.strip().lower() in ("true", "1", "yes", "on")


class Settings:
    host = os.environ.get("QDRANT__SERVICE__HOST", "0.0.0.0")
    port = int(os.environ.get("QDRANT__SERVICE__HTTP_PORT", "6333"))
    storage = os.environ.get("QDRANT__STORAGE__STORAGE_PATH", "./storage")
    api_keys = [k for k in (os.environ.get("QDRANT__SERVICE__API_KEY"),
                            os.environ.get("QDRANT__SERVICE__ALT_API_KEY")) if k]
    read_only_key = os.environ.get("QDRANT__SERVICE__READ_ONLY_API_KEY") or None
    telemetry_disabled = env_bool("QDRANT__TELEMETRY_DISABLED")
    log_level = os.environ.get("QDRANT__LOG_LEVEL", "INFO").upper()


LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4}


def log(level, target, msg):
    if LEVELS.get(level, 2) < LEVELS.get(Settings.log_level, 2):
        return
    t = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)
    sys.stdout.write("%s %5s %s: %s\n" % (stamp, level, target, msg))
    sys.stdout.flush()


class ApiError(Exception):
    """A StorageError as process_response_error answers it."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def bad_input(msg):
    return ApiError(400, "Wrong input: " + msg)


def not_found_collection(name):
    return ApiError(404, "Not found: Collection `%s` doesn't exist!" % name)


def format_error(msg):
    return ApiError(400, "Format error in JSON body: " + msg)


# -- point ids, vectors, payloads --
def point_id(v):
    if isinstance(v, bool):
        raise format_error("value %s is not a valid point ID, valid values are either an unsigned integer or a UUID"
                           % json.dumps(v))
    if isinstance(v, int) and v >= 0:
        return v
    if isinstance(v, str):
        try:
            return str(uuid.UUID(v))
        except ValueError:
            pass
    raise format_error("value %s is not a valid point ID, valid values are either an unsigned integer or a UUID"
                       % json.dumps(v))


def id_key(pid):
    """Qdrant orders numeric ids before UUIDs, UUIDs by their 128-bit value."""
    return (0, pid, 0) if isinstance(pid, int) else (1, 0, uuid.UUID(pid).int)


def stored_key(pid):
    return ("n:%d" % pid) if isinstance(pid, int) else ("u:" + pid)


def normalized(vec):
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


def get_path(payload, path):
    """Values at a dotted payload path (arrays flatten, as Qdrant's key paths do)."""
    nodes = [payload]
    for part in path.split("."):
        arr = part.endswith("[]")
        part = part[:-2] if arr else part
        nxt = []
        for n in nodes:
            if isinstance(n, dict) and part in n:
                nxt.append(n[part])
        nodes = []
        for n in nxt:
            if isinstance(n, list):
                nodes.extend(n)
            else:
                nodes.append(n)
    return nodes


def match_condition(point, cond):
    if not isinstance(cond, dict):
        raise format_error("data did not match any variant of untagged enum Condition")
    if any(k in cond for k in ("must", "should", "must_not", "min_should")):
        return match_filter(point, cond)
    if "has_id" in cond:
        return point["id"] in {point_id(i) for i in cond["has_id"]}
    if "is_empty" in cond:
        vals = get_path(point.get("payload") or {}, cond["is_empty"]["key"])
        return not [v for v in vals if v is not None]
    if "is_null" in cond:
        vals = get_path(point.get("payload") or {}, cond["is_null"]["key"])
        return any(v is None for v in vals)
    if "nested" in cond:
        n = cond["nested"]
        return any(match_filter({"id": point["id"], "payload": item}, n.get("filter") or {})
                   for item in get_path(point.get("payload") or {}, n["key"]) if isinstance(item, dict))
    key = cond.get("key")
    if not isinstance(key, str):
        raise format_error("data did not match any variant of untagged enum Condition")
    vals = get_path(point.get("payload") or {}, key)
    if "match" in cond:
        m = cond["match"]
        if "value" in m:
            return any(v == m["value"] and type(v) is type(m["value"]) for v in vals)
        if "any" in m:
            return any(v in m["any"] for v in vals)
        if "except" in m:
            return any(v not in m["except"] for v in vals)
        if "text" in m:
            return any(isinstance(v, str) and m["text"] in v for v in vals)
        raise format_error("data did not match any variant of untagged enum Match")
    if "range" in cond:
        r = cond["range"]
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        ops = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
               "lte": lambda a, b: a <= b}
        return any(all(ops[k](v, b) for k, b in r.items() if b is not None and k in ops) for v in nums)
    if "values_count" in cond:
        return False
    raise format_error("data did not match any variant of untagged enum Condition")


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def match_filter(point, flt):
    if not flt:
        return True
    if not isinstance(flt, dict):
        raise format_error("invalid type: expected struct Filter")
    must, should, must_not = as_list(flt.get("must")), as_list(flt.get("should")), as_list(flt.get("must_not"))
    if not all(match_condition(point, c) for c in must):
        return False
    if should and not any(match_condition(point, c) for c in should):
        return False
    return not any(match_condition(point, c) for c in must_not)


def select_payload(payload, with_payload):
    if with_payload is True:
        return payload
    if with_payload in (False, None):
        return None
    if isinstance(with_payload, list):
        return {k: v for k, v in (payload or {}).items() if k in with_payload}
    if isinstance(with_payload, dict):
        if "include" in with_payload:
            return {k: v for k, v in (payload or {}).items() if k in with_payload["include"]}
        if "exclude" in with_payload:
            return {k: v for k, v in (payload or {}).items() if k not in with_payload["exclude"]}
    return payload


# -- collections --
class Collection:
    def __init__(self, name, data):
        self.name = name
        self.config = data["config"]
        self.payload_schema = data.get("payload_schema", {})
        self.points = data.get("points", {})
        self.op = data.get("op", 0)

    @property
    def dir(self):
        return os.path.join(Settings.storage, "collections", self.name)

    def save(self):
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, "standin.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"config": self.config, "payload_schema": self.payload_schema, "points": self.points,
                       "op": self.op}, f)
        os.replace(path + ".tmp", path)

    def vectors(self):
        return self.config["params"]["vectors"]

    def next_op(self):
        self.op += 1
        return self.op

    def sorted_points(self):
        return sorted(self.points.values(), key=lambda p: id_key(p["id"]))

    def info(self):
        n = len(self.points)
        schema = {}
        for field, idx in self.payload_schema.items():
            entry = {"data_type": idx["data_type"]}
            if idx.get("params"):
                entry["params"] = idx["params"]
            entry["points"] = sum(1 for p in self.points.values() if get_path(p.get("payload") or {}, field))
            schema[field] = entry
        return {"status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0, "points_count": n,
                "segments_count": 2 if n else 0, "config": self.config, "payload_schema": schema,
                "update_queue": {"length": 0}}


class Store:
    collections = {}

    @classmethod
    def load(cls):
        root = os.path.join(Settings.storage, "collections")
        os.makedirs(root, exist_ok=True)
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name, "standin.json")
            try:
                with open(path) as f:
                    cls.collections[name] = Collection(name, json.load(f))
                log("INFO", "collection::collection", "Loading collection: %s" % name)
            except (OSError, ValueError) as e:
                log("WARN", "storage::content_manager::toc", "Skipping %s: %s" % (path, e))

    @classmethod
    def get(cls, name):
        c = cls.collections.get(name)
        if c is None:
            raise not_found_collection(name)
        return c


def vector_params(v, where="vectors"):
    if not isinstance(v, dict) or "size" not in v or "distance" not in v:
        raise format_error("missing field `size` or `distance` in `%s`" % where)
    size = v["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise format_error("invalid value: %s, expected u64" % json.dumps(size))
    if size < 1 or size > 65536:
        raise ApiError(422, "Validation error in JSON body: [%s.size: value %d invalid, must be from 1 to 65536]"
                       % (where, size))
    if v["distance"] not in DISTANCES:
        raise format_error("unknown variant `%s`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`"
                           % v["distance"])
    out = {"size": size, "distance": v["distance"]}
    for k in ("on_disk", "hnsw_config", "quantization_config", "multivector_config", "datatype"):
        if v.get(k) is not None:
            out[k] = v[k]
    return out


def create_collection(name, body):
    if not re.match(r"^[^/\\:*?\"<>|\x00]{1,255}$", name) or name in (".", ".."):
        raise ApiError(422, "Validation error in path parameters: [name: collection name contains illegal characters]")
    if name in Store.collections:
        raise ApiError(409, "Wrong input: Collection `%s` already exists!" % name)  # AlreadyExists: CONFLICT
    body = body or {}
    vectors = body.get("vectors", {})
    if isinstance(vectors, dict) and "size" in vectors:
        vectors = vector_params(vectors)
    elif isinstance(vectors, dict):
        vectors = {k: vector_params(v, "vectors.%s" % k) for k, v in vectors.items()}
    else:
        raise format_error("invalid type for `vectors`")
    hnsw = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0,
            "on_disk": False}
    hnsw.update({k: v for k, v in (body.get("hnsw_config") or {}).items() if v is not None})
    config = {
        "params": {"vectors": vectors, "shard_number": body.get("shard_number") or 1,
                   "replication_factor": body.get("replication_factor") or 1,
                   "write_consistency_factor": body.get("write_consistency_factor") or 1,
                   "on_disk_payload": body.get("on_disk_payload", True)},
        "hnsw_config": hnsw,
        "optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0,
                             "max_segment_size": None, "memmap_threshold": None, "indexing_threshold": 10000,
                             "flush_interval_sec": 5, "max_optimization_threads": None},
        "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1},
        "quantization_config": body.get("quantization_config"),
        "strict_mode_config": {"enabled": False},
    }
    c = Collection(name, {"config": config})
    c.save()
    Store.collections[name] = c
    log("INFO", "storage::content_manager::toc::create_collection", "Creating collection %s" % name)
    return True


def check_vector(c, vec):
    params = c.vectors()
    if isinstance(vec, list):
        if "size" not in params:
            raise bad_input("Not existing vector name error: ")
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vec):
            raise format_error("data did not match any variant of untagged enum VectorStruct")
        if len(vec) != params["size"]:
            raise bad_input("Vector dimension error: expected dim: %d, got %d" % (params["size"], len(vec)))
        return normalized(vec) if params["distance"] == "Cosine" else list(vec)
    if isinstance(vec, dict):
        if "size" in params and vec:
            raise bad_input("Not existing vector name error: %s" % next(iter(vec)))
        out = {}
        for name, v in vec.items():
            p = params.get(name)
            if p is None:
                raise bad_input("Not existing vector name error: %s" % name)
            if len(v) != p["size"]:
                raise bad_input("Vector dimension error: expected dim: %d, got %d for vector '%s'"
                                % (p["size"], len(v), name))
            out[name] = normalized(v) if p["distance"] == "Cosine" else list(v)
        return out
    raise format_error("data did not match any variant of untagged enum VectorStruct")


def upsert(c, body):
    if not isinstance(body, dict):
        raise format_error("data did not match any variant of untagged enum PointInsertOperations")
    if "points" in body:
        raw = body["points"]
        if not isinstance(raw, list):
            raise format_error("invalid type: expected a sequence")
        points = [(point_id(p.get("id")), p.get("vector"), p.get("payload")) for p in raw]
    elif "batch" in body:
        b = body["batch"]
        ids = b.get("ids") or []
        vecs = b.get("vectors") or []
        pays = b.get("payloads") or [None] * len(ids)
        points = [(point_id(i), v, p) for i, v, p in zip(ids, vecs, pays)]
    else:
        raise format_error("data did not match any variant of untagged enum PointInsertOperations")
    # validate_vector_dimensions: checked before the WAL, so also for wait=false
    checked = [(pid, check_vector(c, vec), payload) for pid, vec, payload in points]
    op = c.next_op()
    for pid, vec, payload in checked:
        if payload is not None and not isinstance(payload, dict):
            raise format_error("invalid type: expected a map for `payload`")
        c.points[stored_key(pid)] = {"id": pid, "vector": vec, "payload": payload or {}, "version": op}
    c.save()
    return op


def score(c, vec, stored):
    params = c.vectors()
    dist = params.get("distance")
    if isinstance(stored, dict) or dist is None:
        return 0.0
    if dist == "Cosine":
        q = normalized(vec)
        return sum(a * b for a, b in zip(q, stored))
    if dist == "Dot":
        return sum(a * b for a, b in zip(vec, stored))
    if dist == "Euclid":
        return math.sqrt(sum((a - b) ** 2 for a, b in zip(vec, stored)))
    return sum(abs(a - b) for a, b in zip(vec, stored))


def record(p, with_payload, with_vector, scored=None):
    out = {"id": p["id"]}
    if scored is not None:
        out["version"] = p.get("version", 0)
        out["score"] = scored
    payload = select_payload(p.get("payload"), with_payload)
    if payload is not None:
        out["payload"] = payload
    if with_vector:
        out["vector"] = p["vector"]
    return out


def search(c, vec, flt, limit, offset, with_payload, with_vector, threshold=None):
    params = c.vectors()
    if "size" not in params:
        raise bad_input("Not existing vector name error: ")
    if not isinstance(vec, list) or len(vec) != params["size"]:
        raise bad_input("Vector dimension error: expected dim: %d, got %d"
                        % (params["size"], len(vec) if isinstance(vec, list) else 0))
    asc = params["distance"] in ("Euclid", "Manhattan")
    hits = [(score(c, vec, p["vector"]), p) for p in c.points.values() if match_filter(p, flt)]
    if threshold is not None:
        hits = [h for h in hits if (h[0] <= threshold if asc else h[0] >= threshold)]
    hits.sort(key=lambda h: (h[0] if asc else -h[0], id_key(h[1]["id"])))
    hits = hits[offset:offset + limit]
    return [record(p, with_payload, with_vector, round(s, 6)) for s, p in hits]


# -- HTTP --
# src/actix/mod.rs: WhitelistItem::exact("/"), exact("/healthz"), prefix("/readyz"), prefix("/livez"),
# and prefix("/dashboard") when the web UI's static folder exists (it does in the image).
WHITELIST_ROUTES = ("/", "/healthz", "/readyz", "/livez")
READ_ONLY_POSTS = ("scroll", "count", "query", "search", "recommend", "discover", "facet", "")


class QdrantHandler(sc.Handler):
    health_paths = ("/healthz", "/livez", "/readyz")
    server_version = ""

    def version_string(self):
        return ""

    def handle_any(self):
        self.maybe_hang()
        self.t0 = time.time()
        self.sent_bytes = 0
        try:
            self.route()
        except BrokenPipeError:
            pass
        finally:
            p = self.normalized_path()
            if p not in ("/", "/metrics", "/telemetry", "/healthz", "/readyz", "/livez"):
                log("INFO", "actix_web::middleware::logger", '%s "%s %s %s" %d %d "%s" "%s" %.6f' % (
                    self.client_address[0], self.command, self.path, self.request_version,
                    getattr(self, "status", 0), self.sent_bytes, self.headers.get("Referer", "-"),
                    self.headers.get("User-Agent", "-"), time.time() - self.t0))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

    def normalized_path(self):
        p = re.sub(r"/+", "/", self.path_only())
        return p.rstrip("/") or "/"

    def send(self, code, body=b"", content_type=None, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.sent_bytes = len(body)
        super().send(code, body, content_type, headers)

    def ok(self, result):
        self.send_json(200, {"result": result, "status": "ok", "time": round(time.time() - self.t0, 9)})

    def error(self, e):
        self.send_json(e.code, {"status": {"error": e.message}, "time": round(time.time() - self.t0, 9)})

    # -- auth: AuthKeys::validate_request --
    def access(self):
        """'rw', 'ro', or None after answering 401."""
        if not Settings.api_keys and not Settings.read_only_key:
            return "rw"
        key = self.headers.get("api-key")
        if key is None:
            auth = self.headers.get("Authorization")
            if auth is not None and auth.startswith("Bearer "):
                key = auth[len("Bearer "):]
        if key is None:
            self.send(401, "Must provide an API key or an Authorization bearer token", "text/plain; charset=utf-8")
            return None
        if any(hmac.compare_digest(key.encode(), k.encode()) for k in Settings.api_keys):
            return "rw"
        if Settings.read_only_key and hmac.compare_digest(key.encode(), Settings.read_only_key.encode()):
            return "ro"
        self.send(401, "Invalid API key or JWT", "text/plain; charset=utf-8")
        return None

    def whitelisted(self, p):
        """AuthMiddleware::is_path_whitelisted: the whitelist is checked against the pattern of the route
        actix matched, so a path no route matches (e.g. /readyz/x) is not whitelisted."""
        return p in WHITELIST_ROUTES or p == "/dashboard" or p.startswith("/dashboard/")

    def body_json(self):
        raw = self.body()
        if not raw.strip():
            raise format_error("EOF while parsing a value at line 1 column 0")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise format_error(str(e))

    def wait(self):
        return self.query().get("wait", "false") == "true"

    def route(self):
        p, m = self.normalized_path(), self.command
        if m == "OPTIONS":  # actix-cors (enable_cors: true) answers preflights before auth
            return self.send(200, b"", None, [("Access-Control-Allow-Origin", self.headers.get("Origin", "*")),
                                              ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, PATCH"),
                                              ("Access-Control-Allow-Headers", "*")])
        if not self.whitelisted(p):
            mode = self.access()
            if mode is None:
                return
        else:
            mode = "rw"
        try:
            self.body()
            with LOCK:
                self.dispatch(p, m, mode)
        except ApiError as e:
            self.error(e)

    def dispatch(self, p, m, mode):
        if p == "/" and m in ("GET", "HEAD"):
            return self.send_json(200, {"title": "qdrant - vector search engine", "version": VERSION,
                                        "commit": COMMIT})
        if p in ("/healthz", "/livez") and m == "GET":
            return self.send(200, "healthz check passed", "text/plain")
        if p == "/readyz" and m == "GET":
            return self.send(200, "all shards are ready", "text/plain")
        if p.startswith("/dashboard") and m == "GET":
            return self.send(200, "<!doctype html><title>Qdrant Web UI (stand-in)</title>", "text/html")
        if p == "/metrics" and m == "GET":
            n = sum(len(c.points) for c in Store.collections.values())
            return self.send(200, "# HELP collections_total number of collections\n# TYPE collections_total gauge\n"
                             "collections_total %d\ncollections_vector_total %d\n" % (len(Store.collections), n),
                             "text/plain; version=0.0.4")
        if p == "/telemetry" and m == "GET":
            return self.ok({"id": INSTANCE_ID, "app": {"name": "qdrant", "version": VERSION},
                            "collections": {"number_of_collections": len(Store.collections)}})
        if p == "/collections" and m == "GET":
            return self.ok({"collections": [{"name": n} for n in sorted(Store.collections)]})
        parts = p.split("/")[1:]
        if len(parts) < 2 or parts[0] != "collections":
            return self.send(404)
        name, rest = parts[1], parts[2:]
        write = m in ("PUT", "DELETE", "PATCH") or (m == "POST" and rest[-1:] and rest[-1] not in READ_ONLY_POSTS
                                                    and not (len(rest) == 1 and rest[0] == "points"))
        if write and mode == "ro":
            raise ApiError(403, "Forbidden: Global manage access is required")
        if not rest:
            if m == "GET":
                return self.ok(Store.get(name).info())
            if m == "PUT":
                return self.ok(create_collection(name, self.body_json()))
            if m == "DELETE":
                c = Store.collections.pop(name, None)
                if c:
                    import shutil

                    shutil.rmtree(c.dir, ignore_errors=True)
                return self.ok(c is not None)
            if m == "PATCH":
                Store.get(name)
                return self.ok(True)
            return self.send(404)
        if rest == ["exists"] and m == "GET":
            return self.ok({"exists": name in Store.collections})
        if rest == ["index"] and m == "PUT":
            return self.create_index(Store.get(name), self.body_json())
        if len(rest) == 2 and rest[0] == "index" and m == "DELETE":
            c = Store.get(name)
            c.payload_schema.pop(rest[1], None)
            op = c.next_op()
            c.save()
            return self.ok({"operation_id": op, "status": "completed" if self.wait() else "acknowledged"})
        if rest[0] != "points":
            return self.send(404)
        c = Store.get(name)
        if rest == ["points"] and m == "PUT":
            op = upsert(c, self.body_json())
            return self.ok({"operation_id": op, "status": "completed" if self.wait() else "acknowledged"})
        if rest == ["points"] and m == "POST":
            body = self.body_json()
            ids = [point_id(i) for i in body.get("ids") or []]
            found = [c.points[stored_key(i)] for i in ids if stored_key(i) in c.points]
            return self.ok([record(pt, body.get("with_payload", True), body.get("with_vector", False))
                            for pt in found])
        if len(rest) == 2 and m == "GET":
            pid = point_id(int(rest[1]) if rest[1].isdigit() else rest[1])
            pt = c.points.get(stored_key(pid))
            if not pt:
                raise ApiError(404, "Not found: No point with id %s found" % pid)
            return self.ok(record(pt, True, True))
        if len(rest) != 2 or m != "POST":
            return self.send(404)
        body = self.body_json() if self.body().strip() else {}
        if not isinstance(body, dict):
            raise format_error("invalid type: expected a map")
        what = rest[1]
        if what == "scroll":
            return self.scroll(c, body)
        if what == "count":
            return self.ok({"count": sum(1 for pt in c.points.values() if match_filter(pt, body.get("filter")))})
        if what == "query":
            return self.query_points(c, body)
        if what == "search":
            return self.ok(search(c, body.get("vector"), body.get("filter"), body.get("limit", 10),
                                  body.get("offset") or 0, body.get("with_payload", False),
                                  body.get("with_vector", False), body.get("score_threshold")))
        if what == "delete":
            return self.delete_points(c, body)
        if what == "payload":
            return self.set_payload(c, body)
        return self.send(404)

    def create_index(self, c, body):
        field = body.get("field_name")
        if not isinstance(field, str) or not field:
            raise format_error("missing field `field_name`")
        schema = body.get("field_schema")
        if isinstance(schema, str):
            data_type, params = schema, None
        elif isinstance(schema, dict) and schema.get("type") in FIELD_TYPES:
            data_type, params = schema["type"], schema
        elif schema is None:
            raise bad_input("Can't auto-detect field type, please specify `field_schema` in the request")
        else:
            raise format_error("data did not match any variant of untagged enum PayloadFieldSchema")
        if data_type not in FIELD_TYPES:
            raise format_error("unknown variant `%s`" % data_type)
        c.payload_schema[field] = {"data_type": data_type, "params": params}
        op = c.next_op()
        c.save()
        return self.ok({"operation_id": op, "status": "completed" if self.wait() else "acknowledged"})

    def scroll(self, c, body):
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or limit < 1:
            raise ApiError(422, "Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]")
        pts = [pt for pt in c.sorted_points() if match_filter(pt, body.get("filter"))]
        if body.get("offset") is not None:
            start = id_key(point_id(body["offset"]))
            pts = [pt for pt in pts if id_key(pt["id"]) >= start]
        page, nxt = pts[:limit], (pts[limit]["id"] if len(pts) > limit else None)
        return self.ok({"points": [record(pt, body.get("with_payload", True), body.get("with_vector", False))
                                   for pt in page], "next_page_offset": nxt})

    def query_points(self, c, body):
        q = body.get("query")
        if isinstance(q, dict) and "nearest" in q:
            q = q["nearest"]
        limit = body.get("limit", 10)
        offset = body.get("offset") or 0
        if q is None:
            pts = [pt for pt in c.sorted_points() if match_filter(pt, body.get("filter"))][offset:offset + limit]
            return self.ok({"points": [record(pt, body.get("with_payload", False), body.get("with_vector", False), 0.0)
                                       for pt in pts]})
        if isinstance(q, (str, int)) and not isinstance(q, bool):
            pt = c.points.get(stored_key(point_id(q)))
            if not pt:
                raise ApiError(404, "Not found: No point with id %s found" % q)
            q = pt["vector"]
        return self.ok({"points": search(c, q, body.get("filter"), limit, offset, body.get("with_payload", False),
                                         body.get("with_vector", False), body.get("score_threshold"))})

    def delete_points(self, c, body):
        if "points" in body:
            keys = [stored_key(point_id(i)) for i in body["points"]]
        elif "filter" in body:
            keys = [k for k, pt in c.points.items() if match_filter(pt, body["filter"])]
        else:
            raise format_error("data did not match any variant of untagged enum PointsSelector")
        for k in keys:
            c.points.pop(k, None)
        op = c.next_op()
        c.save()
        return self.ok({"operation_id": op, "status": "completed" if self.wait() else "acknowledged"})

    def set_payload(self, c, body):
        payload = body.get("payload") or {}
        if "points" in body:
            targets = [c.points[stored_key(point_id(i))] for i in body["points"] if stored_key(point_id(i)) in c.points]
        else:
            targets = [pt for pt in c.points.values() if match_filter(pt, body.get("filter"))]
        for pt in targets:
            pt["payload"].update(payload)
        op = c.next_op()
        c.save()
        return self.ok({"operation_id": op, "status": "completed" if self.wait() else "acknowledged"})


INSTANCE_ID = str(uuid.uuid4())
USAGE = "Usage: qdrant [OPTIONS]\n\nFor more information, try '--help'.\n"
FLAGS = {"--force-snapshot", "-f", "--disable-telemetry", "--stacktrace", "--reinit"}
VALUED = {"--bootstrap", "--uri", "--snapshot", "--collection-snapshot", "--storage-snapshot", "--config-path"}


def parse_args(argv):
    args = {"disable_telemetry": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        name = a.split("=", 1)[0]
        if a in ("-h", "--help"):
            print("Qdrant (read: quadrant ) is a vector similarity search engine.\n\n" + USAGE.split("\n\n")[0])
            sys.exit(0)
        if a in ("-V", "--version"):
            print("qdrant %s" % VERSION)
            sys.exit(0)
        if a in FLAGS:
            args[a.lstrip("-").replace("-", "_")] = True
        elif name in VALUED:
            if "=" not in a:
                if i + 1 >= len(argv):
                    sys.stderr.write("error: a value is required for '%s <VALUE>' but none was supplied\n\n%s"
                                     % (a, USAGE))
                    sys.exit(2)
                i += 1
            args[name.lstrip("-").replace("-", "_")] = a.split("=", 1)[1] if "=" in a else argv[i]
        else:
            sys.stderr.write("error: unexpected argument '%s' found\n\n%s" % (a, USAGE))
            sys.exit(2)
        i += 1
    for env, key in (("QDRANT_URI", "uri"), ("QDRANT_BOOTSTRAP", "bootstrap")):
        if key not in args and os.environ.get(env):
            args[key] = os.environ[env]
    for key in ("uri", "bootstrap"):
        if key in args and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/]+", args[key]):
            sys.stderr.write("error: invalid value '%s' for '--%s <URI>': invalid format\n\n%s"
                             % (args[key], key, USAGE))
            sys.exit(2)
    return args


def main(argv):
    args = parse_args(argv)
    mode = sc.fail_mode(Settings.storage)
    sc.exit_on_sigterm()
    for line in (r"           _                 _    ", r"  __ _  __| |_ __ __ _ _ __ | |_  ",
                 r" / _` |/ _` | '__/ _` | '_ \| __| ", r"| (_| | (_| | | | (_| | | | | |_  ",
                 r" \__, |\__,_|_|  \__,_|_| |_|\__| ", r"    |_|                           ", ""):
        print(line)
    host = "localhost" if Settings.host in ("0.0.0.0", "::", "127.0.0.1") else Settings.host
    print("Version: %s, build: %s" % (VERSION, COMMIT[:8]))
    print("Access web UI at http://%s:%d/dashboard" % (host, Settings.port))
    print("Agentic Skills: https://skills.qdrant.tech/\n")
    print("(linode-ai test stand-in: REST only, no gRPC)\n", flush=True)
    for name in ("api_key", "alt_api_key", "read_only_api_key"):
        if os.environ.get("QDRANT__SERVICE__" + name.upper()) == "":
            log("WARN", "qdrant::settings", "Service %s is set but empty, it is treated as unset and authentication "
                "may be disabled" % name)
    os.makedirs(Settings.storage, exist_ok=True)
    raft = os.path.join(Settings.storage, "raft_state.json")
    if not os.path.exists(raft):
        log("INFO", "storage::content_manager::consensus::persistent",
            "Initializing new raft state at %s" % raft)
        with open(raft, "w") as f:
            json.dump({"state": {"hard_state": {"term": 0, "vote": 0, "commit": 0}}, "latest_snapshot_meta": {},
                       "apply_progress_queue": None, "first_voter": None, "peer_address_by_id": {},
                       "this_peer_id": uuid.uuid4().int % (1 << 63), "standin": True}, f)
    os.makedirs(os.path.join(Settings.storage, "aliases"), exist_ok=True)
    os.makedirs("snapshots", exist_ok=True)
    Store.load()
    log("INFO", "qdrant", "Distributed mode disabled")
    if Settings.telemetry_disabled or args.get("disable_telemetry"):
        log("INFO", "qdrant", "Telemetry reporting disabled")
    else:
        # The real one reports to https://telemetry.qdrant.io; the stand-in sends nothing.
        log("INFO", "qdrant", "Telemetry reporting enabled, id: %s" % INSTANCE_ID)
    log("INFO", "qdrant", "Inference service is not configured.")
    server = sc.Server(Settings.host, Settings.port, QdrantHandler)
    QdrantHandler.hang = mode == "hang"
    log("INFO", "qdrant::actix", "REST transport settings: keep_alive=5s, client_request_timeout=5s, "
        "client_disconnect_timeout=5s")
    log("INFO", "qdrant::actix", "TLS disabled for REST API")
    log("INFO", "qdrant::actix", "Qdrant HTTP listening on %d" % Settings.port)
    log("INFO", "actix_server::builder", "starting %d workers" % max(1, (os.cpu_count() or 2) - 1))
    log("INFO", "actix_server::server", "Actix runtime found; starting in Actix runtime")
    with open(os.environ.get("QDRANT_INIT_FILE_PATH", ".qdrant-initialized"), "w"):
        pass
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
