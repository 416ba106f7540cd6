#!/usr/bin/env bash
# Squash a 20-layer image of >= 500 MB with fromscratch, crane flatten and
# docker export | docker import, in one run, and the tar | gzip floor of the
# output bytes. See bench/README.md. Not a test.
set -euo pipefail

cd "$(dirname "$0")/.."
LAYERS=${BENCH_LAYERS:-19}      # RUN layers on top of the busybox layer
MB_RANDOM=${BENCH_MB_RANDOM:-16} # incompressible MB per layer
MB_TEXT=${BENCH_MB_TEXT:-12}     # compressible MB per layer
PORT=${BENCH_PORT:-5077}

work=$(mktemp -d /tmp/fromscratch-bench-squash.XXXXXX)
reg_pid=""
tag=fromscratch-bench/squash:src
cleanup() {
	[ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null || true
	docker rm -f fsbench-export >/dev/null 2>&1 || true
	docker rmi -f "$tag" fromscratch-bench/squash:imported "127.0.0.1:$PORT/bench:src" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

echo "== building fromscratch and crane (go-containerregistry v0.22.1)"
CGO_ENABLED=0 go build -o "$work/fromscratch" ./cmd/fromscratch # static, as installed (README)
GOBIN="$work" go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
fs="$work/fromscratch"
crane="$work/crane"

echo "== making a $((LAYERS + 1))-layer image"
ctx="$work/ctx"
mkdir -p "$ctx"
cp /bin/busybox "$ctx/busybox"
{
	echo "FROM scratch"
	echo "COPY busybox /bin/busybox"
	for i in $(seq 1 "$LAYERS"); do
		# Random bytes, compressible text, and every third layer deletes or
		# overwrites something of the layer below (waste to drop).
		cmd="/bin/busybox mkdir -p /data/$i && /bin/busybox head -c ${MB_RANDOM}m /dev/urandom > /data/$i/random && /bin/busybox seq 1 100000000 | /bin/busybox head -c ${MB_TEXT}m > /data/$i/text"
		if [ "$i" -gt 1 ] && [ $((i % 3)) -eq 0 ]; then
			cmd="$cmd && /bin/busybox rm -rf /data/$((i - 1))/text && /bin/busybox head -c 1m /dev/urandom > /data/$((i - 2))/random"
		fi
		echo "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"$cmd\"]"
	done
	echo 'ENTRYPOINT ["/bin/busybox"]'
} > "$ctx/Dockerfile"
docker build -q -t "$tag" "$ctx" >/dev/null
docker save -o "$work/src.tar" "$tag"
layers=$(docker image inspect -f '{{len .RootFS.Layers}}' "$tag")
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "image: $layers layers, $((size / 1000000)) MB (uncompressed, as docker counts)"

echo "== local registry on 127.0.0.1:$PORT"
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.2; done
reg=127.0.0.1:$PORT
docker tag "$tag" "$reg/bench:src"
docker push -q "$reg/bench:src" >/dev/null
"$crane" pull --format oci "$reg/bench:src" "$work/src-oci" >/dev/null 2>&1 || "$crane" pull --format=oci "$reg/bench:src" "$work/src-oci"
sync

echo "== timing (one run each)"
t0=$(now)
"$fs" squash --insecure --push "$reg/bench:fromscratch" "$reg/bench:src" >/dev/null 2>"$work/fs.err"
t1=$(now)
fs_reg=$(secs "$t0" "$t1")

t0=$(now)
"$crane" flatten --insecure -t "$reg/bench:crane" "$reg/bench:src" >/dev/null 2>"$work/crane.err"
t1=$(now)
crane_reg=$(secs "$t0" "$t1")

t0=$(now)
"$fs" squash --oci-layout "$work/fs-oci" -t bench:flat "oci-layout:$work/src-oci" >/dev/null 2>>"$work/fs.err"
t1=$(now)
fs_oci=$(secs "$t0" "$t1")

t0=$(now)
"$fs" squash -o "$work/fs.tar" -t bench:flat "docker-archive:$work/src.tar" >/dev/null 2>>"$work/fs.err"
t1=$(now)
fs_archive=$(secs "$t0" "$t1")

t0=$(now)
docker create --name fsbench-export "$tag" >/dev/null
docker export fsbench-export | docker import - fromscratch-bench/squash:imported >/dev/null
t1=$(now)
docker_ei=$(secs "$t0" "$t1")

# The floor: tar | gzip -6 of the output's files (extracted from the
# squashed layer, so the same bytes).
mkdir -p "$work/flat"
"$crane" export "$reg/bench:fromscratch" - 2>/dev/null | tar -C "$work/flat" -xf -
t0=$(now)
tar -C "$work/flat" -cf - . | gzip -6 > "$work/floor.tar.gz"
t1=$(now)
floor=$(secs "$t0" "$t1")
out_bytes=$(du -sb "$work/flat" | cut -f1)

fs_size=$("$crane" manifest "$reg/bench:fromscratch" --insecure | grep -o '"size": *[0-9]*' | tail -1 | grep -o '[0-9]*$')
crane_size=$("$crane" manifest "$reg/bench:crane" --insecure | grep -o '"size": *[0-9]*' | tail -1 | grep -o '[0-9]*$')

ratio() { echo "scale=2; $1 / $2" | bc; }
echo
echo "machine: $(nproc) cores; input: $layers layers, $((size / 1000000)) MB; output files: $((out_bytes / 1000000)) MB"
printf '%-52s %8s s\n' "fromscratch squash registry -> registry" "$fs_reg"
printf '%-52s %8s s\n' "crane flatten registry -> registry" "$crane_reg"
printf '%-52s %8s s\n' "fromscratch squash oci-layout -> oci-layout" "$fs_oci"
printf '%-52s %8s s\n' "fromscratch squash docker-archive -> docker-archive" "$fs_archive"
printf '%-52s %8s s\n' "docker export | docker import" "$docker_ei"
printf '%-52s %8s s\n' "floor: tar | gzip -6 of the output files" "$floor"
echo "compressed squashed layer: fromscratch $((fs_size / 1000000)) MB, crane $((crane_size / 1000000)) MB, tar|gzip $(($(stat -c %s "$work/floor.tar.gz") / 1000000)) MB"
echo "crane / fromscratch (registry):          $(ratio "$crane_reg" "$fs_reg")"
echo "docker export|import / fromscratch:      $(ratio "$docker_ei" "$fs_archive")"
echo "fromscratch (registry) / tar|gzip floor: $(ratio "$fs_reg" "$floor")"
echo "fromscratch (oci-layout) / tar|gzip floor: $(ratio "$fs_oci" "$floor")"
