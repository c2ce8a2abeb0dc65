"""Document upload (RAG) for the Open WebUI v0.11.3 stand-in (tests only, never deployed).

Active only with VECTOR_DB=qdrant and an embedding engine of `openai` (the
`rag` template: TEI's OpenAI-compatible /v1/embeddings, Qdrant's REST API);
otherwise /api/v1/files and /api/v1/retrieval stay 404, as before.
It follows open_webui/routers/files.py, routers/retrieval.py
(process_file, save_docs_to_vector_db), retrieval/utils.py (embeddings),
retrieval/vector/dbs/qdrant_multitenancy.py and qdrant.py, and the REST calls
qdrant-client 1.18.0 makes for them (tests/images/CONTRACTS.md has the list).
Written for these tests; it shares no code with Open WebUI, LangChain or
qdrant-client. Differences: text files only (no PDF/Office extraction, no
ftfy), the splitters are re-implementations of the default ones (markdown
header splitter, then recursive character splitter), and the `token`
splitter is treated as `character`.
"""
import email.parser
import email.policy
import hashlib
import json
import os
import platform
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

QDRANT_CLIENT_VERSION = "1.18.0"  # open-webui 0.11.3's pin (wheel METADATA, extra `all`)
AIOHTTP_VERSION = "3.13.5"
NO_LIMIT = 999999999
TENANT_ID_FIELD = "tenant_id"
PY = platform.python_version()
LOG = None  # set by init(): the stand-in's loguru-format logger
CFG_GET = CFG_SET = DB = None


def env(name, default=None):
    v = os.environ.get(name)
    return default if v is None else v


def env_true(name, default):
    return env(name, default).lower() == "true"


VECTOR_DB = env("VECTOR_DB", "chroma")
QDRANT_URI = env("QDRANT_URI")
QDRANT_API_KEY = env("QDRANT_API_KEY")
QDRANT_PREFER_GRPC = env_true("QDRANT_PREFER_GRPC", "false")
QDRANT_TIMEOUT = int(env("QDRANT_TIMEOUT", "5"))
QDRANT_HNSW_M = int(env("QDRANT_HNSW_M", "16"))
QDRANT_ON_DISK = env_true("QDRANT_ON_DISK", "false")
MULTITENANCY = env_true("ENABLE_QDRANT_MULTITENANCY_MODE", "true")
PREFIX = env("QDRANT_COLLECTION_PREFIX", "open-webui")
PERSISTENT = env_true("ENABLE_PERSISTENT_CONFIG", "True")


def _openai_base_default():
    base = env("OPENAI_API_BASE_URL", "")
    if base == "":
        return "https://api.openai.com/v1"
    return base[:-1] if base.endswith("/") else base


def _int_env(name, default):
    v = env(name)
    return int(v) if v else default


# The `rag.*` keys the upload path reads, with the environment variable that seeds each
# (config.py DEFAULT_CONFIG). With ENABLE_PERSISTENT_CONFIG (default True) they are written
# to the database at the first start and the database wins afterwards.
RAG_DEFAULTS = {
    "rag.embedding_engine": env("RAG_EMBEDDING_ENGINE", ""),
    "rag.embedding_model": env("RAG_EMBEDDING_MODEL", "sentence-transformers/all-MiniLM-L6-v2"),
    "rag.openai.api_base_url": env("RAG_OPENAI_API_BASE_URL", _openai_base_default()),
    "rag.openai.api_key": env("RAG_OPENAI_API_KEY", env("OPENAI_API_KEY", "")),
    "rag.embedding_batch_size": int(env("RAG_EMBEDDING_BATCH_SIZE") or env("RAG_EMBEDDING_OPENAI_BATCH_SIZE", "1")),
    "rag.enable_async_embedding": env_true("ENABLE_ASYNC_EMBEDDING", "True"),
    "rag.embedding_concurrent_requests": int(env("RAG_EMBEDDING_CONCURRENT_REQUESTS", "0")),
    "rag.text_splitter": env("RAG_TEXT_SPLITTER", ""),
    "rag.enable_markdown_header_text_splitter": env_true("ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER", "True"),
    "rag.chunk_size": int(env("CHUNK_SIZE", "1000")),
    "rag.chunk_overlap": int(env("CHUNK_OVERLAP", "100")),
    "rag.top_k": int(env("RAG_TOP_K", "3")),
    "rag.file.max_size": _int_env("RAG_FILE_MAX_SIZE", None),
    "rag.file.allowed_extensions": [e.strip() for e in env("RAG_ALLOWED_FILE_EXTENSIONS", "").split(",") if e.strip()],
    "rag.bypass_embedding_and_retrieval": env_true("BYPASS_EMBEDDING_AND_RETRIEVAL", "False"),
}
MISSING = object()


