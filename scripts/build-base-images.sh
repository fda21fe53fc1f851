#!/usr/bin/env bash
# Build the two local base images that Podium's Docker tests use, without any registry image:
#   podium-test/python:bookworm  Debian bookworm minbase + python3 + ca-certificates (debootstrap,
#                                then `docker import`)
#   podium-test/ml:bookworm      the above + pip, torch (CPU) and transformers, installed from wheels
#                                downloaded on the host, inside `docker build --network none`
# Present images are reused; the debootstrap rootfs tarball, the .deb cache and the wheels are
# cached under $PODIUM_CACHE_DIR (default /var/cache/podium) so rebuilds are quick.
# Safe to run twice at once (two test runs on one engine): the whole script holds an exclusive
# lock on $PODIUM_CACHE_DIR/build-base-images.lock, each image is built under a temporary tag and
# then tagged in one step (a reader never sees it missing or half-checked), and a replaced image
# is removed only when no tag, image or container still uses it.
#
# Usage: scripts/build-base-images.sh [--force] [--refresh] [--python-only]
#   --force        rebuild both images (from the cached rootfs tarball and wheels)
#   --refresh      also redo debootstrap and re-download the wheels (implies --force)
#   --python-only  only podium-test/python:bookworm
#
# Environment:
#   PODIUM_CACHE_DIR             cache directory (default /var/cache/podium)
#   PODIUM_DEBIAN_MIRROR         Debian mirror for debootstrap (default: read from the apt sources)
#   PODIUM_TORCH_SPEC            default torch==2.13.0 (the CPU wheel the host's pip config resolves)
#   PODIUM_TRANSFORMERS_SPEC     default transformers==<version in .venv> (else "transformers<5")
#   PODIUM_WHEEL_PYTHON          Python 3.11 used for `pip download` (default .venv/bin/python, python3)
#   PODIUM_IMAGES_LOCK_WAIT_S    how long to wait for another run's lock (default 3600)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${PODIUM_CACHE_DIR:-/var/cache/podium}"
SUITE=bookworm
PY_IMAGE="podium-test/python:$SUITE"
ML_IMAGE="podium-test/ml:$SUITE"
FORCE=0; REFRESH=0; PY_ONLY=0

for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --refresh) FORCE=1; REFRESH=1 ;;
    --python-only) PY_ONLY=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "[images] ERROR: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

