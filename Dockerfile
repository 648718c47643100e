# devrun's own image, for the compose sidecar: the Go toolchain (the sidecar
# builds the app) and devrun, as a non-root user. Build it with
#   devrun build -t devrun:latest     (or: docker build -t devrun:latest .)

# The base image is a build argument, for mirrors and local copies.
ARG GO_IMAGE=golang:1.26-alpine

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=local
# go.mod and go.sum first: the download layer is reused until they change.
COPY go.* ./
RUN --mount=type=cache,id=devrun-gomod,target=/go/pkg/mod \
    go mod download
COPY . .
# Cache mounts for the module and build caches: a change compiles little.
RUN --mount=type=cache,id=devrun-gomod,target=/go/pkg/mod \
    --mount=type=cache,id=devrun-gobuild,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/devrun ./cmd/devrun

# The runtime keeps the toolchain: the sidecar runs go build.
FROM ${GO_IMAGE}
COPY --from=build /out/devrun /usr/local/bin/devrun
# Not root. The compose file adds the group of the engine's socket
# (group_add), and mounts named volumes over the caches and /devrun, which
# take this ownership.
RUN adduser -D -u 1000 devrun \
 && mkdir -p /devrun /home/devrun/.cache /home/devrun/go /home/devrun/out \
 && chown -R devrun /devrun /home/devrun
USER 1000
# The build cache and module cache live on named volumes; the build output
# stays in the container; no VCS stamping (git is not in the image).
ENV HOME=/home/devrun GOPATH=/home/devrun/go GOCACHE=/home/devrun/.cache/go-build \
    GOFLAGS=-buildvcs=false DEVRUN_BUILD_OUTPUT=/home/devrun/out/bin
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/devrun"]
CMD ["up", "--mode", "compose"]