def cfg(key):
    if not PERSISTENT:
        return RAG_DEFAULTS[key]
    v = CFG_GET(key, MISSING)
    return RAG_DEFAULTS[key] if v is MISSING else v


def enabled():
    return VECTOR_DB == "qdrant" and cfg("rag.embedding_engine") == "openai"


def log(msg, function="process_file", line=0, level="INFO", name="open_webui.routers.retrieval"):
    LOG(msg, name, function, line, level)


# -- errors as the real exceptions print --
class UnexpectedResponse(Exception):
    """qdrant_client.http.exceptions.UnexpectedResponse.__str__"""

    def __init__(self, status, reason, content):
        content = content if len(content) <= 200 else content[:197] + b" ..."
        super().__init__("Unexpected Response: %d (%s)\nRaw response content:\n%r" % (status, reason, content))


def os_error_text(e):
    """The text httpx shows for a connection failure ("[Errno 111] Connection refused")."""
    r = getattr(e, "reason", e)
    if isinstance(r, socket.gaierror):
        return "[Errno %d] %s" % (r.errno, r.strerror)
    if isinstance(r, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(r, OSError) and r.errno:
        return "[Errno %d] %s" % (r.errno, r.strerror)
    return str(r)


# -- Qdrant over REST, as qdrant-client 1.18.0 (QdrantRemote, prefer_grpc=False) calls it --
class Qdrant:
    def __init__(self):
        self.base = QDRANT_URI.rstrip("/")
        self.headers = {"User-Agent": "python-client/%s python/%s" % (QDRANT_CLIENT_VERSION, PY),
                        "Content-Type": "application/json"}
        if QDRANT_API_KEY is not None:  # `if api_key is not None`: an empty key is still sent
            self.headers["api-key"] = QDRANT_API_KEY

    def call(self, method, path, body=None, query=None):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=QDRANT_TIMEOUT) as r:
                return json.loads(r.read())["result"]
        except urllib.error.HTTPError as e:
            raise UnexpectedResponse(e.code, e.reason, e.read())
        except (OSError, ValueError) as e:
            # ResponseHandlingException(httpx.ConnectError): str() is the OS error's text
            raise Exception(os_error_text(e))

    def collection_exists(self, name):
        return self.call("GET", "/collections/%s/exists" % name)["exists"]

    def create_collection(self, name, dimension, hnsw):
        self.call("PUT", "/collections/%s" % name, {
            "vectors": {"size": dimension, "distance": "Cosine", "on_disk": QDRANT_ON_DISK}, "hnsw_config": hnsw})

    def create_payload_index(self, name, field, is_tenant=None):
        schema = {"type": "keyword"}
        if is_tenant is not None:
            schema["is_tenant"] = is_tenant
        schema["on_disk"] = QDRANT_ON_DISK
        self.call("PUT", "/collections/%s/index" % name, {"field_name": field, "field_schema": schema},
                  {"wait": "true"})

    def count(self, name, flt):
        return self.call("POST", "/collections/%s/points/count" % name, {"filter": flt, "exact": True})["count"]

    def scroll(self, name, flt, limit):
        body = {"limit": limit, "with_payload": True, "with_vector": False}
        if flt is not None:
            body["filter"] = flt
        return self.call("POST", "/collections/%s/points/scroll" % name, body)["points"]

    def upsert(self, name, points, wait):
        self.call("PUT", "/collections/%s/points" % name, {"points": points}, {"wait": "true" if wait else "false"})

    def upload_points(self, name, points):
        """upload_points: batches of 64, wait=false, up to 3 attempts per batch (rest_uploader.upload_batch)."""
        for i in range(0, len(points), 64):
            for attempt in range(3):
                try:
                    self.upsert(name, points[i:i + 64], wait=False)
                    break
                except Exception:
                    LOG("qdrant_client: UserWarning: Batch upload failed %d times. Retrying..." % (attempt + 1),
                        "py.warnings", "_showwarnmsg", 110, "WARNING")
                    if attempt == 2:
                        raise

    def query_points(self, name, vector, flt, limit):
        body = {"query": {"nearest": vector}, "limit": limit, "with_vector": False, "with_payload": True}
        if flt is not None:
            body["filter"] = flt
        return self.call("POST", "/collections/%s/points/query" % name, body)["points"]

    def delete(self, name, flt, wait=True):
        self.call("POST", "/collections/%s/points/delete" % name, {"filter": flt}, {"wait": "true" if wait else "false"})


