#!/usr/bin/env bash
# bench/go.sh: `fromscratch build --go` against `ko build`, one timed run
# each, on the same Go package, offline: wall time and image bytes.
#
#   push:   fromscratch build --go PKG --push REG/fs-NAME
#           ko build --bare PKG            (KO_DOCKER_REPO=REG/ko-NAME)
#   daemon: fromscratch build --go PKG -o IMAGE.tar && docker load -i IMAGE.tar
#           ko build --local PKG
#
# REG is Debian's docker-registry on 127.0.0.1. ko needs a base image: the
# bench makes one FROM scratch with the runtime files fromscratch puts in its
# own base layer (/etc/passwd, /etc/group, /etc/nsswitch.conf, /tmp,
# /home/nonroot; user 65532), pushes it to REG and sets KO_DEFAULTBASEIMAGE,
# so both images hold the same files but the program. ko runs with
# --sbom=none (fromscratch makes no SBOM) and its default flags (-trimpath;
# no -s -w); a third row gives ko "-s -w" through .ko.yaml.
#
# Each tool builds once untimed first (Go's build cache warm for both), then
# once timed. A benchmark, not a test. See bench/README.md.
#
# Environment:
#   KO=PATH          the ko binary (default: ko in PATH, else
#                    `go install github.com/google/ko@latest` into a temp GOBIN,
#                    which needs the Go module proxy)
#   BENCH_PKGS="hello repo"   which packages: hello, the HTTP server fixture
#                    (standard library only) written to a temp module;
#                    repo, this repository's ./cmd/fromscratch
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench-go.XXXXXX")
regpid=
images=()
cleanup() {
  [[ -n $regpid ]] && kill "$regpid" 2>/dev/null && wait "$regpid" 2>/dev/null || true
  for i in "${images[@]}"; do docker rmi -f "$i" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

for t in go docker docker-registry curl jq; do
  command -v "$t" >/dev/null || { echo "bench/go.sh: $t not found (apt-get install docker-registry curl jq)" >&2; exit 2; }
done

echo "building fromscratch" >&2
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch # static, as installed (README)
fs=$tmp/fromscratch

ko=${KO:-$(command -v ko || true)}
if [[ -z $ko ]]; then
  echo "installing ko (go install github.com/google/ko@latest)" >&2
  if ! GOBIN=$tmp/bin go install github.com/google/ko@latest >"$tmp/ko-install.log" 2>&1; then
    echo "bench/go.sh: ko could not be installed from the Go module proxy:" >&2
    tail -5 "$tmp/ko-install.log" >&2
    exit 2
  fi
  ko=$tmp/bin/ko
fi
echo "ko: $("$ko" version)" >&2

# The registry.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 15000)
reg=127.0.0.1:$port
cat >"$tmp/registry.yml" <<CONF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: $reg
CONF
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 100); do curl -fs "http://$reg/v2/" >/dev/null && break; sleep 0.1; done
curl -fs "http://$reg/v2/" >/dev/null || { echo "bench/go.sh: docker-registry did not start" >&2; exit 2; }

# ko's base image: fromscratch's runtime files, FROM scratch.
mkdir -p "$tmp/base/rootfs/etc" "$tmp/base/rootfs/tmp" "$tmp/base/rootfs/home/nonroot"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$tmp/base/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$tmp/base/rootfs/etc/group"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' >"$tmp/base/rootfs/etc/nsswitch.conf"
chmod 1777 "$tmp/base/rootfs/tmp"
chmod 0700 "$tmp/base/rootfs/home/nonroot"
printf 'FROM scratch\nCOPY --chown=0:0 rootfs/ /\nUSER 65532:65532\n' >"$tmp/base/Dockerfile"
base=$reg/base:latest
DOCKER_BUILDKIT=0 docker build -q -t "$base" "$tmp/base" >/dev/null 2>"$tmp/base.log" ||
  docker build -q -t "$base" "$tmp/base" >/dev/null
images+=("$base")
docker push -q "$base" >/dev/null
export KO_DEFAULTBASEIMAGE=$base

# ms runs a command and prints its wall time in milliseconds; its output
# goes to $tmp/last.log.
ms() {
  local s e
  s=$(date +%s%N)
  "$@" >"$tmp/last.log" 2>&1 || { echo "bench/go.sh: failed: $*" >&2; cat "$tmp/last.log" >&2; exit 1; }
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}

