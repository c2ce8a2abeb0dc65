# linode-ai test stand-in for ghcr.io/open-webui/open-webui:v0.11.3 (tests only; see ../CONTRACTS.md).
ARG BASE
FROM ${BASE}
ENV ENV=prod \
    PORT=8080 \
    USE_OLLAMA_DOCKER=false \
    USE_CUDA_DOCKER=false \
    USE_SLIM_DOCKER=false
ENV OLLAMA_BASE_URL="/ollama" \
    OPENAI_API_BASE_URL=""
ENV OPENAI_API_KEY="" \
    WEBUI_SECRET_KEY="" \
    SCARF_NO_ANALYTICS=true \
    DO_NOT_TRACK=true \
    ANONYMIZED_TELEMETRY=false
ENV WHISPER_MODEL="base" \
    WHISPER_MODEL_DIR="/app/backend/data/cache/whisper/models"
ENV SENTENCE_TRANSFORMERS_HOME="/app/backend/data/cache/embedding/models" \
    HF_HOME="/app/backend/data/cache/embedding/models"
WORKDIR /app/backend
ENV HOME=/root
COPY standin_common.py /usr/local/lib/linode-ai-standin/standin_common.py
COPY start.sh ./start.sh
COPY open_webui.py ./open_webui_standin.py
COPY open_webui_rag.py ./open_webui_rag.py
RUN mkdir -p /app/backend/data $HOME/.cache/chroma
LABEL io.linode-ai.standin="ghcr.io/open-webui/open-webui:v0.11.3 (tests only)"
EXPOSE 8080
# The real check pipes to jq; the stand-in base has no jq.
HEALTHCHECK CMD curl --silent --fail http://localhost:${PORT:-8080}/health | grep -q '"status":true' || exit 1
USER 0:0
ENV WEBUI_BUILD_VERSION=linode-ai-standin
CMD [ "bash", "start.sh"]
