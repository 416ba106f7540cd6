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

printf '%-10s %6s %5s %12s %12s %9s %9s %9s %10s %10s %9s\n' program files MB fromscratch "fs --level1" docker crane tar+gzip docker/fs docker/fs1 fs/floor
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
  hyperfine -N -w 1 -r "$runs" --export-json "$work/fs1.json" \
    "$fs build --level 1 -o $work/fs1.tar -t bench/$name:fs1 $prog" >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --export-json "$work/docker.json" \
    "DOCKER_BUILDKIT=0 docker build -q --no-cache -t fromscratch-bench:docker $work" >/dev/null 2>&1
  hyperfine -N -w 1 -r "$runs" --export-json "$work/crane.json" \
    "$crane append -f $work/layer.tar -t bench/$name:crane -o $work/crane.tar" >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --export-json "$work/floor.json" \
    "tar -C $work/ctx -cf - . | gzip -6 > $work/floor.tar.gz" >/dev/null 2>&1
  mean() { jq '.results[0].mean' "$1"; }
  f=$(mean "$work/fs.json") f1=$(mean "$work/fs1.json") d=$(mean "$work/docker.json") c=$(mean "$work/crane.json") g=$(mean "$work/floor.json")
  awk -v n="$name" -v files="$files" -v mb="$mb" -v f="$f" -v f1="$f1" -v d="$d" -v c="$c" -v g="$g" 'BEGIN {
    printf "%-10s %6d %5d %11.3fs %11.3fs %8.3fs %8.3fs %8.3fs %9.1fx %9.1fx %8.2fx\n", n, files, mb, f, f1, d, c, g, d/f, d/f1, f/g }'
  printf '%-10s compressed bytes: level 6 %s, level 1 %s, crane %s\n' "$name" \
    "$(stat -c %s "$work/fs.tar")" "$(stat -c %s "$work/fs1.tar")" "$(stat -c %s "$work/crane.tar")"
done
echo "(docker/fs: how many times slower docker build is than fromscratch (default level 6); docker/fs1: than --level 1; fs/floor: fromscratch's time over tar|gzip -6 of the same bytes)"
