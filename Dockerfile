# Gatehouse container image: a release build on Debian, run as an unprivileged user.
FROM rust:1-bookworm AS build
# samael (SAML) links libxmlsec1/libxml2/OpenSSL and generates bindings with libclang.
RUN apt-get update && apt-get install -y --no-install-recommends libxmlsec1-dev libxml2-dev libclang-dev libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --profile production -p gatehouse && cp target/production/gatehouse /gatehouse

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libxmlsec1 libxmlsec1-openssl libxml2 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/gatehouse --create-home gatehouse
COPY --from=build /gatehouse /usr/local/bin/gatehouse
USER gatehouse
WORKDIR /var/lib/gatehouse
ENV GATEHOUSE_LISTEN=0.0.0.0:8080 GATEHOUSE_DATA_DIR=/var/lib/gatehouse/data
EXPOSE 8080
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
