# linode-ai test stand-in for qdrant/qdrant:v1.19.0 (tests only; see ../CONTRACTS.md).
# The real final stage (qdrant/qdrant Dockerfile at v1.19.0, `qdrant-cpu`): debian:13-slim +
# ca-certificates tzdata libunwind8, /qdrant/{qdrant,config,entrypoint.sh,static}, USER 0:0,
# WORKDIR /qdrant, ENV TZ RUN_MODE, EXPOSE 6333 6334, CMD ["./entrypoint.sh"]. No curl, no wget.
ARG BASE
FROM ${BASE}
COPY standin_common.py /usr/local/lib/linode-ai-standin/standin_common.py
COPY qdrant.py /qdrant/qdrant
COPY qdrant_entrypoint.sh /qdrant/entrypoint.sh
RUN set -e; chmod 0755 /qdrant/qdrant /qdrant/entrypoint.sh; rm -f /usr/bin/curl /usr/bin/wget; \
    mkdir -p /qdrant/config /qdrant/static; \
    printf '# linode-ai stand-in: the real defaults it follows (config/config.yaml at v1.19.0), read from\n# the environment (QDRANT__SECTION__KEY) only, not from this file.\nlog_level: INFO\nstorage:\n  storage_path: ./storage\n  snapshots_path: ./snapshots\nservice:\n  host: 0.0.0.0\n  http_port: 6333\n  grpc_port: 6334\n  enable_cors: true\ntelemetry_disabled: false\n' > /qdrant/config/config.yaml; \
    printf 'log_level: INFO\n' > /qdrant/config/production.yaml; \
    printf '<!doctype html><title>Qdrant Web UI (stand-in)</title>\n' > /qdrant/static/index.html
WORKDIR /qdrant
USER 0:0
ENV TZ=Etc/UTC \
    RUN_MODE=production
EXPOSE 6333
EXPOSE 6334
LABEL org.opencontainers.image.title="Qdrant"
LABEL org.opencontainers.image.description="Official Qdrant image"
LABEL org.opencontainers.image.source="https://github.com/qdrant/qdrant"
LABEL org.opencontainers.image.vendor="Qdrant"
LABEL io.linode-ai.standin="qdrant/qdrant:v1.19.0 (tests only)"
CMD ["./entrypoint.sh"]
