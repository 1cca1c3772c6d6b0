# Small non-root image of the production firebreak binary. It is built with -tags noserver,
# which leaves the embedded Temporal server out (about a third of the size and of the idle
# memory): every command in the image dials TEMPORAL_ADDRESS, and `firebreak dev` is not in it.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -tags noserver -trimpath -ldflags="-s -w" -o /out/firebreak ./cmd/firebreak

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/firebreak /usr/local/bin/firebreak
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/firebreak"]