def match(key, value):
    return {"key": key, "match": {"value": value}}


class VectorDB:
    """VECTOR_DB_CLIENT: qdrant_multitenancy.QdrantClient (default) or qdrant.QdrantClient."""

    def __init__(self):
        self.q = Qdrant()

    def mt(self, name):
        """_get_collection_and_tenant_id"""
        if name.startswith("user-memory-"):
            return PREFIX + "_memories", name
        if name.startswith("file-"):
            return PREFIX + "_files", name
        if name.startswith("web-search-"):
            return PREFIX + "_web-search", name
        if len(name) == 63 and all(c in "0123456789abcdef" for c in name):
            return PREFIX + "_hash-based", name
        return PREFIX + "_knowledge", name

    def query(self, name, flt):
        if MULTITENANCY:
            coll, tenant = self.mt(name)
            if not self.q.collection_exists(coll):
                return None
            must = [match(TENANT_ID_FIELD, tenant)] + [match("metadata." + k, v) for k, v in flt.items()]
            return self.q.scroll(coll, {"must": must}, NO_LIMIT)
        try:
            if not self.q.collection_exists("%s_%s" % (PREFIX, name)):
                return None
            return self.q.scroll("%s_%s" % (PREFIX, name),
                                 {"should": [match("metadata." + k, v) for k, v in flt.items()]}, NO_LIMIT)
        except Exception as e:
            log("Error querying a collection '%s': %s" % (name, e), "query", 210, "ERROR",
                "open_webui.retrieval.vector.dbs.qdrant")
            return None

    def has_collection(self, name):
        if not MULTITENANCY:
            return self.q.collection_exists("%s_%s" % (PREFIX, name))
        coll, tenant = self.mt(name)
        if not self.q.collection_exists(coll):
            return False
        return self.q.count(coll, {"must": [match(TENANT_ID_FIELD, tenant)]}) > 0

    def delete_collection(self, name):
        if not MULTITENANCY:
            return self.q.call("DELETE", "/collections/%s_%s" % (PREFIX, name))
        coll, tenant = self.mt(name)
        if self.q.collection_exists(coll):
            self.q.delete(coll, {"must": [match(TENANT_ID_FIELD, tenant)]})

    def insert(self, name, items):
        dimension = len(items[0]["vector"])
        if MULTITENANCY:
            coll, tenant = self.mt(name)
            if not self.q.collection_exists(coll):
                self.q.create_collection(coll, dimension, {"m": 0, "payload_m": QDRANT_HNSW_M})
                log("Multi-tenant collection %s created with dimension %s!" % (coll, dimension),
                    "_create_multi_tenant_collection", 150, name="open_webui.retrieval.vector.dbs.qdrant_multitenancy")
                self.q.create_payload_index(coll, TENANT_ID_FIELD, is_tenant=True)
                for field in ("metadata.hash", "metadata.file_id"):
                    self.q.create_payload_index(coll, field)
            points = [{"id": it["id"], "vector": it["vector"],
                       "payload": {"text": it["text"], "metadata": it["metadata"], TENANT_ID_FIELD: tenant}}
                      for it in items]
            self.q.upload_points(coll, points)
            return
        coll = "%s_%s" % (PREFIX, name)
        if not self.q.collection_exists(coll):
            self.q.create_collection(coll, dimension, {"m": QDRANT_HNSW_M})
            for field in ("metadata.hash", "metadata.file_id"):
                self.q.create_payload_index(coll, field, is_tenant=False)
            log("collection %s successfully created!" % coll, "_create_collection", 130,
                name="open_webui.retrieval.vector.dbs.qdrant")
        self.q.upload_points(coll, [{"id": it["id"], "vector": it["vector"],
                                     "payload": {"text": it["text"], "metadata": it["metadata"]}} for it in items])

    def search(self, name, vector, limit):
        if MULTITENANCY:
            coll, tenant = self.mt(name)
            if not self.q.collection_exists(coll):
                return None
            return self.q.query_points(coll, vector, {"must": [match(TENANT_ID_FIELD, tenant)]}, limit)
        return self.q.query_points("%s_%s" % (PREFIX, name), vector, None, limit)


