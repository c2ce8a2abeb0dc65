# linode-ai test stand-in for vllm/vllm-openai:v0.10.2 (tests only; see ../CONTRACTS.md).
# The real target `vllm-openai` (docker/Dockerfile): WORKDIR /vllm-workspace and
# ENTRYPOINT ["python3", "-m", "vllm.entrypoints.openai.api_server"].
ARG BASE
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    UV_HTTP_TIMEOUT=500 \
    VLLM_USAGE_SOURCE=production-docker-image
WORKDIR /vllm-workspace
COPY standin_common.py /usr/local/lib/linode-ai-standin/standin_common.py
COPY vllm_api_server.py /usr/local/lib/python3.11/dist-packages/vllm/entrypoints/openai/api_server.py
COPY vllm_cli.py /usr/local/bin/vllm
RUN set -e; d=/usr/local/lib/python3.11/dist-packages/vllm; \
    echo '__version__ = "0.10.2"' > $d/__init__.py; : > $d/entrypoints/__init__.py; : > $d/entrypoints/openai/__init__.py; \
    chmod 0755 /usr/local/bin/vllm; python3 -c 'import vllm.entrypoints.openai.api_server'
LABEL io.linode-ai.standin="vllm/vllm-openai:v0.10.2 (tests only)"
ENTRYPOINT ["python3", "-m", "vllm.entrypoints.openai.api_server"]
