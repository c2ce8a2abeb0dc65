# linode-ai test stand-in for ghcr.io/huggingface/text-embeddings-inference:cpu-1.9 (tests only;
# see ../CONTRACTS.md). The real `http` stage of Dockerfile at v1.9.x; LD_PRELOAD of Intel's
# libfakeintel.so is left out (no such library here).
ARG BASE
FROM ${BASE}
ENV HUGGINGFACE_HUB_CACHE=/data \
    PORT=80 \
    MKL_ENABLE_INSTRUCTIONS=AVX512_E4 \
    RAYON_NUM_THREADS=8 \
    LD_LIBRARY_PATH=/usr/local/lib
COPY standin_common.py /usr/local/lib/linode-ai-standin/standin_common.py
COPY text_embeddings_router.py /usr/local/bin/text-embeddings-router
RUN chmod 0755 /usr/local/bin/text-embeddings-router
LABEL io.linode-ai.standin="ghcr.io/huggingface/text-embeddings-inference:cpu-1.9 (tests only)"
ENTRYPOINT ["text-embeddings-router"]
CMD ["--json-output"]
