# Builds sessiond with the project's own scripts on Debian 12, then copies
# the binary into a slim runtime image.
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN apt-get update && scripts/install-deps.sh && make

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libcurl4 libjansson4 \
      libconfig9 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin sessiond
COPY --from=build /src/build/sessiond /usr/local/bin/sessiond
COPY conf/sessiond.conf /etc/sessiond/sessiond.conf
USER sessiond
ENTRYPOINT ["/usr/local/bin/sessiond", "-c", "/etc/sessiond/sessiond.conf"]
