# shellcheck shell=bash
# Wine environment for running x86_64-pc-windows-gnu test programs (tapi-host.exe
# loading ucsta.tsp) on Linux. Source it from bash; do not execute it:
#
#   . testing/wine/wine-env.sh || exit 1   # finds wine64, creates the prefix once
#   wine_run path/to/tapi-host.exe path/to/ucsta.tsp   # returns the exit status
#   wine_stop                                # ends this prefix's wineserver
#
# Inputs (all optional):
#   WINEPREFIX        prefix to use; default: <target dir>/wine-prefix
#   CARGO_TARGET_DIR  target dir; default: <workspace>/target
#   WINE64            Wine 64-bit loader; default: /usr/lib/wine/wine64, else wine64
#                     or wine on PATH
#   MINGW_CC          C cross compiler; default: x86_64-w64-mingw32-gcc
#   WINEDEBUG         default: -all (set e.g. err+module to see why a DLL did not load)
#   WINE_ENV_VERBOSE  1: print what is done and how long it took, to stderr
#   WINE_ENV_PERSISTENT 1: keep one wineserver running until wine_stop (later runs
#                     take ~35 ms instead of ~0.5 s)
#
# Sourcing twice is safe and cheap. It never changes the caller's shell options and
# never prints to stdout. It returns non-zero (and says why on stderr) when Wine or the
# cross compiler is missing or the prefix cannot be created.

_wine_env_log() {
    if [[ "${WINE_ENV_VERBOSE:-0}" == 1 ]]; then
        printf 'wine-env: %s\n' "$*" >&2
    fi
}