# -- embeddings: retrieval/utils.py agenerate_openai_batch_embeddings (aiohttp) --
def embed_batch(texts, url, key, model):
    body = json.dumps({"input": texts, "model": model}).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Python/%s aiohttp/%s" % (
        ".".join(PY.split(".")[:2]), AIOHTTP_VERSION)}
    if key:
        headers["Authorization"] = "Bearer " + key
    full = url + "/embeddings"
    req = urllib.request.Request(full, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            data = json.loads(r.read())
    except urllib.error.HTTPError as e:
        e.read()
        # aiohttp ClientResponseError from raise_for_status()
        raise Exception("%d, message=%r, url=%r" % (e.code, e.reason, full))
    except OSError as e:
        # aiohttp ClientConnectorError: "Cannot connect to host H:P ssl:default [strerror]", where a
        # refused connection reads "Connect call failed ('IP', P)" (asyncio's message)
        u = urllib.parse.urlsplit(full)
        port = u.port or (443 if u.scheme == "https" else 80)
        reason = getattr(e, "reason", e)
        text = os_error_text(e).split("] ", 1)[-1]
        if isinstance(reason, ConnectionRefusedError):
            try:
                ip = socket.getaddrinfo(u.hostname, port, socket.AF_INET)[0][4][0]
            except OSError:
                ip = u.hostname
            text = "Connect call failed ('%s', %d)" % (ip, port)
        raise Exception("Cannot connect to host %s:%d ssl:default [%s]" % (u.hostname, port, text))
    if "data" not in data:
        raise ValueError("Unexpected OpenAI embeddings response: missing 'data' key")
    return [item["embedding"] for item in data["data"]]


def embed(texts):
    """get_embedding_function('openai', ...): batches of rag.embedding_batch_size, run concurrently
    (ENABLE_ASYNC_EMBEDDING; RAG_EMBEDDING_CONCURRENT_REQUESTS=0: no limit)."""
    url, key, model = cfg("rag.openai.api_base_url"), cfg("rag.openai.api_key"), cfg("rag.embedding_model")
    size = max(1, int(cfg("rag.embedding_batch_size") or 1))
    batches = [texts[i:i + size] for i in range(0, len(texts), size)]
    if cfg("rag.enable_async_embedding") and len(batches) > 1:
        workers = int(cfg("rag.embedding_concurrent_requests") or 0) or min(len(batches), 16)
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda b: embed_batch(b, url, key, model), batches))
    else:
        results = [embed_batch(b, url, key, model) for b in batches]
    return [v for r in results for v in r]


# -- splitters (re-implemented: see the module docstring) --
def split_markdown_headers(text):
    """MarkdownHeaderTextSplitter(headers '#'..'######', strip_headers=False): lines are stripped,
    blank lines end a block, a header starts one; blocks under the same headers are joined with
    "  \\n", and a header block takes in the deeper block that follows it."""
    blocks, current, meta, headers, stack, fence = [], [], {}, {}, [], ""
    for raw in text.split("\n"):
        line = "".join(ch for ch in raw.strip() if ch.isprintable())
        if not fence:
            if line.startswith("```") and line.count("```") == 1:
                fence = "```"
            elif line.startswith("~~~"):
                fence = "~~~"
        elif line.startswith(fence):
            fence = ""
        if fence:
            current.append(line)
            continue
        level = 0
        for n in range(6, 0, -1):
            if line.startswith("#" * n) and (len(line) == n or line[n] == " "):
                level = n
                break
        if level:
            while stack and stack[-1][0] >= level:
                headers.pop(stack.pop()[1], None)
            name = "Header %d" % level
            stack.append((level, name))
            headers[name] = line[level:].strip()
            if current:
                blocks.append(["\n".join(current), dict(meta)])
                current = []
            current.append(line)
        elif line:
            current.append(line)
        elif current:
            blocks.append(["\n".join(current), dict(meta)])
            current = []
        meta = dict(headers)
    if current:
        blocks.append(["\n".join(current), meta])
    out = []
    for content, m in blocks:
        if out and out[-1][1] == m:
            out[-1][0] += "  \n" + content
        elif out and len(out[-1][1]) < len(m) and out[-1][0].split("\n")[-1][:1] == "#":
            out[-1][0] += "  \n" + content
            out[-1][1] = m
        else:
            out.append([content, m])
    return [c for c, _m in out]


