"""Stand-in for vllm/vllm-openai:v0.10.2 (tests only).

Installed as the module vllm.entrypoints.openai.api_server, which is what the
image's ENTRYPOINT runs: ["python3", "-m", "vllm.entrypoints.openai.api_server"].
Argument handling follows v0.10.2: make_arg_parser() accepts an optional
positional `model_tag`, but only `vllm serve` copies it into --model; this
entry point ignores it and serves --model (default "Qwen/Qwen3-0.6B"). A second
positional argument is an error ("api_server.py: error: unrecognized
arguments"). `vllm serve MODEL ...` (the CLI, /usr/local/bin/vllm) does use it.

  --api-key (CLI, takes precedence) or VLLM_API_KEY: required as
    "Authorization: Bearer <key>" on every path that starts with /v1 (401
    {"error": "Unauthorized"} otherwise); every other path is open:
    /health, /ping, /metrics, /version, /load, /tokenize, /detokenize,
    /pooling, /classify, /score, /rerank, /invocations, ...
  GET /v1/models, POST /v1/chat/completions, /v1/completions (stream: SSE)
The served model is "downloaded" into $HF_HOME/hub (default
/root/.cache/huggingface/hub, the image's cache volume).
"""
import argparse
import json
import os
import sys
import time
import uuid

sys.path.insert(0, "/usr/local/lib/linode-ai-standin")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin_common as sc  # noqa: E402

VLLM_VERSION = "0.10.2"
DEFAULT_MODEL = "Qwen/Qwen3-0.6B"
MAX_MODEL_LEN = 32768


def logger(level, fileinfo, lineno, msg):
    # vllm/logger.py: "%(levelname)s %(asctime)s [%(fileinfo)s:%(lineno)d] %(message)s", datefmt "%m-%d %H:%M:%S"
    prefix = os.environ.get("VLLM_LOGGING_PREFIX", "")
    sys.stdout.write("%s%s %s [%s:%d] %s\n" % (prefix, level, time.strftime("%m-%d %H:%M:%S"), fileinfo, lineno, msg))
    sys.stdout.flush()


