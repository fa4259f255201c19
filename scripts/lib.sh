# Shared by scripts/dev and scripts/test (sourced, not run): checks and Debian installs
# that work on a fresh machine, as root or through sudo.

# Fails with what to install when tool $1 is missing ($2 says how).
need() {
    command -v "$1" >/dev/null 2>&1 || { echo "${0##*/}: required tool '$1' is missing: $2" >&2; exit 1; }
}

# Runs a command as root: directly when we are root, else through sudo when there is one.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

# Installs Debian packages when apt-get is there, refreshing the package lists once if
# the first try fails; on other systems the `need` check after it names what is missing.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 0
    echo "${0##*/}: installing Debian's $*"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -q "$@" >/dev/null 2>&1 \
        || { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q "$@" >/dev/null; } \
        || true
}

# What building Meridian needs beyond Rust, and what its media server mixes rooms with
# (RTC-09): GStreamer 1.22+ with its development files (found through pkg-config) and
# the plugins a mix uses (compositor, x264, AAC, FLV, RTMP, the VP8/VP9/H.264/Opus
# decoders).
install_build_deps() {
    if ! pkg-config --exists gstreamer-app-1.0 2>/dev/null \
        || ! gst-inspect-1.0 rtmp2sink >/dev/null 2>&1 \
        || ! gst-inspect-1.0 x264enc >/dev/null 2>&1 \
        || ! gst-inspect-1.0 avdec_h264 >/dev/null 2>&1; then
        apt_install pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
            gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
            gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
    fi
    need pkg-config "install pkg-config"
    pkg-config --exists gstreamer-app-1.0 || {
        echo "${0##*/}: GStreamer's development files are missing: install Debian's libgstreamer1.0-dev and libgstreamer-plugins-base1.0-dev (or your system's GStreamer 1.22+ -dev packages)" >&2
        exit 1
    }
}
