# MinIO publishes source only: build the server from the Go module proxy, as the local stack does.
FROM golang:1.24-bookworm AS build
RUN GOBIN=/out go install github.com/minio/minio@latest

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/minio /usr/local/bin/minio
EXPOSE 9000 9001
ENTRYPOINT ["/usr/local/bin/minio"]
CMD ["server", "/data", "--console-address", ":9001"]
