# Small non-root image of the firebreak binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/firebreak ./cmd/firebreak

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/firebreak /usr/local/bin/firebreak
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/firebreak"]
