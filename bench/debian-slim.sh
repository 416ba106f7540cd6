#!/usr/bin/env bash
# bench/debian-slim.sh BASE TAG [PACKAGE...]
#
# Makes a debian:12-slim-like image TAG in the Docker engine from BASE, a
# root made by `debootstrap --variant=minbase bookworm` (as debian:12-slim
# is), with PACKAGEs installed as a Dockerfile would
# (`apt-get install -y --no-install-recommends`), in a chroot of a copy of
# BASE. The copy is slimmed as debuerreotype slims debian:12-slim: dpkg
# leaves out /usr/share/{doc,info,man,locale,...} (copyright files kept)
# for what is installed and what was, then apt's caches and lists go. The
# root is imported FROM scratch as one layer (docker import); the copy is
# removed. Used by bench/packages.sh and TestPackagesSizes.
set -euo pipefail

base=${1:?usage: debian-slim.sh BASE TAG [PACKAGE...]}
tag=${2:?usage: debian-slim.sh BASE TAG [PACKAGE...]}
shift 2
[ -x "$base/usr/bin/apt-get" ] || { echo "debian-slim.sh: $base: not a debootstrap root" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "debian-slim.sh: chroot needs root" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/fromscratch-debian-slim.XXXXXX")
cleanup() {
	umount "$work/root/proc" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
cp -a "$base" "$root"
rm -f "$root/.fromscratch-debootstrap"

# debuerreotype's slimify: what dpkg leaves out from now on...
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/gnome/help/*/*
path-exclude /usr/share/help/*/*
path-exclude /usr/share/omf/*/*-*.emf
EOF
# ...and what is there already.
find "$root/usr/share/doc" -mindepth 1 \( -type f -o -type l \) ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
for d in info linda lintian/overrides locale man groff; do
	[ -d "$root/usr/share/$d" ] && find "$root/usr/share/$d" -mindepth 1 -delete
done

if [ $# -gt 0 ]; then
	mount -t proc proc "$root/proc"
	in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
	# The base's package lists are those of the day it was made: when the
	# mirror has moved on (a point release), update them and try again.
	if ! out=$(in_root apt-get install -y -q --no-install-recommends "$@" 2>&1) &&
		! out=$(in_root apt-get update -q 2>&1 && in_root apt-get install -y -q --no-install-recommends "$@" 2>&1); then
		echo "debian-slim.sh: apt-get install $*:" >&2
		echo "$out" | tail -20 >&2
		exit 1
	fi
	umount "$root/proc"
fi
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old
find "$root/tmp" "$root/var/tmp" -mindepth 1 -delete

docker rmi -f "$tag" >/dev/null 2>&1 || true
tar -C "$root" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -cf - . |
	docker import - "$tag" >/dev/null
