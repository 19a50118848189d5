# The photostream image: one binary, every role (`serve --role api|processors|all`).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p photostream-cli

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/photostream photostream \
    && mkdir -p /var/lib/photostream && chown photostream /var/lib/photostream
COPY --from=build /src/target/release/photostream /usr/local/bin/photostream
COPY config/photostream.toml /etc/photostream/photostream.toml
USER photostream
WORKDIR /var/lib/photostream
EXPOSE 8080
ENTRYPOINT ["photostream"]
CMD ["serve", "--config", "/etc/photostream/photostream.toml", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/photostream"]
