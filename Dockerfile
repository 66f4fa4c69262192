# sessiond container image: built with the project's own scripts on
# Debian 12, then only the binary and its runtime libraries in a slim
# image, run as an unprivileged user. Settings come from a mounted file:
#   docker run -p 8080:8080 -v $PWD/sessiond.conf:/etc/sessiond/sessiond.conf:ro sessiond
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN apt-get update \
 && SESSIOND_DEPS=build scripts/install-deps.sh \
 && make \
 && sed 's|address = "127.0.0.1";   |address = "0.0.0.0";     |' conf/sessiond.conf > build/sessiond.conf

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libcurl4 libssl3 libjansson4 \
      libconfig9 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin sessiond
COPY --from=build /src/build/sessiond /usr/local/bin/sessiond
COPY --from=build /src/build/sessiond.conf /etc/sessiond/sessiond.conf
USER sessiond
EXPOSE 8080
# SIGTERM: with limits.drain = S, S seconds more of serving (/readyz 503,
# Connection: close), then in-flight requests are answered, the reaper
# stops, exit 0. The runtime's stop timeout must cover S +
# limits.request_timeout_ms + a margin: `docker stop -t 40`, Compose
# stop_grace_period, ECS stopTimeout, Kubernetes terminationGracePeriodSeconds
# (docs/deploy.md). A second SIGTERM ends the drain.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sessiond", "-c", "/etc/sessiond/sessiond.conf"]