T0=$SECONDS
step() { echo "[images] $*"; }
die() { echo "[images] ERROR: $*" >&2; exit 1; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
# Used: the target of a tag, the parent of an image, or the image of a container (even stopped).
image_in_use() {
  docker images -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' \
    | awk -v id="$1" '$1 == id && $2 != "<none>:<none>" { found = 1 } END { exit !found }' && return 0
  # awk reads to the end: `grep -q` would quit early, and under pipefail xargs' SIGPIPE would
  # turn a match into a failure.
  docker images -a -q --no-trunc | sort -u | xargs -r docker image inspect -f '{{.Parent}}' 2>/dev/null \
    | awk -v id="$1" '$0 == id { found = 1 } END { exit !found }' && return 0
  [[ -n "$(docker ps -a -q --filter "ancestor=$1" 2>/dev/null)" ]]
}
# After a rebuild the previous image is untagged: remove it unless something still uses it.
drop_old() {
  if [[ -n "$1" && "$1" != "$(image_id "$2")" ]]; then
    if image_in_use "$1"; then
      step "keeping the previous $2 (${1:7:12}): a tag, an image or a container still uses it"
    else
      docker rmi "$1" >/dev/null 2>&1 && step "removed the previous $2 (${1:7:12})" || true
    fi
  fi
}
# A temporary tag for an image being built; removed on exit, whatever happens.
TMP_TAGS=()
# Sets TMP (no subshell: the tag must reach TMP_TAGS for the clean-up).
tmp_tag() { TMP="$1-building-$$"; TMP_TAGS+=("$TMP"); }
# `docker tag` moves the final tag in one step; then the temporary tag goes (not the image).
publish() {
  docker tag "$1" "$2" || die "docker tag $1 $2 failed: see the dockerd log"
  docker rmi "$1" >/dev/null 2>&1 || true
}
cleanup_tmp_tags() {
  local t
  for t in "${TMP_TAGS[@]}"; do docker rmi "$t" >/dev/null 2>&1 || true; done
}
trap cleanup_tmp_tags EXIT

docker info >/dev/null 2>&1 || die "the Docker engine does not answer: run scripts/ensure-services.sh first"
mkdir -p "$CACHE" || die "cannot create cache dir $CACHE: run as root or set PODIUM_CACHE_DIR"

# One run at a time per cache dir: another run may be replacing the very image this one would
# build on, or reading the rootfs tarball this one rewrites. The lock is released on exit.
LOCK="$CACHE/build-base-images.lock"
exec 9>>"$LOCK" || die "cannot open the lock file $LOCK: run as root or set PODIUM_CACHE_DIR"
if ! flock -n 9; then
  step "another build-base-images.sh is running (lock $LOCK); waiting for it to finish"
  flock -w "${PODIUM_IMAGES_LOCK_WAIT_S:-3600}" 9 \
    || die "still locked after ${PODIUM_IMAGES_LOCK_WAIT_S:-3600}s: is a build stuck? (fuser -v $LOCK shows who holds it)"
  step "lock acquired"
fi

# ----------------------------------------------------------------------------- Debian mirror
# The first URI of an enabled apt source that serves the release suite itself (not -security).
find_mirror() {
  if [[ -n "${PODIUM_DEBIAN_MIRROR:-}" ]]; then echo "$PODIUM_DEBIAN_MIRROR"; return; fi
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '
      function flush() {
        if (uris != "" && enabled != "no" && types ~ /(^| )deb( |$)/) {
          n = split(suites, s, /[ \t]+/)
          for (i = 1; i <= n; i++) if (s[i] == suite) { split(uris, u, /[ \t]+/); print u[1]; exit }
        }
        uris = ""; suites = ""; types = ""; enabled = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "uris:"    { $1 = ""; sub(/^[ \t]+/, ""); uris = $0 }
      tolower($1) == "suites:"  { $1 = ""; sub(/^[ \t]+/, ""); suites = $0 }
      tolower($1) == "types:"   { $1 = ""; sub(/^[ \t]+/, ""); types = $0 }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      END { flush() }
    ' "$f"
  done | head -n1 | grep . && return
  # One-line format: deb [options] URI SUITE COMPONENTS...
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | sed -E 's/\[[^]]*\]//' \
    | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }'
}

# --------------------------------------------------------------- podium-test/python:bookworm
ROOTFS_TAR="$CACHE/rootfs-python-$SUITE.tar"

build_rootfs() {
  [[ "$(id -u)" == "0" ]] || die "debootstrap needs root: rerun as root"
  if ! command -v debootstrap >/dev/null; then
    # A fresh machine has no debootstrap; Debian's package is all it takes.
    step "debootstrap missing, installing it with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
      || die "apt-get update failed: check the apt sources and the network to the package mirror"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
      || die "apt-get install debootstrap failed: run it by hand to see why"
  fi
  local mirror dir
  mirror="$(find_mirror)"
  [[ -n "$mirror" ]] || die "no Debian mirror for '$SUITE' found in /etc/apt/sources.list{,.d/}: set PODIUM_DEBIAN_MIRROR"
  dir="$CACHE/rootfs-python-$SUITE.d"
  # A debootstrap killed midway can leave proc/sys mounted inside: unmount before deleting.
  if [[ -d "$dir" ]]; then
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf --one-file-system "$dir"
  fi
  mkdir -p "$CACHE/debs"
  step "debootstrap --variant=minbase $SUITE from the apt sources' mirror into $dir (a few minutes the first time)"
  local t=$SECONDS
  debootstrap --variant=minbase --include=python3,ca-certificates --cache-dir="$CACHE/debs" \
    "$SUITE" "$dir" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
    || die "debootstrap failed (log: $CACHE/debootstrap.log; its own log: $dir/debootstrap/debootstrap.log). Check the network to the mirror, or set PODIUM_DEBIAN_MIRROR"
  step "debootstrap done in $(( SECONDS - t ))s; trimming caches, docs and host files"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
         "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/log/* \
         "$dir"/tmp/* "$dir"/root/.cache
  # Docker provides these at run time; do not leak the host's.
  : >"$dir/etc/resolv.conf"; echo localhost >"$dir/etc/hostname"
  tar --numeric-owner -C "$dir" -cf "$ROOTFS_TAR.tmp" . || die "tar of $dir failed (disk full?)"
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf --one-file-system "$dir"
  step "rootfs tarball cached: $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
}

build_python_image() {
  if [[ $FORCE == 0 ]] && image_exists "$PY_IMAGE"; then
    step "$PY_IMAGE present, reusing (--force rebuilds)"
    return
  fi
  if [[ $REFRESH == 1 || ! -s "$ROOTFS_TAR" ]]; then
    build_rootfs
  else
    step "using cached rootfs $ROOTFS_TAR (--refresh redoes debootstrap)"
  fi
  OLD_PY="$(image_id "$PY_IMAGE")"
  tmp_tag "$PY_IMAGE"; local tmp="$TMP"
  step "docker import $ROOTFS_TAR as $PY_IMAGE"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL podium.test-image=python org.opencontainers.image.description=\"Debian $SUITE minbase + python3 (debootstrap)\"" \
    "$ROOTFS_TAR" "$tmp" >/dev/null || die "docker import failed: see the dockerd log"
  docker run --rm --network none "$tmp" python3 -c "import ssl, sqlite3, json" \
    || die "$PY_IMAGE does not run python3: rerun with --refresh"
  publish "$tmp" "$PY_IMAGE"
  step "$PY_IMAGE built ($(docker image inspect -f '{{.Size}}' "$PY_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# ------------------------------------------------------------------- podium-test/ml:bookworm
find_wheel_python() {
  local c
  for c in "${PODIUM_WHEEL_PYTHON:-}" "$REPO/.venv/bin/python" python3.11 python3; do
    [[ -n "$c" ]] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if [[ "$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "3.11" ]] \
       && "$c" -m pip --version >/dev/null 2>&1; then
      echo "$c"; return
    fi
  done
}

build_ml_image() {
  if [[ $FORCE == 0 ]] && image_exists "$ML_IMAGE"; then
    step "$ML_IMAGE present, reusing (--force rebuilds)"
    return
  fi
  local py torch_spec tf_spec tf_ver key wheels ctx
  py="$(find_wheel_python)"
  [[ -n "$py" ]] || die "no Python 3.11 with pip on the host (the image's python3 is Debian's 3.11, the wheels must match): set PODIUM_WHEEL_PYTHON"
  torch_spec="${PODIUM_TORCH_SPEC:-torch==2.13.0}"
  if [[ -n "${PODIUM_TRANSFORMERS_SPEC:-}" ]]; then
    tf_spec="$PODIUM_TRANSFORMERS_SPEC"
  elif tf_ver="$("$REPO/.venv/bin/python" -c 'import transformers; print(transformers.__version__)' 2>/dev/null)"; then
    tf_spec="transformers==$tf_ver"
  else
    tf_spec="transformers<5"
  fi
  key="$(echo "$torch_spec $tf_spec" | sha256sum | cut -c1-12)"
  wheels="$CACHE/wheels-ml-$key"
  if [[ $REFRESH == 1 ]]; then rm -rf "$wheels"; fi
  if [[ -f "$wheels/.complete" ]]; then
    step "using cached wheels $wheels ($torch_spec, $tf_spec)"
  else
    step "pip download $torch_spec $tf_spec pip into $wheels with $py"
    mkdir -p "$wheels"
    # Pin what the venv already has (tokenizers, safetensors, numpy, ...) so the image matches it.
    local cons="$CACHE/constraints-ml.txt"
    : >"$cons"
    if [[ -x "$REPO/.venv/bin/python" ]]; then
      "$REPO/.venv/bin/python" -m pip freeze --exclude-editable 2>/dev/null \
        | grep -E '^[A-Za-z0-9_.-]+==' | grep -viE '^(torch|podium|pip|setuptools|wheel)==' >"$cons" || true
    fi
    "$py" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
      -c "$cons" -d "$wheels" "$torch_spec" "$tf_spec" pip \
      2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2) \
      || die "pip download failed: check the host's pip configuration (pip config list) and network"
    ls "$wheels"/torch-*.whl >/dev/null 2>&1 || die "no torch wheel in $wheels"
    if ls "$wheels"/nvidia_* >/dev/null 2>&1; then
      die "pip resolved a CUDA torch (nvidia_* wheels in $wheels): the CPU wheel was not found; set PODIUM_TORCH_SPEC"
    fi
    touch "$wheels/.complete"
  fi
  step "wheels: $(ls "$wheels"/*.whl | wc -l) files, $(du -sh "$wheels" | cut -f1)"

  ctx="$CACHE/ml-context"
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp -al "$wheels" "$ctx/wheels" 2>/dev/null || cp -a "$wheels" "$ctx/wheels"
  rm -f "$ctx/wheels/.complete"
  cat >"$ctx/Dockerfile" <<EOF
# Generated by scripts/build-base-images.sh
FROM $PY_IMAGE AS build
LABEL podium.test-image-build=ml
COPY wheels /wheels
# pip runs from its own wheel; everything goes to /install so no wheel ends up in the final image.
RUN set -e; pipwhl="\$(ls /wheels/pip-*.whl | head -n1)"; \\
    python3 "\$pipwhl/pip" install --no-index --find-links /wheels --root /install \\
      --break-system-packages --disable-pip-version-check --no-warn-script-location --quiet \\
      pip "$torch_spec" "$tf_spec"

FROM $PY_IMAGE
COPY --from=build /install/ /
# Debian marks its python3 externally managed; a team's Dockerfile FROM this image may pip install.
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
LABEL podium.test-image=ml
EOF
  step "docker build --network none -t $ML_IMAGE (pip install --no-index from the wheels)"
  local t=$SECONDS old tmp; old="$(image_id "$ML_IMAGE")"; tmp_tag "$ML_IMAGE"; tmp="$TMP"
  docker build --network none -t "$tmp" "$ctx" >"$CACHE/ml-build.log" 2>&1 \
    || { tail -n 30 "$CACHE/ml-build.log" >&2; die "docker build of $ML_IMAGE failed (log: $CACHE/ml-build.log)"; }
  rm -rf "$ctx"
  # The build stage (with its wheels) is an untagged image now; drop it (only it) to save disk.
  docker image prune -f --filter "label=podium.test-image-build=ml" >/dev/null 2>&1 || true
  docker run --rm --network none --read-only "$tmp" \
    python3 -c "import torch, transformers; torch.zeros(1)" \
    || die "$ML_IMAGE does not import torch/transformers: rerun with --force"
  publish "$tmp" "$ML_IMAGE"
  drop_old "$old" "$ML_IMAGE"
  step "$ML_IMAGE built in $(( SECONDS - t ))s ($(docker image inspect -f '{{.Size}}' "$ML_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

OLD_PY=""
build_python_image
[[ $PY_ONLY == 1 ]] || build_ml_image
drop_old "$OLD_PY" "$PY_IMAGE"  # after the ml image no longer sits on it
step "done in $(( SECONDS - T0 ))s"
