#!/usr/bin/python3
"""Stand-in for ghcr.io/huggingface/text-embeddings-inference:cpu-1.9 (tests only).

/usr/local/bin/text-embeddings-router, the image's ENTRYPOINT (CMD
["--json-output"]). Arguments and their env fallbacks as router/src/main.rs
at v1.9.x (clap `#[clap(long, env)]`): --model-id/MODEL_ID (required),
--port/-p/PORT (the image sets PORT=80), --hostname/HOSTNAME, --api-key/API_KEY,
--tokenization-workers/TOKENIZATION_WORKERS, --hf-token/HF_TOKEN,
--huggingface-hub-cache/HUGGINGFACE_HUB_CACHE (the image sets /data), ...

It logs at start-up exactly what the real router logs first:
`tracing::info!("{args:?}")` of the veil::Redact-derived Args, in which
model_id, hf_token and hf_api_token are partially redacted but api_key is
NOT: the API key appears in clear in the container's log, as in the real 1.9.

Routes as router/src/http/server.rs at v1.9.x: with an API key, /embed,
/v1/embeddings, /info, ... need "Authorization: Bearer <key>" (401, empty
body); /health, GET /, /ping, /metrics (and /docs) never do. /embed and the
OpenAI-compatible /v1/embeddings return deterministic vectors (384 dimensions,
or the size of a few known models), log "Success" in their span as the real
handlers do, and answer errors in each route's own format.
"""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, "/usr/local/lib/linode-ai-standin")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

VERSION = "1.9.3"
# The vector size of the model served: the real one reads it from the model's config; the
# stand-in knows a few well-known models (384 for any other), so a test can change the model
# and see what a different size does downstream (e.g. Qdrant's dimension check).
KNOWN_DIMS = {
    "BAAI/bge-small-en-v1.5": 384, "BAAI/bge-base-en-v1.5": 768, "BAAI/bge-large-en-v1.5": 1024,
    "sentence-transformers/all-MiniLM-L6-v2": 384, "sentence-transformers/all-mpnet-base-v2": 768,
    "intfloat/e5-small-v2": 384, "intfloat/e5-base-v2": 768, "intfloat/e5-large-v2": 1024,
    "nomic-ai/nomic-embed-text-v1.5": 768, "Qwen/Qwen3-Embedding-0.6B": 1024,
}
DIMS = 384

USAGE = "Usage: text-embeddings-router [OPTIONS] --model-id <MODEL_ID>\n\nFor more information, try '--help'.\n"

# (field, kind, default) in Args' declaration order; kind: str, opt_str, opt_usize, usize, u16, bool,
# opt_enum:<values>, opt_vec. `redact`: the fields veil partially redacts.
FIELDS = [
    ("model_id", "str", None),
    ("revision", "opt_str", None),
    ("tokenization_workers", "opt_usize", None),
    ("dtype", "opt_enum:float16=Float16,float32=Float32", None),
    ("served_model_name", "opt_str", None),
    ("pooling", "opt_enum:cls=Cls,mean=Mean,splade=Splade,last-token=LastToken", None),
    ("max_concurrent_requests", "usize", 512),
    ("max_batch_tokens", "usize", 16384),
    ("max_batch_requests", "opt_usize", None),
    ("max_client_batch_size", "usize", 32),
    ("auto_truncate", "bool_value", True),
    ("default_prompt_name", "opt_str", None),
    ("default_prompt", "opt_str", None),
    ("dense_path", "opt_str", None),
    ("hf_api_token", "opt_str", None),
    ("hf_token", "opt_str", None),
    ("hostname", "str", "0.0.0.0"),
    ("port", "u16", 3000),
    ("uds_path", "str", "/tmp/text-embeddings-inference-server"),
    ("huggingface_hub_cache", "opt_str", None),
    ("payload_limit", "usize", 2000000),
    ("api_key", "opt_str", None),
    ("json_output", "flag", False),
    ("disable_spans", "flag", False),
    ("otlp_endpoint", "opt_str", None),
    ("otlp_service_name", "str", "text-embeddings-inference.server"),
    ("prometheus_port", "u16", 9000),
    ("cors_allow_origin", "opt_vec", None),
]
REDACT_PARTIAL = {"model_id", "hf_api_token", "hf_token"}
SHORT = {"-p": "port"}


