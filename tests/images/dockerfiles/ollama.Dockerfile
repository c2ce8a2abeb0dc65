# linode-ai test stand-in for ollama/ollama:0.13.4 (tests only; see ../CONTRACTS.md).
# The real final stage (Dockerfile at v0.13.4): ubuntu:24.04, /bin/ollama, these ENVs.
ARG BASE
FROM ${BASE}
COPY standin_common.py /usr/local/lib/linode-ai-standin/standin_common.py
COPY ollama.py /usr/bin/ollama
# The real image has no curl (the template's post-start uses the ollama CLI).
RUN chmod 0755 /usr/bin/ollama && rm -f /usr/bin/curl && test -x /bin/ollama
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
ENV NVIDIA_VISIBLE_DEVICES=all
ENV OLLAMA_HOST=0.0.0.0:11434
LABEL io.linode-ai.standin="ollama/ollama:0.13.4 (tests only)"
EXPOSE 11434
ENTRYPOINT ["/bin/ollama"]
CMD ["serve"]