# regbytes REPO TAG: the compressed bytes of an image in the registry
# (config + layers, as a pull downloads them), and its layer count.
regbytes() {
  curl -fs -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/$1/manifests/$2" |
    jq -r '"\(.config.size + ([.layers[].size] | add)) \(.layers | length)"'
}

# The packages: DIR PKG NAME.
pkgs=()
for p in ${BENCH_PKGS:-hello repo}; do
  case $p in
  hello)
    mkdir -p "$tmp/hello/cmd/hello"
    printf 'module example.com/hello\n\ngo 1.22\n' >"$tmp/hello/go.mod"
    cat >"$tmp/hello/cmd/hello/main.go" <<'GO'
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s\n", r.URL.Path) })
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
GO
    pkgs+=("$tmp/hello ./cmd/hello hello")
    ;;
  repo) pkgs+=("$repo ./cmd/fromscratch fromscratch") ;;
  *) echo "bench/go.sh: unknown package $p (hello, repo)" >&2; exit 2 ;;
  esac
done

printf '\n%-12s %-7s %-28s %9s %12s %7s\n' package mode tool wall_ms image_bytes layers
for p in "${pkgs[@]}"; do
  read -r dir pkg name <<<"$p"
  cd "$dir"
  # ko with -s -w, through its config file.
  mkdir -p "$tmp/koconf-$name"
  printf 'builds:\n- id: %s\n  main: %s\n  ldflags:\n  - -s -w\n' "$name" "$pkg" >"$tmp/koconf-$name/.ko.yaml"

  # push
  fsref=$reg/fs-$name:latest
  "$fs" build --go "$pkg" --push "$fsref" >/dev/null 2>&1 # warm-up
  t=$(ms "$fs" build --go "$pkg" --push "$fsref")
  read -r b n < <(regbytes "fs-$name" latest)
  printf '%-12s %-7s %-28s %9d %12d %7d\n' "$name" push "fromscratch build --go" "$t" "$b" "$n"

  KO_DOCKER_REPO=$reg/ko-$name "$ko" build --bare --sbom=none "$pkg" >/dev/null 2>&1 # warm-up
  t=$(ms env KO_DOCKER_REPO="$reg/ko-$name" "$ko" build --bare --sbom=none "$pkg")
  read -r b n < <(regbytes "ko-$name" latest)
  printf '%-12s %-7s %-28s %9d %12d %7d\n' "$name" push "ko build" "$t" "$b" "$n"

  KO_CONFIG_PATH=$tmp/koconf-$name KO_DOCKER_REPO=$reg/kos-$name "$ko" build --bare --sbom=none "$pkg" >/dev/null 2>&1
  t=$(ms env KO_CONFIG_PATH="$tmp/koconf-$name" KO_DOCKER_REPO="$reg/kos-$name" "$ko" build --bare --sbom=none "$pkg")
  read -r b n < <(regbytes "kos-$name" latest)
  printf '%-12s %-7s %-28s %9d %12d %7d\n' "$name" push "ko build (.ko.yaml -s -w)" "$t" "$b" "$n"

  # daemon
  fstag=fromscratch-bench/$name:latest
  images+=("$fstag")
  "$fs" build --go "$pkg" -o "$tmp/$name.tar" -t "$fstag" >/dev/null 2>&1 && docker load -q -i "$tmp/$name.tar" >/dev/null
  t=$(ms sh -c "'$fs' build --go '$pkg' -o '$tmp/$name.tar' -t '$fstag' && docker load -q -i '$tmp/$name.tar'")
  b=$(docker image inspect -f '{{.Size}}' "$fstag")
  n=$(docker image inspect -f '{{len .RootFS.Layers}}' "$fstag")
  printf '%-12s %-7s %-28s %9d %12d %7d\n' "$name" daemon "fromscratch -o + docker load" "$t" "$b" "$n"

  "$ko" build --local --bare --sbom=none "$pkg" >/dev/null 2>&1
  t=$(ms "$ko" build --local --bare --sbom=none "$pkg")
  kotag=$(tail -1 "$tmp/last.log")
  images+=("$kotag")
  b=$(docker image inspect -f '{{.Size}}' "$kotag")
  n=$(docker image inspect -f '{{len .RootFS.Layers}}' "$kotag")
  printf '%-12s %-7s %-28s %9d %12d %7d\n' "$name" daemon "ko build --local" "$t" "$b" "$n"
done
echo
echo "push: image_bytes = config + compressed layers in the registry; daemon: docker image inspect Size (uncompressed)."
echo "machine: $(nproc) cores; go: $(go env GOVERSION); ko: $("$ko" version)"
