# shellcheck shell=bash
# Common helpers for the deploy/local/*.sh scripts. Source it; do not run it.
#
# Everything the scripts create lives under WARDEN_LOCAL_DIR (default <repo>/.local),
# which is never committed.

# Absolute path of the repository root (two levels above this file).
WARDEN_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# shellcheck disable=SC2034  # used by the scripts that source this file
WARDEN_DEPLOY="$WARDEN_REPO/deploy/local"
WARDEN_LOCAL_DIR="${WARDEN_LOCAL_DIR:-$WARDEN_REPO/.local}"
# Make it absolute even when given relative (e.g. WARDEN_LOCAL_DIR=.local).
case "$WARDEN_LOCAL_DIR" in
    /*) ;;
    *) WARDEN_LOCAL_DIR="$PWD/$WARDEN_LOCAL_DIR" ;;
esac
export WARDEN_LOCAL_DIR

_tag="$(basename "${0%.sh}")"
log()  { printf '[%s] %s\n' "$_tag" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$_tag" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$_tag" "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PKG... : install Debian packages when root, otherwise explain and fail.
apt_install() {
    if ! is_root; then
        die "missing: $*. Install it with: sudo apt-get install -y $* (or run this script as root)"
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing: $* and apt-get is not available; install it by hand"
    log "installing Debian package(s): $* (apt-get update && apt-get install -y $*)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# port_open HOST PORT : true when something accepts a TCP connection there.
port_open() {
    # shellcheck disable=SC2016  # expanded by the inner shell
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# pid_alive PID : true when a process with that pid exists (ours or not).
pid_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

# pid_cmdline_has PID STRING : true when the process's command line contains STRING.
pid_cmdline_has() {
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# short_hash STRING : 12 hex chars, stable for a given string.
short_hash() {
    printf '%s' "$1" | sha256sum | cut -c1-12
}

# elapsed_since EPOCH_NS : seconds (one decimal) since the given `date +%s%N`.
elapsed_since() {
    local now
    now="$(date +%s%N)"
    awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}

# ensure_local_dir : create WARDEN_LOCAL_DIR, which git ignores by itself (its own .gitignore).
ensure_local_dir() {
    mkdir -p "$WARDEN_LOCAL_DIR"
    [ -e "$WARDEN_LOCAL_DIR/.gitignore" ] \
        || printf '# Created by deploy/local: local infrastructure state, never committed.\n*\n' \
            >"$WARDEN_LOCAL_DIR/.gitignore" 2>/dev/null || true
}

# take_lock NAME : hold an exclusive lock (fd 9 on WARDEN_LOCAL_DIR/.NAME.lock) until the script
# exits, so that concurrent starts (parallel test workers, two terminals) do not race.
# Long-running children must not inherit fd 9: start them with 9<&-.
take_lock() {
    command -v flock >/dev/null 2>&1 || return 0
    local file="$WARDEN_LOCAL_DIR/.$1.lock"
    ensure_local_dir
    [ -e "$file" ] || : >"$file" 2>/dev/null || true
    exec 9<"$file" || die "cannot open the lock file $file"
    if ! flock -n 9; then
        log "waiting for another $1 command to finish (lock $file) ..."
        flock -w "${2:-600}" 9 || die "another $1 command still holds $file"
    fi
}
