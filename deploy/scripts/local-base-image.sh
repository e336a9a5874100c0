#!/usr/bin/env bash
# Makes a Node.js base image from this machine's own `node`, for machines that cannot pull
# from a container registry. The image holds the node binary and the libraries `ldd` lists,
# npm from the same installation (the Dockerfile's build stage runs `npm ci`), a /bin/sh for
# npm's scripts, the CA certificates, and a `node` user with uid 1000 as in the official image.
#
#   deploy/scripts/local-base-image.sh      prints the image name, e.g. localhost/node:20.20.2-host2
#
# Idempotent: an image of the same name (the host's Node version) is reused. Then build with
#   podman build --build-arg NODE_IMAGE="$(deploy/scripts/local-base-image.sh)" ...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=podman.sh
source "$here/podman.sh"
ensure_podman >&2

node_bin="$(command -v node)"
version="$("$node_bin" -p 'process.versions.node')"
# The suffix names the recipe: a change to what goes in makes a new image, not a stale hit.
image="localhost/node:${version}-host2"
if pm image exists "$image"; then
  echo "$image"
  exit 0
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

# Copies a file to the same path under the root, following symlinks to the real content.
put() { mkdir -p "$root$(dirname "$1")" && cp -L "$1" "$root$1"; }

# Debian's merged /usr: /bin, /lib and /lib64 are links into /usr.
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/etc" "$root/tmp" \
  "$root/root" "$root/home/node" "$root/usr/local/bin"
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

# node; dash as /bin/sh (npm runs package scripts with `sh -c`); env (for `#!/usr/bin/env node`
# scripts such as npm itself); and their libraries.
for bin in "$node_bin" /bin/dash /usr/bin/env; do
  put "$(readlink -f "$bin")"
  ldd "$bin" | grep -oE '/[^ ]+' | while read -r lib; do put "$lib"; done
done
[ "$(readlink -f "$node_bin")" = /usr/bin/node ] || cp -L "$node_bin" "$root/usr/bin/node"
# The rest of the C library, which native add-ons of the build stage load though node does
# not (rollup's binding, run by the console page's Vite build, needs librt).
for lib in librt.so.1 libdl.so.2 libpthread.so.0 libm.so.6 libresolv.so.2 libutil.so.1; do
  # no early exit: ldconfig would die of SIGPIPE, which pipefail turns into a failure
  path="$(ldconfig -p | awk -v l="$lib" '!found && $1 == l && /x86-64|AArch64/ { print $NF; found = 1 }')"
  [ -n "$path" ] && put "$path"
done
ln -sf dash "$root/usr/bin/sh"

# npm and npx from the node installation this binary belongs to.
prefix="$(dirname "$(dirname "$(readlink -f "$node_bin")")")"
npm_dir="$prefix/lib/node_modules/npm"
if [ -d "$npm_dir" ]; then
  mkdir -p "$root/usr/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
fi

# TLS: the system's CA bundle; npm's global settings (a custom cafile among them) as here.
[ -f /etc/ssl/certs/ca-certificates.crt ] && put /etc/ssl/certs/ca-certificates.crt
[ -f "$prefix/etc/npmrc" ] && grep -E '^(cafile|registry|strict-ssl)' "$prefix/etc/npmrc" \
  >"$root/usr/etc-npmrc" && mkdir -p "$root/usr/etc" && mv "$root/usr/etc-npmrc" "$root/usr/etc/npmrc"

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 "$root/home/node"

changes=(--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'CMD ["node"]')
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  put "$NODE_EXTRA_CA_CERTS"
  changes+=(--change "ENV NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS")
fi

tar -C "$root" --numeric-owner -c . | pm import "${changes[@]}" - "$image" >/dev/null
echo "$image"
