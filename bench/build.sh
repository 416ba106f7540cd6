#!/usr/bin/env bash
# bench/build.sh: how fast is `fromscratch build` against the other ways to
# make the same image, in one run, for the same files:
#
#   fromscratch build -o IMG.tar PROGRAM      no daemon
#   docker build (FROM scratch, COPY of the same files)
#   crane append -f LAYER.tar -o IMG.tar      go-containerregistry's CLI
#   tar c FILES | gzip                        the floor: the layer bytes alone
#
# for each PROGRAM (default: /usr/bin/curl /usr/bin/ffmpeg). A benchmark,
# not a test. Needs docker (an engine), hyperfine, jq, and the Go module
# proxy for crane (installed into a temp GOBIN). See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

programs=(${BENCH_PROGRAMS:-/usr/bin/curl /usr/bin/ffmpeg})
runs=${BENCH_RUNS:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench-build.XXXXXX")
trap 'rm -rf "$tmp"; docker rmi -f fromscratch-bench:docker >/dev/null 2>&1 || true' EXIT

for t in docker hyperfine jq gzip tar; do
  command -v "$t" >/dev/null || { echo "bench/build.sh: $t is missing" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "bench/build.sh: no Docker engine answers" >&2; exit 2; }

echo "building fromscratch and crane" >&2
go build -o "$tmp/fromscratch" ./cmd/fromscratch
GOBIN="$tmp" go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
fs="$tmp/fromscratch"
crane="$tmp/crane"

printf '%-16s %10s %10s %10s %10s %10s %9s %9s %9s\n' program files MB fromscratch docker crane tar+gzip docker/fs crane/fs fs/floor
for prog in "${programs[@]}"; do
  [[ -x $prog ]] || { echo "bench/build.sh: $prog missing (apt-get install ...)" >&2; continue; }
  name=$(basename "$prog")
  work="$tmp/$name"
  mkdir -p "$work/ctx"
  # The image's own files, unpacked: the same bytes for every tool.
  "$fs" build -o "$work/ref.tar" -t "bench/$name:ref" "$prog" >/dev/null 2>&1
  mkdir -p "$work/unpack"
  tar -xf "$work/ref.tar" -C "$work/unpack"
  for l in $(jq -r '.[0].Layers[]' "$work/unpack/manifest.json"); do
    tar -xzf "$work/unpack/$l" -C "$work/ctx"
  done
  files=$(find "$work/ctx" -type f | wc -l)
  mb=$(du -sm --apparent-size "$work/ctx" | cut -f1)
  (cd "$work/ctx" && tar -cf "$work/layer.tar" .)
  printf 'FROM scratch\nCOPY ctx/ /\nENTRYPOINT ["%s"]\n' "$prog" >"$work/Dockerfile"

  hyperfine -N -w 1 -r "$runs" --export-json "$work/fs.json" \
    "$fs build -o $work/fs.tar -t bench/$name:fs $prog" >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --export-json "$work/docker.json" \
    "DOCKER_BUILDKIT=0 docker build -q --no-cache -t fromscratch-bench:docker $work" >/dev/null 2>&1
  hyperfine -N -w 1 -r "$runs" --export-json "$work/crane.json" \
    "$crane append -f $work/layer.tar -t bench/$name:crane -o $work/crane.tar" >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --export-json "$work/floor.json" \
    "tar -C $work/ctx -cf - . | gzip -6 > $work/floor.tar.gz" >/dev/null 2>&1
  mean() { jq '.results[0].mean' "$1"; }
  f=$(mean "$work/fs.json") d=$(mean "$work/docker.json") c=$(mean "$work/crane.json") g=$(mean "$work/floor.json")
  awk -v n="$name" -v files="$files" -v mb="$mb" -v f="$f" -v d="$d" -v c="$c" -v g="$g" 'BEGIN {
    printf "%-16s %10d %10d %9.3fs %9.3fs %9.3fs %9.3fs %8.1fx %8.1fx %8.2fx\n", n, files, mb, f, d, c, g, d/f, c/f, f/g }'
done
echo "(docker/fs and crane/fs: how many times slower than fromscratch; fs/floor: fromscratch's time over tar|gzip of the same bytes)"
