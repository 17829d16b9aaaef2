# Gatehouse container image: a release build on Debian, run as an unprivileged user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p gatehouse && cp target/release/gatehouse /gatehouse

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/gatehouse --create-home gatehouse
COPY --from=build /gatehouse /usr/local/bin/gatehouse
USER gatehouse
WORKDIR /var/lib/gatehouse
ENV GATEHOUSE_LISTEN=0.0.0.0:8080 GATEHOUSE_DATA_DIR=/var/lib/gatehouse/data
EXPOSE 8080
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