def split_recursive(text, size, overlap, separators=("\n\n", "\n", " ", "")):
    """RecursiveCharacterTextSplitter(chunk_size, chunk_overlap): split on the first separator
    present (kept at the start of the next piece), recurse into pieces that are too long, and
    merge small pieces into chunks of at most `size` characters overlapping by up to `overlap`."""
    sep, rest = separators[-1], ()
    for i, s in enumerate(separators):
        if s == "" or s in text:
            sep, rest = s, separators[i + 1:]
            break
    if sep:
        parts = text.split(sep)
        pieces = [parts[0]] + [sep + p for p in parts[1:]]
    else:
        pieces = list(text)
    pieces = [p for p in pieces if p]
    chunks, small = [], []
    for p in pieces:
        if len(p) < size:
            small.append(p)
            continue
        if small:
            chunks += merge_pieces(small, size, overlap)
            small = []
        chunks += split_recursive(p, size, overlap, rest) if rest else [p]
    if small:
        chunks += merge_pieces(small, size, overlap)
    return chunks


def merge_pieces(pieces, size, overlap):
    out, window, total = [], [], 0
    for p in pieces:
        if total + len(p) > size and window:
            chunk = "".join(window).strip()
            if chunk:
                out.append(chunk)
            while total > overlap or (total + len(p) > size and total > 0):
                total -= len(window.pop(0))
        window.append(p)
        total += len(p)
    chunk = "".join(window).strip()
    if chunk:
        out.append(chunk)
    return out


def split_docs(text, base_meta):
    size, overlap = int(cfg("rag.chunk_size")), int(cfg("rag.chunk_overlap"))
    if cfg("rag.text_splitter") not in ("", "character", "token", "token_transformers"):
        raise ValueError("[ERROR: Invalid text splitter]")
    texts = split_markdown_headers(text) if cfg("rag.enable_markdown_header_text_splitter") else [text]
    docs = []
    for t in texts:
        index, prev = 0, 0
        for chunk in split_recursive(t, size, overlap):
            index = t.find(chunk, max(0, index + prev - overlap))
            prev = len(chunk)
            docs.append((chunk, dict(base_meta, start_index=index)))
    return docs


# -- files --
def init_db():
    with DB() as c:
        c.execute('CREATE TABLE IF NOT EXISTS "file" (id TEXT PRIMARY KEY, user_id TEXT, hash TEXT, filename TEXT,'
                  ' path TEXT, data TEXT, meta TEXT, created_at INTEGER, updated_at INTEGER)')