# Milliseconds since an $EPOCHREALTIME value (bash 5).
_wine_env_ms_since() {
    local start=${1/./} now=${EPOCHREALTIME/./}
    printf '%d' $(( (10#$now - 10#$start) / 1000 ))
}

_wine_env_find_wine() {
    if [[ -n "${WINE64:-}" ]]; then
        [[ -x "$WINE64" ]] || { printf 'wine-env: WINE64=%s is not executable\n' "$WINE64" >&2; return 1; }
    elif [[ -x /usr/lib/wine/wine64 ]]; then
        WINE64=/usr/lib/wine/wine64
    elif command -v wine64 >/dev/null 2>&1; then
        WINE64=$(command -v wine64)
    elif command -v wine >/dev/null 2>&1; then
        # Wine 9+ WoW64 builds have a single `wine` that runs 64-bit programs.
        WINE64=$(command -v wine)
    else
        printf 'wine-env: no wine64 found (Debian: apt-get install wine64)\n' >&2
        return 1
    fi
    export WINE64

    local dir
    dir=$(dirname -- "$WINE64")
    # Prefer the real server binary: Debian's /usr/lib/wine/wineserver wrapper adds -p0.
    if [[ -x "$dir/wineserver64" ]]; then
        WINE_ENV_WINESERVER="$dir/wineserver64"
    elif [[ -x "$dir/wineserver" ]]; then
        WINE_ENV_WINESERVER="$dir/wineserver"
    elif command -v wineserver >/dev/null 2>&1; then
        WINE_ENV_WINESERVER=$(command -v wineserver)
    else
        printf 'wine-env: no wineserver found next to %s or on PATH\n' "$WINE64" >&2
        return 1
    fi
    export WINE_ENV_WINESERVER
}

# Create the prefix headless, once. Caller holds the lock.
_wine_env_create_prefix() {
    local marker="$WINEPREFIX/.ucsta-prefix-ok"
    [[ -f "$marker" ]] && return 0

    local start=$EPOCHREALTIME log="$WINEPREFIX.log"
    _wine_env_log "creating Wine prefix $WINEPREFIX (about 10 s)"
    mkdir -p -- "$(dirname -- "$WINEPREFIX")" || return 1
    # wineboot --init creates (or completes a half-made) prefix; without DISPLAY it shows
    # no window. Its messages go to the log, never to stdout.
    if ! "$WINE64" wineboot --init >"$log" 2>&1; then
        printf 'wine-env: wineboot --init failed for %s; log %s:\n' "$WINEPREFIX" "$log" >&2
        cat -- "$log" >&2
        return 1
    fi
    # Let the server flush the registry and exit before the prefix is called done.
    "$WINE_ENV_WINESERVER" -w >>"$log" 2>&1
    if [[ ! -f "$WINEPREFIX/system.reg" || ! -d "$WINEPREFIX/drive_c/windows/system32" ]]; then
        printf 'wine-env: %s is incomplete after wineboot; log %s:\n' "$WINEPREFIX" "$log" >&2
        cat -- "$log" >&2
        return 1
    fi
    "$WINE64" --version >"$marker" 2>/dev/null || : >"$marker"
    _wine_env_log "prefix created in $(_wine_env_ms_since "$start") ms"
}

# Build the ProcessPrng stand-in if missing or older than its source, and copy it into
# the prefix unless the prefix already has Wine's own bcryptprimitives.dll (Wine 9+).
_wine_env_install_bcryptprimitives() {
    local src="$WINE_ENV_DIR/bcryptprimitives.c"
    local out="$WINE_ENV_TARGET_DIR/wine/bcryptprimitives.dll"
    local sys32="$WINEPREFIX/drive_c/windows/system32"
    local dest="$sys32/bcryptprimitives.dll"

    if [[ -f "$dest" ]] && grep -q 'Wine builtin DLL' -- "$dest" 2>/dev/null; then
        _wine_env_log "prefix has Wine's own bcryptprimitives.dll; stand-in not needed"
        return 0
    fi

    if [[ ! -f "$out" || "$src" -nt "$out" ]]; then
        local cc=${MINGW_CC:-x86_64-w64-mingw32-gcc} start=$EPOCHREALTIME
        if ! command -v "$cc" >/dev/null 2>&1; then
            printf 'wine-env: %s not found (Debian: apt-get install gcc-mingw-w64-x86-64-win32)\n' "$cc" >&2
            return 1
        fi
        mkdir -p -- "$(dirname -- "$out")" || return 1
        # No CRT: the DLL needs only kernel32, advapi32 and bcrypt (4 KB, ~1 s to build).
        if ! "$cc" -O2 -Wall -Wextra -shared -s -nostdlib -Wl,--entry,DllEntry \
            -o "$out.tmp" "$src" -lkernel32 -ladvapi32 -lbcrypt >&2; then
            rm -f -- "$out.tmp"
            printf 'wine-env: building %s failed\n' "$out" >&2
            return 1
        fi
        mv -f -- "$out.tmp" "$out" || return 1
        _wine_env_log "built $out in $(_wine_env_ms_since "$start") ms"
    fi

    if ! cmp -s -- "$out" "$dest"; then
        cp -f -- "$out" "$dest.tmp" && mv -f -- "$dest.tmp" "$dest" || return 1
        _wine_env_log "installed bcryptprimitives.dll stand-in into $sys32"
    fi
}

_wine_env_setup() {
    local start=$EPOCHREALTIME
    WINE_ENV_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || return 1
    WINE_ENV_WORKSPACE=$(cd -- "$WINE_ENV_DIR/../.." && pwd) || return 1
    WINE_ENV_TARGET_DIR=${CARGO_TARGET_DIR:-$WINE_ENV_WORKSPACE/target}
    # A relative CARGO_TARGET_DIR is relative to the current directory, as for cargo.
    [[ "$WINE_ENV_TARGET_DIR" == /* ]] || WINE_ENV_TARGET_DIR="$PWD/$WINE_ENV_TARGET_DIR"
    export WINE_ENV_DIR WINE_ENV_WORKSPACE WINE_ENV_TARGET_DIR

    _wine_env_find_wine || return 1

    export WINEPREFIX=${WINEPREFIX:-$WINE_ENV_TARGET_DIR/wine-prefix}
    export WINEDEBUG=${WINEDEBUG:--all}
    # No Mono/Gecko install prompt, no menu entries or .desktop files under $HOME.
    local overrides='mscoree,mshtml=;winemenubuilder.exe=d'
    case ";${WINEDLLOVERRIDES:-};" in
        *";$overrides;"*) ;;
        *) export WINEDLLOVERRIDES="$overrides${WINEDLLOVERRIDES:+;$WINEDLLOVERRIDES}" ;;
    esac
    # Wine 64-bit only: do not let Wine look for a 32-bit loader for child processes.
    export WINELOADER=${WINELOADER:-$WINE64}

    # One creator at a time: cargo test or parallel CI steps may source this together.
    local rc=0
    mkdir -p -- "$(dirname -- "$WINEPREFIX")" || return 1
    if command -v flock >/dev/null 2>&1; then
        {
            flock 9 || return 1
            _wine_env_create_prefix && _wine_env_install_bcryptprimitives || rc=1
        } 9>"$WINEPREFIX.lock"
    else
        _wine_env_create_prefix && _wine_env_install_bcryptprimitives || rc=1
    fi
    [[ $rc == 0 ]] || return 1

    if [[ "${WINE_ENV_PERSISTENT:-0}" == 1 ]]; then
        wine_start || return 1
    fi
    _wine_env_log "ready in $(_wine_env_ms_since "$start") ms: WINE64=$WINE64 WINEPREFIX=$WINEPREFIX"
}

# wine_run EXE [ARGS...]: run a Windows program under Wine; stdout/stderr are the
# program's own. Returns its exit status (the low 8 bits of the Windows exit code, as
# for any Linux process; 53 with no output means a DLL it imports was not found: rerun
# with WINEDEBUG=err+module). Linux paths work as arguments and for LoadLibraryW.
wine_run() {
    if [[ $# -lt 1 ]]; then
        printf 'usage: wine_run EXE [ARGS...]\n' >&2
        return 2
    fi
    local start=$EPOCHREALTIME rc=0
    "$WINE64" "$@" || rc=$?
    _wine_env_log "wine_run $(basename -- "$1") exited $rc after $(_wine_env_ms_since "$start") ms"
    return "$rc"
}

# Print the pid of the wineserver serving $WINEPREFIX, or return 1 when there is none.
# A running server's working directory is its socket directory, named after the
# prefix's device and inode: /tmp/.wine-UID/server-DEV-INO (Debian:
# /tmp/wine-XXXXXX/server-DEV-INO, the random part kept in $WINEPREFIX/wineserver).
_wine_env_server_pid() {
    local prefix dev ino want pid cwd candidates
    prefix=$(realpath -m -- "$WINEPREFIX") || return 1
    read -r dev ino < <(stat -c '%d %i' -- "$prefix" 2>/dev/null) || return 1
    want=$(printf 'server-%x-%x' "$dev" "$ino")
    if command -v pgrep >/dev/null 2>&1; then
        candidates=$(pgrep wineserver) || return 1
    else
        candidates=$(cd /proc && printf '%s\n' [0-9]*)
    fi
    for pid in $candidates; do
        [[ "$(readlink -- "/proc/$pid/exe" 2>/dev/null)" == */wineserver* ]] || continue
        cwd=$(readlink -- "/proc/$pid/cwd" 2>/dev/null) || continue
        [[ "$cwd" == */"$want" || "$cwd" == "$prefix" ]] || continue
        printf '%s\n' "$pid"
        return 0
    done
    return 1
}

# wine_server_pid: print the pid of this prefix's wineserver (non-zero status if none).
wine_server_pid() {
    _wine_env_server_pid
}

# wine_start: start a persistent wineserver for this prefix (kept until wine_stop) and
# Wine's background services with it. Both get /dev/null as stdin/stdout/stderr: a
# server or service started by a captured run inherits that run's stderr pipe and keeps
# it open, so `$(wine_run ...)` or Rust's Command::output() waits ~1 s for the server
# to exit, or forever when the server is persistent. Safe to call twice.
wine_start() {
    local start=$EPOCHREALTIME pid args
    if pid=$(_wine_env_server_pid); then
        args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
        if [[ " $args " == *" -p "* ]]; then
            _wine_env_log "persistent wineserver $pid already running"
            return 0
        fi
        # A server started by an earlier run (exits ~1 s after its last client): wait.
        timeout 30 "$WINE_ENV_WINESERVER" -w </dev/null >/dev/null 2>&1
    fi
    if ! "$WINE_ENV_WINESERVER" -p </dev/null >/dev/null 2>&1; then
        printf 'wine-env: cannot start a persistent wineserver for %s\n' "$WINEPREFIX" >&2
        return 1
    fi
    # Any program starts services.exe, winedevice.exe, plugplay.exe, svchost.exe.
    if ! timeout 60 "$WINE64" cmd.exe /c exit 0 </dev/null >/dev/null 2>&1; then
        printf 'wine-env: warm-up run (cmd.exe) failed in %s\n' "$WINEPREFIX" >&2
        return 1
    fi
    _wine_env_log "persistent wineserver $(_wine_env_server_pid) and services up in $(_wine_env_ms_since "$start") ms"
}

# wine_stop: end this prefix's wineserver and every Wine process using it, and wait
# for them. Only this prefix: `wineserver -k` reaches its server through the prefix's
# socket; a server that outlives that is then killed by its pid. Always returns 0.
wine_stop() {
    local start=$EPOCHREALTIME pid
    pid=$(_wine_env_server_pid) || {
        _wine_env_log "no wineserver running for $WINEPREFIX"
        return 0
    }
    "$WINE_ENV_WINESERVER" -k </dev/null >/dev/null 2>&1 || true
    timeout 30 "$WINE_ENV_WINESERVER" -w </dev/null >/dev/null 2>&1 || true
    if kill -0 "$pid" 2>/dev/null && [[ "$(_wine_env_server_pid)" == "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
    fi
    _wine_env_log "wineserver $pid for $WINEPREFIX stopped in $(_wine_env_ms_since "$start") ms"
    return 0
}

# wine_winpath PATH: print the Windows form of a Linux path (Z:\...), without starting
# Wine (Z: is / in every prefix). For programs that need a real Windows path.
wine_winpath() {
    local p
    p=$(realpath -m -- "$1") || return 1
    printf 'Z:%s\n' "${p//\//\\}"
}

_wine_env_setup