def clap_error(msg):
    sys.stderr.write("error: %s\n\n%s" % (msg, USAGE))
    sys.exit(2)


def parse(argv):
    kinds = {f: k for f, k, _d in FIELDS}
    vals = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print("Text Embedding Webserver\n\n" + USAGE.split("\n\n")[0])
            sys.exit(0)
        if a in ("-V", "--version"):
            print("text-embeddings-router %s" % VERSION)
            sys.exit(0)
        name, value = a, None
        if a.startswith("--") and "=" in a:
            name, value = a.split("=", 1)
        field = SHORT.get(name) or (name[2:].replace("-", "_") if name.startswith("--") else None)
        if field not in kinds:
            clap_error("unexpected argument '%s' found" % a)
        kind = kinds[field]
        if kind == "flag":
            if value is not None:
                clap_error("unexpected value '%s' for '%s' found; no more were expected" % (value, name))
            vals[field] = True
        elif kind == "bool_value":  # num_args = 0..=1, default_missing_value = "true"
            if value is None and i + 1 < len(argv) and argv[i + 1] in ("true", "false"):
                i += 1
                value = argv[i]
            vals[field] = value or "true"
        else:
            if value is None:
                if i + 1 >= len(argv):
                    clap_error("a value is required for '%s <%s>' but none was supplied" % (name, field.upper()))
                i += 1
                value = argv[i]
            if field in vals and kind != "opt_vec":
                clap_error("the argument '--%s <%s>' cannot be used multiple times" % (field.replace("_", "-"),
                                                                                     field.upper()))
            vals.setdefault(field, []).append(value) if kind == "opt_vec" else vals.__setitem__(field, value)
        i += 1
    # clap `env`: an unset argument falls back to the upper-case env var.
    for field, kind, _d in FIELDS:
        if field not in vals:
            env = os.environ.get(field.upper())
            if env is not None and env != "":
                vals[field] = [env] if kind == "opt_vec" else ("true" if kind == "flag" else env)
    if "hf_api_token" in vals and "hf_token" in vals:
        clap_error("the argument '--hf-token <HF_TOKEN>' cannot be used with '--hf-api-token <HF_API_TOKEN>'")
    if "default_prompt" in vals and "default_prompt_name" in vals:
        clap_error("the argument '--default-prompt-name <DEFAULT_PROMPT_NAME>' cannot be used with "
                   "'--default-prompt <DEFAULT_PROMPT>'")
    if "model_id" not in vals:
        sys.stderr.write("error: the following required arguments were not provided:\n  --model-id <MODEL_ID>\n\n"
                         + USAGE)
        sys.exit(2)
    args = {}
    for field, kind, default in FIELDS:
        v = vals.get(field)
        if kind in ("usize", "u16", "opt_usize"):
            if v is None:
                args[field] = default
            elif not re.match(r"^\d+$", v) or (kind == "u16" and int(v) > 65535):
                clap_error("invalid value '%s' for '--%s <%s>': invalid digit found in string"
                           % (v, field.replace("_", "-"), field.upper()))
            else:
                args[field] = int(v)
        elif kind in ("flag",):
            args[field] = bool(v) if v is not None else default
        elif kind == "bool_value":
            if v is None:
                args[field] = default
            elif v not in ("true", "false"):
                clap_error("invalid value '%s' for '--auto-truncate [<AUTO_TRUNCATE>]'" % v)
            else:
                args[field] = v == "true"
        elif kind.startswith("opt_enum:"):
            choices = dict(c.split("=") for c in kind.split(":", 1)[1].split(","))
            if v is None:
                args[field] = None
            elif v not in choices:
                clap_error("invalid value '%s' for '--%s <%s>'\n  [possible values: %s]"
                           % (v, field, field.upper(), ", ".join(choices)))
            else:
                args[field] = ("enum", choices[v])
        else:
            args[field] = v if v is not None else default
    return args