def file_get(fid):
    with DB() as c:
        row = c.execute('SELECT * FROM "file" WHERE id=?', (fid,)).fetchone()
    if not row:
        return None
    return {"id": row["id"], "user_id": row["user_id"], "hash": row["hash"], "filename": row["filename"],
            "path": row["path"], "data": json.loads(row["data"] or "null"), "meta": json.loads(row["meta"] or "null"),
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


def file_update(fid, data=None, meta=None, hash=MISSING):
    f = file_get(fid)
    now = int(time.time())
    with DB() as c:
        if data is not None:
            c.execute('UPDATE "file" SET data=?, updated_at=? WHERE id=?', (json.dumps({**(f["data"] or {}), **data}),
                                                                           now, fid))
        if meta is not None:
            c.execute('UPDATE "file" SET meta=?, updated_at=? WHERE id=?', (json.dumps({**(f["meta"] or {}), **meta}),
                                                                           now, fid))
        if hash is not MISSING:
            c.execute('UPDATE "file" SET hash=?, updated_at=? WHERE id=?', (hash, now, fid))


def process_file(fid, user):
    """routers/retrieval.py process_file for an upload (no content, no collection_name)."""
    f = file_get(fid)
    collection = "file-%s" % fid
    try:
        try:
            with open(f["path"], "rb") as fh:
                raw = fh.read()
        except OSError as e:
            raise Exception(str(e))
        ctype = (f["meta"] or {}).get("content_type") or ""
        if ctype.startswith(("image/", "audio/", "video/")) or ctype in (
                "application/pdf", "application/epub+zip") or f["filename"].lower().endswith(
                (".pdf", ".docx", ".doc", ".xlsx", ".xls", ".pptx", ".ppt", ".odt", ".msg", ".epub")):
            raise Exception("linode-ai stand-in: only text files are processed (got %s)" % (ctype or f["filename"]))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        file_update(fid, data={"content": text})
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if cfg("rag.bypass_embedding_and_retrieval"):
            file_update(fid, data={"status": "completed", "error": None}, hash=digest)
            return
        meta = {"source": f["filename"], "name": f["filename"], "created_by": f["user_id"], "file_id": fid}
        save_docs(text, collection, meta, {"file_id": fid, "name": f["filename"], "hash": digest})
        log("added %d items to collection %s" % (1, collection), "process_file", 2042)
        file_update(fid, meta={"collection_name": collection})
        file_update(fid, data={"status": "completed", "error": None}, hash=digest)
    except Exception as e:
        log("%s" % e, "process_file", 2100, "ERROR")
        file_update(fid, data={"status": "failed", "error": str(e)}, hash=None)
        # process_uploaded_file: raised again as HTTPException(400, detail=str(e)), caught, stored again
        log("Error processing file: %s" % fid, "_process_handler", 244, "ERROR", "open_webui.routers.files")


def save_docs(text, collection, base_meta, metadata):
    vdb = VectorDB()
    existing = vdb.query(collection, {"hash": metadata["hash"]})
    if existing:
        first = (existing[0].get("payload") or {}).get("metadata") or {}
        if first.get("file_id") != metadata.get("file_id"):
            log("Document with hash %s already exists" % metadata["hash"], "save_docs_to_vector_db", 1683)
            raise ValueError("Duplicate content detected. Please provide unique content to proceed.")
    docs = split_docs(text, base_meta)
    if not docs:
        raise ValueError("The content provided is empty. Please ensure that there is text or data present before "
                         "proceeding.")
    texts = [d[0].replace("\x00", "") for d in docs]
    metadatas = [{**m, **metadata, "embedding_config": {"engine": cfg("rag.embedding_engine"),
                                                          "model": cfg("rag.embedding_model")}} for _t, m in docs]
    if vdb.has_collection(collection):
        log("collection %s already exists" % collection, "save_docs_to_vector_db", 1774)
        log("collection %s already exists, overwrite is False and add is False" % collection,
            "save_docs_to_vector_db", 1780)
        return
    log("generating embeddings for %s" % collection, "save_docs_to_vector_db", 1782)
    vectors = embed([t.replace("\n", " ") for t in texts])
    log("embeddings generated %d for %d items" % (len(vectors), len(texts)), "save_docs_to_vector_db", 1822)
    items = [{"id": str(uuid.uuid4()), "text": t, "vector": vectors[i], "metadata": metadatas[i]}
             for i, t in enumerate(texts)]
    log("adding to collection %s" % collection, "save_docs_to_vector_db", 1834)
    vdb.insert(collection, items)
    log("added %d items to collection %s" % (len(items), collection), "save_docs_to_vector_db", 1839)


def parse_multipart(content_type, body):
    """{field: (filename or None, part content type or None, bytes)}"""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        return {}
    out = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        ctype = part.get("Content-Type")
        out[name] = (part.get_filename(), ctype.split(";")[0].strip() if ctype else None,
                     part.get_payload(decode=True) or b"")
    return out


def file_response(f):
    return {k: f[k] for k in ("id", "user_id", "hash", "filename", "path", "data", "meta", "created_at",
                              "updated_at")}


# -- routes (called by open_webui.py's handler) --
def route(h, p, m, user_of):
    """True when the request was one of ours and has been answered."""
    if not enabled():
        return False
    if p in ("/api/v1/files/", "/api/v1/files") and m == "POST":
        return upload(h, user_of(h))
    if p.startswith("/api/v1/files/") and m == "GET":
        parts = p[len("/api/v1/files/"):].split("/")
        if len(parts) == 1:
            return get_file(h, user_of(h), parts[0])
        if len(parts) == 3 and parts[1:] == ["process", "status"]:
            return process_status(h, user_of(h), parts[0])
        return False
    if p == "/api/v1/retrieval/query/collection" and m == "POST":
        return query_collection(h, user_of(h))
    return False


def verified(h, user):
    if user is None:
        h.detail(401, "Not authenticated")
        return False
    if user["role"] not in ("user", "admin"):
        h.detail(401, "You do not have permission to access this resource. Please contact your administrator for "
                      "assistance.")
        return False
    return True


def upload(h, user):
    if not verified(h, user):
        return True
    q = h.query()
    process = q.get("process", "true").lower() not in ("false", "0", "off", "no")
    background = q.get("process_in_background", "true").lower() not in ("false", "0", "off", "no")
    ctype = h.headers.get("Content-Type", "")
    fields = parse_multipart(ctype, h.body()) if ctype.startswith("multipart/form-data") else {}
    if "file" not in fields or fields["file"][0] is None:
        return h.reply(422, {"detail": [{"type": "missing", "loc": ["body", "file"], "msg": "Field required",
                                         "input": None}]}) or True
    filename, part_type, contents = fields["file"]
    log("file.content_type: %s %s" % (part_type, process), "upload_file_handler", 333, name="open_webui.routers.files")
    name = os.path.basename(filename)
    ext = os.path.splitext(name)[1][1:].lower()
    allowed = [e for e in (cfg("rag.file.allowed_extensions") or []) if e]
    if process and allowed and ext not in allowed:
        return h.detail(400, "[ERROR: File type %s is not allowed]" % ext) or True
    if not contents:  # LocalStorageProvider.upload_file: ValueError(EMPTY_CONTENT) -> 400
        return h.detail(400, "[ERROR: Error uploading file]") or True
    metadata = {}
    if "metadata" in fields:
        try:
            metadata = json.loads(fields["metadata"][2] or b"null") or {}
        except ValueError:
            return h.detail(400, "[ERROR: Invalid metadata format]") or True
    fid = str(uuid.uuid4())
    upload_dir = os.path.join(h.data_dir, "uploads")
    os.makedirs(upload_dir, exist_ok=True)
    path = os.path.join(upload_dir, "%s_%s" % (fid, name))
    with open(path, "wb") as fh:
        fh.write(contents)
    max_size = cfg("rag.file.max_size")
    if max_size and len(contents) > int(max_size) * 1024 * 1024:
        os.remove(path)
        return h.detail(413, "Oops! The file you're trying to upload is too large. Please upload a file that is "
                             "less than %s MB." % max_size) or True
    now = int(time.time())
    data = {"status": "pending"} if process else {}
    meta = {"name": name, "content_type": part_type, "size": len(contents),
            "file_hash": metadata.get("file_hash") or hashlib.sha256(contents).hexdigest(), "data": metadata}
    with DB() as c:
        c.execute('INSERT INTO "file" (id, user_id, hash, filename, path, data, meta, created_at, updated_at)'
                  ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
                  (fid, user["id"], None, name, path, json.dumps(data), json.dumps(meta), now, now))
    item = file_response(file_get(fid))
    if not process:
        return h.reply(200, item) or True
    if background:
        threading.Thread(target=process_file, args=(fid, user), daemon=True).start()
    else:
        process_file(fid, user)  # the answer still carries the item as inserted (status pending)
    return h.reply(200, {"status": True, **item}) or True


def owned(h, user, fid):
    if not verified(h, user):
        return None
    f = file_get(fid)
    if not f or (f["user_id"] != user["id"] and user["role"] != "admin"):
        h.detail(404, "We could not find what you're looking for :/")
        return None
    return f


def get_file(h, user, fid):
    f = owned(h, user, fid)
    if f:
        h.reply(200, file_response(f))
    return True


def process_status(h, user, fid):
    f = owned(h, user, fid)
    if not f:
        return True
    if h.query().get("stream", "false").lower() != "true":
        return h.reply(200, {"status": (f["data"] or {}).get("status", "pending")}) or True
    h.start_stream(200, "text/event-stream; charset=utf-8")
    for _ in range(3600 * 2):
        f = file_get(fid)
        if not f:
            h.chunk("data: %s\n\n" % json.dumps({"status": "not_found"}))
            break
        data = f["data"] or {}
        st = data.get("status")
        if not st:
            break
        event = {"status": st}
        if st == "failed":
            event["error"] = data.get("error")
        h.chunk("data: %s\n\n" % json.dumps(event))
        if st in ("completed", "failed"):
            break
        time.sleep(1)
    h.end_stream()
    return True


def query_collection(h, user):
    if not verified(h, user):
        return True
    req = h.json_body()
    if not isinstance(req, dict) or not isinstance(req.get("collection_names"), list) or not isinstance(
            req.get("query"), str):
        return h.reply(422, {"detail": [{"type": "missing", "loc": ["body", "query"], "msg": "Field required",
                                         "input": req}]}) or True
    for name in req["collection_names"]:
        if user["role"] != "admin":
            f = file_get(name[len("file-"):]) if name.startswith("file-") else None
            if not f or f["user_id"] != user["id"]:
                return h.detail(403, "You do not have permission to access this resource. Please contact your "
                                     "administrator for assistance.") or True
    k = req.get("k") or int(cfg("rag.top_k"))
    try:
        vector = embed([req["query"]])[0] if req["query"] else None
    except Exception as e:
        log(str(e), "query_collection_handler", 3109, "ERROR")
        return h.detail(400, "[ERROR: Error querying knowledge base]") or True
    hits = []
    if vector is not None:
        vdb = VectorDB()
        for name in req["collection_names"]:
            try:
                for pt in vdb.search(name, vector, k) or []:
                    hits.append(((pt["score"] + 1.0) / 2.0, pt["payload"]["text"], pt["payload"]["metadata"]))
            except Exception as e:
                log("Error when querying the collection: %s" % e, "process_query_collection", 748, "ERROR",
                    "open_webui.retrieval.utils")
    best = {}
    for dist, doc, meta in hits:
        key = hashlib.sha256(doc.encode()).hexdigest()
        if key not in best or dist > best[key][0]:
            best[key] = (dist, doc, meta)
    ranked = sorted(best.values(), key=lambda x: x[0], reverse=True)[:k]
    h.reply(200, {"distances": [[r[0] for r in ranked]], "documents": [[r[1] for r in ranked]],
                  "metadatas": [[r[2] for r in ranked]]})
    return True


# -- start-up --
def check_compatibility():
    """QdrantRemote(check_compatibility=True): GET {QDRANT_URI}/ in a thread, warning on failure."""
    q = Qdrant()
    req = urllib.request.Request(q.base + "/", headers=q.headers)
    try:
        with urllib.request.urlopen(req, timeout=QDRANT_TIMEOUT) as r:
            version = json.loads(r.read()).get("version")
        cv, sv = QDRANT_CLIENT_VERSION.split("."), (version or "").split(".")
        if len(sv) >= 2 and (cv[0] != sv[0] or abs(int(cv[1]) - int(sv[1])) > 1):
            LOG("qdrant_remote.py: UserWarning: Qdrant client version %s is incompatible with server version %s. "
                "Major versions should match and minor version difference must not exceed 1. Set "
                "check_compatibility=False to skip version check." % (QDRANT_CLIENT_VERSION, version),
                "py.warnings", "_showwarnmsg", 110, "WARNING")
    except (OSError, ValueError):
        LOG("qdrant_remote.py: UserWarning: Failed to obtain server version. Unable to check client-server "
            "compatibility. Set check_compatibility=False to skip version check.", "py.warnings", "_showwarnmsg", 110,
            "WARNING")


def init(logger, cfg_get, cfg_set, db):
    """At import of open_webui.main: config seeding, the vector DB client (VECTOR_DB_CLIENT)."""
    global LOG, CFG_GET, CFG_SET, DB
    LOG, CFG_GET, CFG_SET, DB = logger, cfg_get, cfg_set, db
    init_db()
    if PERSISTENT:
        for key, value in RAG_DEFAULTS.items():  # Config.seed_defaults: existing rows win
            if cfg_get(key, MISSING) is MISSING:
                cfg_set(key, value)
    LOG("Embedding model set: %s" % cfg("rag.embedding_model"), "open_webui.config", "<module>", 1003)
    if VECTOR_DB != "qdrant":
        return
    if not QDRANT_URI:
        if MULTITENANCY:
            LOG("ValueError: QDRANT_URI is not set. Please configure it in the environment variables.",
                "uvicorn.error", "import_from_string", 0, "ERROR")
            raise SystemExit(1)
        return
    if QDRANT_PREFER_GRPC:
        LOG("linode-ai stand-in: QDRANT_PREFER_GRPC=true is not modelled (the stand-in uses REST)",
            "open_webui.retrieval.vector.dbs.qdrant", "__init__", 0, "WARNING")
    if QDRANT_API_KEY is not None and QDRANT_URI.startswith("http://"):
        LOG("qdrant_remote.py: UserWarning: Api key is used with an insecure connection.", "py.warnings",
            "_showwarnmsg", 110, "WARNING")
    threading.Thread(target=check_compatibility, daemon=True).start()
