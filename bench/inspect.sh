#!/usr/bin/env bash
# bench/inspect.sh: `fromscratch inspect` of an image in the Docker engine
# and of its `docker save` archive, against `docker save` itself and dive
# (`dive --ci`), one run each on the same image. See bench/README.md. Not a
# test.
#
# The image is FROM scratch: busybox (busybox-static) in one layer, then
# BENCH_LAYERS RUN layers of BENCH_MB MB of random data and BENCH_SMALL
# small files each (about 355 MB in 4 layers by default).
#
# Environment:
#   BENCH_LAYERS=3    RUN layers on top of the busybox one
#   BENCH_MB=117      MB of random data per RUN layer
#   BENCH_SMALL=1000  1 KiB files per RUN layer
#   DIVE=PATH         the dive to run (default: dive in PATH; Debian has no
#                     dive package, so without one its rows are skipped)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

nlayers=${BENCH_LAYERS:-3}
mb=${BENCH_MB:-117}
nsmall=${BENCH_SMALL:-1000}
tag=fromscratch-bench/inspect:$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fromscratch-bench-inspect.XXXXXX")
cleanup() {
	docker rmi -f "$tag" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

[[ -x /bin/busybox ]] || { echo "bench/inspect.sh: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "bench/inspect.sh: no Docker engine answers" >&2; exit 2; }
dive=${DIVE:-$(command -v dive || true)}

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
# timed NAME CMD...: runs CMD once (stdout discarded), sets t_NAME.
timed() {
	local n=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>>"$tmp/stderr" || echo "bench/inspect.sh: $* exited $? (kept as timed)" >&2
	t1=$(now)
	printf -v "t_$n" '%s' "$(secs "$t0" "$t1")"
}

echo "building fromscratch" >&2
CGO_ENABLED=0 go build -o "$tmp/fromscratch" ./cmd/fromscratch # static, as installed (README)
fs="$tmp/fromscratch"

echo "docker build: busybox and $nlayers layers of $mb MB and $nsmall small files" >&2
mkdir -p "$tmp/ctx"
cp /bin/busybox "$tmp/ctx/busybox"
{
	echo "FROM scratch"
	echo "COPY busybox /bin/busybox"
	for ((l = 1; l <= nlayers; l++)); do
		echo "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mkdir -p /data/$l/small && /bin/busybox head -c ${mb}m /dev/urandom > /data/$l/random && i=0 && while [ \$i -lt $nsmall ]; do /bin/busybox head -c 1024 /dev/urandom > /data/$l/small/\$i; i=\$((i + 1)); done\"]"
	done
	echo 'ENTRYPOINT ["/bin/busybox"]'
} >"$tmp/ctx/Dockerfile"
docker build -q -t "$tag" "$tmp/ctx" >/dev/null 2>"$tmp/build.err" || { cat "$tmp/build.err" >&2; exit 1; }
layers=$(docker image inspect -f '{{len .RootFS.Layers}}' "$tag")
size=$(docker image inspect -f '{{.Size}}' "$tag")
docker save "$tag" >/dev/null # untimed: every row below finds the engine's files in the page cache

echo "timing, one run each" >&2
timed save docker save -o "$tmp/image.tar" "$tag"
timed fs_daemon "$fs" inspect "docker-daemon:$tag"
timed fs_archive "$fs" inspect "$tmp/image.tar"
if [[ -n $dive ]]; then
	# dive reads .dive-ci from its working directory: run it where there is none.
	timed dive_daemon env -C "$tmp" "$dive" --ci --source docker "$tag"
	timed dive_archive env -C "$tmp" "$dive" --ci --source docker-archive "$tmp/image.tar"
fi

echo
echo "machine: $(nproc) cores; image: $layers layers, $((size / 1000000)) MB ($(docker version -f '{{.Server.Version}}') engine)"
printf '%-44s %8s s\n' "docker save -o image.tar" "$t_save"
printf '%-44s %8s s\n' "fromscratch inspect docker-daemon:IMAGE" "$t_fs_daemon"
printf '%-44s %8s s\n' "fromscratch inspect image.tar" "$t_fs_archive"
if [[ -n $dive ]]; then
	printf '%-44s %8s s\n' "dive --ci --source docker IMAGE" "$t_dive_daemon"
	printf '%-44s %8s s\n' "dive --ci --source docker-archive image.tar" "$t_dive_archive"
else
	echo "dive: not installed (Debian has no dive package): its rows are skipped; DIVE=PATH to add them"
fi
echo "fromscratch (engine) / docker save:   $(ratio "$t_fs_daemon" "$t_save")  (goal: <= 1.2)"
if [[ -n $dive ]]; then
	echo "dive / fromscratch (engine):          $(ratio "$t_dive_daemon" "$t_fs_daemon")"
	echo "dive / fromscratch (archive):         $(ratio "$t_dive_archive" "$t_fs_archive")"
fi