# -- Rust Debug of Args, as derived by veil 0.1.7 --
def rust_str(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def redact_partial(s):
    """veil RedactFlags::redact_partial: keep min(count/3, 3) alphanumerics at each end."""
    count = sum(1 for c in s if c.isalnum())
    out = []
    if count < 5:
        return "".join("*" if c.isalnum() else c for c in s)
    expose = min(count // 3, 3)
    prefix, middle = expose, count - 2 * expose
    for c in s:
        if c.isalnum():
            if prefix > 0:
                prefix -= 1
                out.append(c)
            elif middle > 0:
                middle -= 1
                out.append("*")
            else:
                out.append(c)
        else:
            out.append(c)
    return "".join(out)


def debug_value(field, kind, v):
    if kind.startswith("opt"):
        if v is None:
            return "None"
        if kind == "opt_vec":
            inner = "[" + ", ".join(rust_str(x) for x in v) + "]"
        elif isinstance(v, tuple):
            inner = v[1]
        elif kind == "opt_usize":
            inner = str(v)
        else:
            inner = rust_str(v)
        if field in REDACT_PARTIAL:
            inner = redact_partial(inner)
        return "Some(%s)" % inner
    if kind == "str":
        return redact_partial(rust_str(v)) if field in REDACT_PARTIAL else rust_str(v)
    if kind in ("flag", "bool_value"):
        return "true" if v else "false"
    return str(v)


def args_debug(args):
    return "Args { %s }" % ", ".join("%s: %s" % (f, debug_value(f, k, args[f])) for f, k, _d in FIELDS)


class Log:
    json_output = False

    @classmethod
    def emit(cls, level, target, file, line, message):
        t = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)
        if cls.json_output:
            rec = {"timestamp": stamp, "level": level, "message": message, "target": target,
                   "filename": file, "line_number": line}
            sys.stdout.write(json.dumps(rec, separators=(",", ":")) + "\n")
        else:
            # tracing-subscriber's default (Full) format, with file and line number.
            sys.stdout.write("%s %5s %s: %s:%d: %s\n" % (stamp, level, target, file, line, message))
        sys.stdout.flush()


def info(target, file, line, msg):
    Log.emit("INFO", target, file, line, msg)


def warn(target, file, line, msg):
    Log.emit("WARN", target, file, line, msg)


class State:
    api_key = None
    info = {}
    model_id = ""
    served = ""
    requests = 0


class TEIHandler(sc.Handler):
    health_paths = ("/health",)
    server_version = "tei"

    def handle_any(self):
        self.maybe_hang()
        self.route()

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = do_OPTIONS = handle_any

    def route(self):
        p, m = self.path_only(), self.command
        public = {("GET", "/health"), ("GET", "/"), ("HEAD", "/health"), ("HEAD", "/"), ("GET", "/ping"),
                  ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/api-doc/openapi.json")}
        guarded = {("GET", "/info"), ("POST", "/embed"), ("POST", "/embed_all"), ("POST", "/embed_sparse"),
                   ("POST", "/predict"), ("POST", "/rerank"), ("POST", "/similarity"), ("POST", "/tokenize"),
                   ("POST", "/decode"), ("POST", "/embeddings"), ("POST", "/v1/embeddings"), ("POST", "/vertex"),
                   ("POST", "/"), ("POST", "/invocations")}
        key = (m, p)
        if key in public:
            if p in ("/health", "/", "/ping"):
                return self.send(200)
            if p == "/metrics":
                return self.send(200, "# TYPE te_request_count counter\nte_request_count{method=\"single\"} %d\n"
                                 % State.requests, "text/plain; version=0.0.4")
            return self.send(200, "<!doctype html><title>Swagger UI</title>", "text/html")
        if key in guarded:
            if State.api_key is not None and self.headers.get("Authorization") != "Bearer " + State.api_key:
                return self.send(401)  # axum StatusCode::UNAUTHORIZED: empty body
            if p == "/info":
                return self.send_json(200, State.info)
            if p in ("/embed", "/", "/invocations"):
                return self.embed()
            if p in ("/v1/embeddings", "/embeddings"):
                return self.openai_embed()
            if p == "/tokenize":
                return self.tokenize()
            return self.send_json(424, {"error": "stand-in: route not modelled", "error_type": "backend"})
        if any(k[1] == p for k in public | guarded):
            return self.send(405)
        self.send(404)

    def inputs(self, req, field):
        v = req.get(field) if isinstance(req, dict) else None
        if isinstance(v, str):
            return [v]
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v
        return None

    def bad_json(self, field="inputs"):
        # axum's Json rejection: 422, plain text
        self.send(422, "Failed to deserialize the JSON body into the target type: missing field `%s` at line 1 column 2"
                  % field, "text/plain; charset=utf-8")

    def fail(self, code, error_type, message, openai):
        """ErrorResponse {error, error_type} or, on the OpenAI route, OpenAICompatErrorResponse
        {message, code, type}; ErrorType serializes as its variant name (no serde rename)."""
        tracing = "openai_embed" if openai else "embed"
        Log.emit("ERROR", tracing + ": text_embeddings_router::http::server", "router/src/http/server.rs",
                 1228 if openai else 205, message)
        if openai:
            return self.send_json(code, {"message": message, "code": code, "type": error_type})
        self.send_json(code, {"error": message, "error_type": error_type})

    def check_batch(self, texts, openai):
        """server.rs: an empty batch is ErrorType::Empty (400); more than max_client_batch_size is
        ErrorType::Validation, which `impl From<&ErrorType> for StatusCode` maps to 422 (the OpenAPI
        annotations say 413; the code answers 422)."""
        if not texts:
            self.fail(400, "Empty", "`inputs` cannot be empty", openai)
            return False
        if len(texts) > State.info["max_client_batch_size"]:
            self.fail(422, "Validation", "batch size %d > maximum allowed batch size %d"
                      % (len(texts), State.info["max_client_batch_size"]), openai)
            return False
        return True

    def success(self, span, line, started, texts):
        total = (time.time() - started) * 1000
        Log.emit("INFO", '%s{total_time="%.6fms" tokenization_time="%.6fms" queue_time="%.6fms" '
                 'inference_time="%.6fms"}: text_embeddings_router::http::server' % (
                     span, total, total * 0.1, total * 0.1, total * 0.7),
                 "router/src/http/server.rs", line, "Success")

    def embed(self):
        started = time.time()
        req = self.json_body()
        texts = self.inputs(req, "inputs")
        if texts is None:
            return self.bad_json()
        if not self.check_batch(texts, False):
            return
        State.requests += 1
        normalize = req.get("normalize", True)
        self.success("embed", 277, started, texts)
        self.send_json(200, [sc.fake_vector(t, DIMS, normalize) for t in texts],
                       headers=[("x-compute-type", "cpu"), ("x-total-time", "3"), ("x-compute-characters",
                                                                                    str(sum(map(len, texts))))])

    def openai_embed(self):
        """POST /v1/embeddings (and /embeddings): OpenAICompatRequest {input: string | [string],
        model (only warned about), user, encoding_format: float | base64, dimensions}."""
        started = time.time()
        req = self.json_body()
        texts = self.inputs(req, "input")
        if texts is None:
            return self.bad_json("input")
        fmt = req.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            return self.send(422, "Failed to deserialize the JSON body into the target type: encoding_format: "
                             "unknown variant `%s`, expected `float` or `base64` at line 1 column 2" % fmt,
                             "text/plain; charset=utf-8")
        model = req.get("model")
        if isinstance(model, str) and model != State.served:
            Log.emit("WARN", "openai_embed: text_embeddings_router::http::server", "router/src/http/server.rs", 1161,
                     "The provided `model=%s` has not been found, the `model` parameter should be provided either "
                     "empty or with `model=%s` instead." % (model, State.served))
        if not self.check_batch(texts, True):
            return
        State.requests += 1
        tokens = sum(len(t.split()) + 2 for t in texts)
        data = []
        for i, t in enumerate(texts):
            vec = sc.fake_vector(t, DIMS)
            if fmt == "base64":
                import base64
                import struct

                vec = base64.b64encode(struct.pack("<%df" % len(vec), *vec)).decode()
            data.append({"object": "embedding", "embedding": vec, "index": i})
        self.success("openai_embed", 1318, started, texts)
        self.send_json(200, {"object": "list", "data": data, "model": State.served,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def tokenize(self):
        req = self.json_body()
        texts = self.inputs(req, "inputs")
        if texts is None:
            return self.bad_json()
        self.send_json(200, [[{"id": 101, "text": "[CLS]", "special": True, "start": None, "stop": None}]
                             + [{"id": 1000 + i, "text": w, "special": False, "start": 0, "stop": len(w)}
                                for i, w in enumerate(t.split())]
                             + [{"id": 102, "text": "[SEP]", "special": True, "start": None, "stop": None}]
                             for t in texts])


def main(argv):
    args = parse(argv)
    Log.json_output = args["json_output"]
    # main.rs:216 -- the first line the router logs; api_key is not redacted.
    info("text_embeddings_router", "router/src/main.rs", 216, args_debug(args))
    cache = args["huggingface_hub_cache"] or os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub")
    mode = sc.fail_mode(cache)
    sc.exit_on_sigterm()
    if args["hf_api_token"] is not None:
        warn("text_embeddings_router", "router/src/main.rs", 235,
             "The `--hf-api-token` argument (and the `HF_API_TOKEN` env var) is deprecated and will be removed in a "
             "future version. Please use `--hf-token` (or the `HF_TOKEN` env var) instead.")
    model_id = args["model_id"]
    global DIMS
    DIMS = KNOWN_DIMS.get(model_id, 384)
    started = time.time()
    info("text_embeddings_core::download", "core/src/download.rs", 20, "Starting download")
    root = os.path.join(cache, "models--" + model_id.replace("/", "--"))
    snap = os.path.join(root, "snapshots", "0" * 40)
    if not os.path.isdir(model_id):
        os.makedirs(os.path.join(root, "refs"), exist_ok=True)
        os.makedirs(os.path.join(snap, "1_Pooling"), exist_ok=True)
        with open(os.path.join(root, "refs", "main"), "w") as f:
            f.write("0" * 40)
        for name, body in (("config.json", {"architectures": ["BertModel"], "model_type": "bert",
                                            "max_position_embeddings": 512, "_standin": True}),
                           ("1_Pooling/config.json", {"word_embedding_dimension": DIMS, "pooling_mode_cls_token": True,
                                                      "pooling_mode_mean_tokens": False})):
            path = os.path.join(snap, name)
            if not os.path.exists(path):
                info("text_embeddings_core::download", "core/src/download.rs", 42, "Downloading `%s`" % name)
                with open(path, "w") as f:
                    json.dump(body, f)
    info("text_embeddings_core::download", "core/src/download.rs", 71,
         "Model artifacts downloaded in %s" % ("%.6fms" % ((time.time() - started) * 1000)))
    max_input = min(512, args["max_batch_tokens"])
    info("text_embeddings_router", "router/src/lib.rs", 221, "Maximum number of tokens per request: %d" % max_input)
    workers = args["tokenization_workers"] or max(1, min(64, (os.cpu_count() or 2) - 1))
    info("text_embeddings_core::tokenization", "core/src/tokenization.rs", 38,
         "Starting %d tokenization workers" % workers)
    info("text_embeddings_router", "router/src/lib.rs", 271, "Starting model backend")
    info("text_embeddings_backend_candle", "backends/candle/src/lib.rs", 311, "Starting Bert model on Cpu")
    info("text_embeddings_router", "router/src/lib.rs", 289, "Warming up model")
    served = args["served_model_name"] or model_id
    State.api_key, State.model_id, State.served = args["api_key"], model_id, served
    State.info = {
        "model_id": model_id, "model_sha": args["revision"], "model_dtype": "float32", "served_model_name": served,
        "model_type": {"embedding": {"pooling": "cls"}}, "max_concurrent_requests": args["max_concurrent_requests"],
        "max_input_length": max_input, "max_batch_tokens": args["max_batch_tokens"], "tokenization_workers": workers,
        "max_batch_requests": args["max_batch_requests"], "max_client_batch_size": args["max_client_batch_size"],
        "auto_truncate": args["auto_truncate"], "version": VERSION, "sha": None, "docker_label": None,
    }
    host = args["hostname"]
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        # HOSTNAME is the container's name in Docker, not an address.
        warn("text_embeddings_router", "router/src/lib.rs", 354, "Invalid hostname, defaulting to 0.0.0.0")
        host = "0.0.0.0"
    server = sc.Server(host, args["port"], TEIHandler)
    TEIHandler.hang = mode == "hang"
    addr = "[%s]:%d" % (host, args["port"]) if ":" in host else "%s:%d" % (host, args["port"])
    info("text_embeddings_router::http::server", "router/src/http/server.rs", 1880, "Starting HTTP server: %s" % addr)
    info("text_embeddings_router::http::server", "router/src/http/server.rs", 1881, "Ready")
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