class UsageError(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        sys.exit(2)


def make_arg_parser(prog):
    p = UsageError(prog=prog, description="vLLM OpenAI-Compatible RESTful API server.", allow_abbrev=False)
    p.add_argument("model_tag", type=str, nargs="?", help="The model tag to serve (optional if specified in config)")
    p.add_argument("--headless", action="store_true", default=False)
    p.add_argument("--api-server-count", "-asc", type=int, default=1)
    p.add_argument("--config", default=None)
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--uvicorn-log-level", default="info")
    p.add_argument("--disable-uvicorn-access-log", action="store_true", default=False)
    p.add_argument("--allowed-origins", type=json.loads, default=["*"])
    p.add_argument("--api-key", nargs="+", default=None)
    p.add_argument("--root-path", default=None)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--served-model-name", nargs="+", default=None)
    p.add_argument("--tokenizer", default=None)
    p.add_argument("--revision", default=None)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    p.add_argument("--download-dir", default=None)
    p.add_argument("--trust-remote-code", action="store_true", default=False)
    p.add_argument("--enable-request-id-headers", action="store_true", default=False)
    p.add_argument("--disable-log-requests", action="store_true", default=False)
    p.add_argument("--chat-template", default=None)
    return p


def parse_args(argv, prog):
    """parse_known_args: the real parser knows ~200 options; unknown `--options`
    are accepted (and listed in the log), but a stray positional is an error."""
    parser = make_arg_parser(prog)
    args, unknown = parser.parse_known_args(argv)
    extra = []
    i = 0
    while i < len(unknown):
        a = unknown[i]
        if a.startswith("-"):
            if "=" not in a and i + 1 < len(unknown) and not unknown[i + 1].startswith("-"):
                i += 1
        else:
            extra.append(a)
        i += 1
    if extra:
        parser.error("unrecognized arguments: %s" % " ".join(extra))
    args.unknown_options = unknown
    return parser, args


def non_default_args(prog, args):
    defaults = vars(make_arg_parser(prog).parse_args([]))
    out = {k: v for k, v in vars(args).items() if k in defaults and defaults[k] != v}
    return out


class State:
    api_keys = set()
    served = []
    model = DEFAULT_MODEL
    max_model_len = MAX_MODEL_LEN
    requests = 0


class VLLMHandler(sc.Handler):
    health_paths = ("/health",)
    server_version = "uvicorn"

    def handle_any(self):
        self.maybe_hang()
        try:
            self.route()
        finally:
            code = getattr(self, "status", 0)
            phrase = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                      405: "Method Not Allowed"}.get(code, "")
            sys.stdout.write('INFO:     %s:%d - "%s %s HTTP/%s" %d %s\n' % (
                self.client_address[0], self.client_address[1], self.command, self.path,
                self.request_version.split("/")[-1], code, phrase))
            sys.stdout.flush()

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = do_OPTIONS = handle_any

    def error(self, code, message, typ, param=None):
        self.send_json(code, {"error": {"message": message, "type": typ, "param": param, "code": code}})

    def route(self):
        p, m = self.path_only(), self.command
        # AuthenticationMiddleware: OPTIONS and paths outside /v1 skip the check.
        if State.api_keys and m != "OPTIONS" and p.startswith("/v1"):
            if self.headers.get("Authorization") not in State.api_keys:
                return self.send_json(401, {"error": "Unauthorized"})
        get = {
            "/health": lambda: self.send(200),
            "/ping": lambda: self.send(200),
            "/version": lambda: self.send_json(200, {"version": VLLM_VERSION}),
            "/load": lambda: self.send_json(200, {"server_load": 0}),
            "/v1/models": self.models,
            "/metrics": self.metrics,
        }
        post = {
            "/ping": lambda: self.send(200),
            "/v1/chat/completions": self.chat,
            "/v1/completions": self.completions,
            "/tokenize": self.tokenize,
            "/detokenize": self.detokenize,
            "/invocations": self.chat,
            "/pooling": lambda: self.error(400, "The model does not support Pooling API", "BadRequestError"),
            "/classify": lambda: self.error(400, "The model does not support Classification API", "BadRequestError"),
            "/score": lambda: self.error(400, "The model does not support Score API", "BadRequestError"),
            "/v1/score": lambda: self.error(400, "The model does not support Score API", "BadRequestError"),
            "/rerank": lambda: self.error(400, "The model does not support Rerank API", "BadRequestError"),
            "/v1/rerank": lambda: self.error(400, "The model does not support Rerank API", "BadRequestError"),
            "/v1/embeddings": lambda: self.error(400, "The model does not support Embeddings API", "BadRequestError"),
        }
        if p.startswith("/metrics") and m in ("GET", "HEAD"):
            return self.metrics()
        table = get if m in ("GET", "HEAD") else post if m == "POST" else {}
        fn = table.get(p)
        if fn:
            return fn()
        if p in get or p in post:
            return self.send_json(405, {"detail": "Method Not Allowed"})
        self.send_json(404, {"detail": "Not Found"})

    def models(self):
        now = int(time.time())
        data = [{"id": name, "object": "model", "created": now, "owned_by": "vllm", "root": State.model,
                 "parent": None, "max_model_len": State.max_model_len,
                 "permission": [{"id": "modelperm-%s" % uuid.uuid4().hex, "object": "model_permission",
                                 "created": now, "allow_create_engine": False, "allow_sampling": True,
                                 "allow_logprobs": True, "allow_search_indices": False, "allow_view": True,
                                 "allow_fine_tuning": False, "organization": "*", "group": None,
                                 "is_blocking": False}]}
                for name in State.served]
        self.send_json(200, {"object": "list", "data": data})

    def metrics(self):
        text = ("# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
                "# TYPE vllm:num_requests_running gauge\n"
                'vllm:num_requests_running{engine="0",model_name="%s"} 0.0\n'
                "# HELP vllm:request_success_total Count of successfully processed requests.\n"
                "# TYPE vllm:request_success_total counter\n"
                'vllm:request_success_total{engine="0",finished_reason="stop",model_name="%s"} %d.0\n'
                % (State.served[0], State.served[0], State.requests))
        self.send(200, text, "text/plain; version=0.0.4; charset=utf-8")

    def request_json(self):
        req = self.json_body()
        if not isinstance(req, dict):
            self.error(400, "Expecting value: line 1 column 1 (char 0)", "Bad Request")
            return None
        model = req.get("model") or State.served[0]
        if model not in State.served:
            self.error(404, "The model `%s` does not exist." % model, "NotFoundError", "model")
            return None
        return req

    def usage(self, prompt, words):
        n_prompt = max(1, len(prompt.split()))
        return {"prompt_tokens": n_prompt, "total_tokens": n_prompt + len(words), "completion_tokens": len(words),
                "prompt_tokens_details": None}

    def chat(self):
        req = self.request_json()
        if req is None:
            return
        msgs = req.get("messages") or []
        prompt = next((str(m.get("content", "")) for m in reversed(msgs) if m.get("role") == "user"), "")
        self.answer(req, prompt, chat=True)

    def completions(self):
        req = self.request_json()
        if req is None:
            return
        prompt = req.get("prompt", "")
        self.answer(req, prompt if isinstance(prompt, str) else json.dumps(prompt), chat=False)

    def answer(self, req, prompt, chat):
        State.requests += 1
        model = req.get("model") or State.served[0]
        words = ("Stand-in reply to: %s" % (prompt.strip()[:200] or "(empty)")).split(" ")
        text = " ".join(words)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created = int(time.time())
        obj = "chat.completion" if chat else "text_completion"
        if not req.get("stream"):
            choice = ({"index": 0, "message": {"role": "assistant", "content": text, "refusal": None,
                                               "annotations": None, "audio": None, "function_call": None,
                                               "tool_calls": [], "reasoning_content": None},
                       "logprobs": None, "finish_reason": "stop", "stop_reason": None}
                      if chat else {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop",
                                    "stop_reason": None, "prompt_logprobs": None})
            return self.send_json(200, {"id": rid, "object": obj, "created": created, "model": model,
                                        "choices": [choice], "usage": self.usage(prompt, words),
                                        "prompt_logprobs": None, "kv_transfer_params": None})
        self.start_stream(200, "text/event-stream; charset=utf-8")
        obj += ".chunk" if chat else ""
        pieces = ([{"role": "assistant", "content": ""}] if chat else []) + [
            w if i == 0 else " " + w for i, w in enumerate(words)]
        for piece in pieces:
            delta = piece if isinstance(piece, dict) else ({"content": piece} if chat else piece)
            choice = ({"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
                      if chat else {"index": 0, "text": delta, "logprobs": None, "finish_reason": None,
                                    "stop_reason": None})
            self.chunk("data: %s\n\n" % json.dumps({"id": rid, "object": obj, "created": created,
                                                     "model": model, "choices": [choice]}))
        last = ({"index": 0, "delta": {"content": ""}, "logprobs": None, "finish_reason": "stop",
                 "stop_reason": None} if chat else {"index": 0, "text": "", "logprobs": None,
                                                    "finish_reason": "stop", "stop_reason": None})
        self.chunk("data: %s\n\n" % json.dumps({"id": rid, "object": obj, "created": created, "model": model,
                                                 "choices": [last]}))
        self.chunk("data: [DONE]\n\n")
        self.end_stream()

    def tokenize(self):
        req = self.json_body() or {}
        text = req.get("prompt") or json.dumps(req.get("messages", ""))
        tokens = [sum(map(ord, w)) % 151643 for w in str(text).split()]
        self.send_json(200, {"count": len(tokens), "max_model_len": State.max_model_len, "tokens": tokens,
                             "token_strs": None})

    def detokenize(self):
        req = self.json_body() or {}
        self.send_json(200, {"prompt": " ".join("<%d>" % t for t in req.get("tokens", []))})


def hf_cache_dir():
    return os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")


def fake_download(model, download_dir):
    """The model's files in the Hugging Face cache layout (the volume keeps them)."""
    root = os.path.join(download_dir or hf_cache_dir(), "models--" + model.replace("/", "--"))
    snap = os.path.join(root, "snapshots", "0" * 40)
    if os.path.isdir(snap):
        return False
    os.makedirs(os.path.join(root, "refs"), exist_ok=True)
    os.makedirs(snap, exist_ok=True)
    with open(os.path.join(root, "refs", "main"), "w") as f:
        f.write("0" * 40)
    with open(os.path.join(snap, "config.json"), "w") as f:
        json.dump({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "_standin": True}, f)
    return True


def run(argv, prog="api_server.py"):
    parser, args = parse_args(argv, prog)
    mode = sc.fail_mode(os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
    sc.exit_on_sigterm()
    logger("INFO", "__init__.py", 216, "Automatically detected platform cuda.")
    logger("INFO", "api_server.py", 1896, "vLLM API server version %s" % VLLM_VERSION)
    logger("INFO", "utils.py", 328, "non-default args: %r" % non_default_args(prog, args))
    if args.unknown_options:
        logger("WARNING", "api_server.py", 1, "linode-ai stand-in: options it does not model: %s"
               % " ".join(args.unknown_options))
    keys = [k for k in (args.api_key or [os.environ.get("VLLM_API_KEY")]) if k]
    State.api_keys = {"Bearer %s" % k for k in keys}
    State.model = args.model
    State.served = args.served_model_name or [args.model]
    State.max_model_len = args.max_model_len or MAX_MODEL_LEN
    if fake_download(args.model, args.download_dir):
        logger("INFO", "weight_utils.py", 0, "linode-ai stand-in: downloaded %s (fake files)" % args.model)
    logger("INFO", "api_server.py", 1692, "Supported_tasks: ['generate']")
    host = args.host or "0.0.0.0"
    server = sc.Server(host if args.host else "0.0.0.0", args.port, VLLMHandler)
    VLLMHandler.hang = mode == "hang"
    logger("INFO", "api_server.py", 1971, "Starting vLLM API server 0 on http://%s:%d" % (host, args.port))
    logger("INFO", "launcher.py", 36, "Available routes are:")
    for route, methods in (("/health", "GET"), ("/v1/models", "GET"), ("/v1/chat/completions", "POST"),
                           ("/v1/completions", "POST"), ("/tokenize", "POST"), ("/pooling", "POST"),
                           ("/invocations", "POST"), ("/metrics", "GET")):
        logger("INFO", "launcher.py", 44, "Route: %s, Methods: %s" % (route, methods))
    sys.stdout.write("INFO:     Started server process [%d]\nINFO:     Waiting for application startup.\n"
                     "INFO:     Application startup complete.\n" % os.getpid())
    sys.stdout.flush()
    server.serve_forever()


def cli(argv):
    """/usr/local/bin/vllm: `vllm serve [model_tag] [options]` copies model_tag into --model."""
    if not argv or argv[0] != "serve":
        sys.stderr.write("usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...\n")
        sys.exit(2)
    rest = argv[1:]
    if rest and not rest[0].startswith("-"):
        rest = ["--model", rest[0]] + rest[1:]
    run(rest, prog="vllm serve")


if __name__ == "__main__":
    run(sys.argv[1:])
