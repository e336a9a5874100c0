# Sourced by the deploy scripts: run podman the way this kind of machine needs.
# - runc, because crun cannot set up the cgroups of machines like these;
# - ulimits no higher than the machine's hard limits (podman asks for more by default);
# - `--format docker` when building, so HEALTHCHECK is kept (OCI images have no such field).
# Override with PODMAN_RUNTIME=crun, or PODMAN_NOFILE / PODMAN_NPROC.
# shellcheck shell=bash

PODMAN_RUNTIME="${PODMAN_RUNTIME:-runc}"
PODMAN_NOFILE="${PODMAN_NOFILE:-$(ulimit -Hn)}"
PODMAN_NPROC="${PODMAN_NPROC:-$(ulimit -Hu)}"
# Podman asks for 1048576 open files by default; cap it (and processes) at what we may have.
[ "$PODMAN_NOFILE" = unlimited ] && PODMAN_NOFILE=1048576
[ "$PODMAN_NPROC" = unlimited ] && PODMAN_NPROC=32768
[ "$PODMAN_NOFILE" -gt 1048576 ] && PODMAN_NOFILE=1048576
[ "$PODMAN_NPROC" -gt 32768 ] && PODMAN_NPROC=32768
PODMAN_ULIMITS=(--ulimit "nofile=$PODMAN_NOFILE:$PODMAN_NOFILE" --ulimit "nproc=$PODMAN_NPROC:$PODMAN_NPROC")

pm() { podman --runtime "$PODMAN_RUNTIME" "$@"; }

# Installs podman and runc from Debian's packages when they are missing (CI machines are root).
ensure_podman() {
  if command -v podman >/dev/null && command -v "$PODMAN_RUNTIME" >/dev/null; then return 0; fi
  echo "installing podman and $PODMAN_RUNTIME from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman "$PODMAN_RUNTIME" >/dev/null
}
