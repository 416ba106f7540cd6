#!/usr/bin/env bash
# bench/build.sh: how fast is `fromscratch build` against the other ways to
# make the same image, in one run, for the same files:
#
#   fromscratch build -o IMG.tar PROGRAM      no daemon, plain tar layers
#   fromscratch build --level 6 -o ...        gzip layers (as --push writes)
#   docker build (FROM scratch, COPY of the same files)
#   crane append -f LAYER.tar -o IMG.tar      go-containerregistry's CLI
#   tar c FILES, tar c FILES | gzip -6        the floors: the layer bytes alone
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
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch # static, as installed (README)
GOBIN="$tmp" go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
fs="$tmp/fromscratch"
crane="$tmp/crane"

printf '%-8s %5s %4s %9s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s\n' program files MB fs fs-gzip6 docker crane "tar" tar+gzip6 docker/fs dock/fs6 crane/fs6 fs/tar fs6/tgz
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
    tar -xf "$work/unpack/$l" -C "$work/ctx" # plain or gzip: GNU tar tells
  done
  files=$(find "$work/ctx" -type f | wc -l)
  mb=$(du -sm --apparent-size "$work/ctx" | cut -f1)
  (cd "$work/ctx" && tar -cf "$work/layer.tar" .)
  printf 'FROM scratch\nCOPY ctx/ /\nENTRYPOINT ["%s"]\n' "$prog" >"$work/Dockerfile"

  # Every output is written to a path that does not exist yet (--prepare
  # removes the last run's), as docker build makes new layers: replacing a
  # big file costs its filesystem a flush on ext4 (auto_da_alloc), whoever
  # writes it.
  hyperfine -N -w 1 -r "$runs" --prepare "rm -f $work/fs.tar" --export-json "$work/fs.json" \
    "$fs build -o $work/fs.tar -t bench/$name:fs $prog" >/dev/null 2>&1
  hyperfine -N -w 1 -r "$runs" --prepare "rm -f $work/fs6.tar" --export-json "$work/fs6.json" \
    "$fs build --level 6 -o $work/fs6.tar -t bench/$name:fs6 $prog" >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --export-json "$work/docker.json" \
    "DOCKER_BUILDKIT=0 docker build -q --no-cache -t fromscratch-bench:docker $work" >/dev/null 2>&1
  hyperfine -N -w 1 -r "$runs" --prepare "rm -f $work/crane.tar" --export-json "$work/crane.json" \
    "$crane append -f $work/layer.tar -t bench/$name:crane -o $work/crane.tar" >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --prepare "rm -f $work/floor.tar" --export-json "$work/tar.json" \
    "tar -C $work/ctx -cf $work/floor.tar ." >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --prepare "rm -f $work/floor.tar.gz" --export-json "$work/floor.json" \
    "tar -C $work/ctx -cf - . | gzip -6 > $work/floor.tar.gz" >/dev/null 2>&1
  mean() { jq '.results[0].mean' "$1"; }
  f=$(mean "$work/fs.json") f6=$(mean "$work/fs6.json") d=$(mean "$work/docker.json") c=$(mean "$work/crane.json")
  t=$(mean "$work/tar.json") g=$(mean "$work/floor.json")
  awk -v n="$name" -v files="$files" -v mb="$mb" -v f="$f" -v f6="$f6" -v d="$d" -v c="$c" -v t="$t" -v g="$g" 'BEGIN {
    printf "%-8s %5d %4d %8.3fs %8.3fs %8.3fs %8.3fs %8.3fs %8.3fs %8.1fx %8.1fx %7.1fx %7.2fx %7.2fx\n", n, files, mb, f, f6, d, c, t, g, d/f, d/f6, c/f6, f/t, f6/g }'
  printf '%-8s bytes: fs %s (plain tar layers), fs --level 6 %s, crane %s\n' "$name" \
    "$(stat -c %s "$work/fs.tar")" "$(stat -c %s "$work/fs6.tar")" "$(stat -c %s "$work/crane.tar")"
done
echo "(fs: fromscratch build -o, plain tar layers as docker save writes them; fs-gzip6: with --level 6, the layers --push and --oci-layout write; docker/fs, dock/fs6, crane/fs6: how many times slower; fs/tar: fs over tar c of the same bytes; fs6/tgz: fs-gzip6 over tar c | gzip -6)"
