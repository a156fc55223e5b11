# syntax=docker/dockerfile:1
# Build: docker build -t harvest .
# Run:   docker run --rm -v harvest-data:/data -v "$PWD/seeds:/seeds:ro" harvest crawl --seeds /seeds --db /data/harvest.db --out /data/out

FROM golang:1.26-bookworm AS build
WORKDIR /src
# go-sqlite3 is cgo: the build stage needs gcc (in this image) and CGO_ENABLED=1.
ENV CGO_ENABLED=1
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/harvest ./cmd/harvest

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin harvest \
 && mkdir -p /data && chown harvest:harvest /data
COPY --from=build /out/harvest /usr/local/bin/harvest
USER harvest
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/harvest"]
CMD ["--help"]
