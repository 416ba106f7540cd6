#!/usr/bin/env bash
# bench/doctor.sh: `fromscratch doctor` on a ~1 GB image streams its layers:
# peak memory (RSS, from /usr/bin/time -v) and wall time, for each way of
# naming the image:
#
#   oci-layout:DIR       fromscratch build --oci-layout, the data in one layer
#   docker-archive:TAR   the same image written by fromscratch build -o
#   docker-daemon:NAME   FROM that image's base, COPY of the data in
#                        BENCH_LAYERS layers (docker build), read through the
#                        engine's `docker save` stream
#   docker-archive:TAR   that multi-layer image, `docker save`d
#
# The image runs /usr/bin/jq (its closure: loader, libc, libjq, libonig) and
# holds BENCH_MB MB of random data (incompressible, so the layers are as big
# compressed as not) in BENCH_LAYERS directories of 4 files, plus
# BENCH_SMALL small files. doctor reads every layer to the end (it merges
# them all), so the figures are those of a full pass. A benchmark, not a
# test. See bench/README.md.
#
# Environment:
#   BENCH_MB=1024      MB of data in the image
#   BENCH_LAYERS=4     directories, and Docker layers, the data is split into
#   BENCH_SMALL=10000  1 KiB files added besides (the merged tree's size)
#   BENCH_DOCKER=1     0: skip the docker-daemon and docker save rows
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mb=${BENCH_MB:-1024}
nlayers=${BENCH_LAYERS:-4}
nsmall=${BENCH_SMALL:-10000}
use_docker=${BENCH_DOCKER:-1}
tag=fromscratch-bench/doctor:$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench-doctor.XXXXXX")
cleanup() {
  rm -rf "$tmp"
  if [[ $use_docker == 1 ]]; then
    docker rmi -f "$tag" "$tag-base" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

[[ -x /usr/bin/time ]] || { echo "bench/doctor.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
[[ -x /usr/bin/jq ]] || { echo "bench/doctor.sh: /usr/bin/jq is missing (apt-get install jq)" >&2; exit 2; }
if [[ $use_docker == 1 ]] && ! docker info >/dev/null 2>&1; then
  echo "bench/doctor.sh: no Docker engine answers (BENCH_DOCKER=0 to skip its rows)" >&2
  exit 2
fi

echo "building fromscratch" >&2
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch # static, as installed (README)
fs="$tmp/fromscratch"

echo "writing $mb MB of random data in $nlayers directories, and $nsmall small files" >&2
data="$tmp/ctx"
per=$((mb / nlayers / 4))
for ((l = 0; l < nlayers; l++)); do
  mkdir -p "$data/d$l"
  for ((f = 0; f < 4; f++)); do
    head -c "${per}M" /dev/urandom >"$data/d$l/blob$f"
  done
done
mkdir -p "$data/small"
head -c "$((nsmall * 1024))" /dev/urandom | (cd "$data/small" && split -a 5 -b 1024 - f)

adds=()
for ((l = 0; l < nlayers; l++)); do adds+=(--add "$data/d$l:/data/d$l"); done
adds+=(--add "$data/small:/data/small")
echo "fromscratch build (oci-layout and docker-archive)" >&2
"$fs" build --oci-layout "$tmp/layout" -t "$tag" "${adds[@]}" /usr/bin/jq >/dev/null 2>&1
"$fs" build -o "$tmp/fs.tar" -t "$tag" "${adds[@]}" /usr/bin/jq >/dev/null 2>&1

refs=("oci-layout:$tmp/layout" "docker-archive:$tmp/fs.tar")
if [[ $use_docker == 1 ]]; then
  echo "docker build ($nlayers data layers) and docker save" >&2
  "$fs" build -o "$tmp/base.tar" -t "$tag-base" /usr/bin/jq >/dev/null 2>&1
  docker load -q -i "$tmp/base.tar" >/dev/null
  {
    echo "FROM $tag-base"
    for ((l = 0; l < nlayers; l++)); do echo "COPY d$l /data/d$l"; done
    echo "COPY small /data/small"
  } >"$data/Dockerfile"
  docker build -q -t "$tag" "$data" >/dev/null 2>&1
  docker save -o "$tmp/docker.tar" "$tag"
  refs+=("docker-daemon:$tag" "docker-archive:$tmp/docker.tar")
fi
rm -rf "$data"

printf '%-16s %7s %9s %10s %10s %8s\n' form layers image_MB wall_s peak_RSS_MB RSS/image
for ref in "${refs[@]}"; do
  form=${ref%%:*}
  if [[ $form == docker-daemon ]]; then
    size=$(docker image inspect -f '{{.Size}}' "$tag")
    layers=$(docker image inspect -f '{{len .RootFS.Layers}}' "$tag")
  else
    path=${ref#*:}
    size=$(du -sb "$path" | cut -f1)
    layers=$("$fs" inspect --json "$ref" 2>/dev/null | jq '.layers | length' 2>/dev/null || echo '?')
  fi
  [[ $ref == docker-archive:$tmp/docker.tar ]] && form="docker save"
  rc=0
  /usr/bin/time -v -o "$tmp/time.txt" "$fs" doctor "$ref" >"$tmp/doctor.txt" 2>&1 || rc=$?
  if [[ $rc != 0 ]]; then
    echo "bench/doctor.sh: fromscratch doctor $ref exited $rc:" >&2
    cat "$tmp/doctor.txt" >&2
    exit 1
  fi
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
  awk -v f="$form" -v l="$layers" -v size="$size" -v rss="$rss" -v wall="$wall" 'BEGIN {
    n = split(wall, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]
    printf "%-16s %7s %9.0f %10.2f %10.1f %7.1f%%\n", f, l, size / 1048576, s, rss / 1024, 100 * rss * 1024 / size }'
done
echo "(peak RSS of the fromscratch process; for docker-daemon the engine streams docker save to doctor, which spools it to a temp file)"
