#!/bin/sh
# deps.sh -- install the Debian 12 packages LogStream builds against, but
# only those whose command or header is missing (so a ready machine does
# not touch apt at all).  Run as root, or with sudo available.
set -eu

# package  probe (a command name, or an absolute path that must exist)
PKGS='
meson                meson
ninja-build          ninja
pkg-config           pkg-config
gcc                  cc
g++                  c++
python3              python3
libnng-dev           /usr/include/nng/nng.h
libmbedtls-dev       /usr/include/mbedtls/ssl.h
librdkafka-dev       /usr/include/librdkafka/rdkafka.h
flatbuffers-compiler flatc
libflatbuffers-dev   /usr/include/flatbuffers/flatbuffers.h
librocksdb-dev       /usr/include/rocksdb/c.h
libraft-dev          /usr/include/raft.h
libuv1-dev           /usr/include/uv.h
libcmocka-dev        /usr/include/cmocka.h
libyaml-dev          /usr/include/yaml.h
libxxhash-dev        /usr/include/xxhash.h
libpcre2-dev         /usr/include/pcre2.h
libsqlite3-dev       /usr/include/sqlite3.h
kcat                 kcat
curl                 curl
'
# extra packages for optional targets: `tools/deps.sh valgrind`
EXTRA="$*"

missing=""
echo "$PKGS" | while read -r pkg probe; do
	[ -n "$pkg" ] || continue
	case "$probe" in
	/*) [ -e "$probe" ] || echo "$pkg" ;;
	*) command -v "$probe" >/dev/null 2>&1 || echo "$pkg" ;;
	esac
done > /tmp/logstream-missing.$$
missing=$(cat /tmp/logstream-missing.$$)
rm -f /tmp/logstream-missing.$$
for e in $EXTRA; do
	command -v "$e" >/dev/null 2>&1 || missing="$missing $e"
done
missing=$(echo $missing)
if [ -z "$missing" ]; then
	exit 0
fi
echo "deps: installing missing packages: $missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
