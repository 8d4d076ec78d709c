# Helpers the bench scripts share; sourced, not run.

# swift build with its output kept: the last line on success, all of it when the build fails.
build_quietly() {
    local log
    log=$(mktemp)
    if ! swift build "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "swift build $* failed" >&2
        exit 1
    fi
    tail -1 "$log" >&2
    rm -f "$log"
}

# Builds the binary as it is deployed (README, "Deploying": Swift runtime linked in) and prints its
# path. SHIPPER_BIN=path measures that binary instead: an older build, to see what a change moved.
shipper_binary() {
    if [[ -n ${SHIPPER_BIN:-} ]]; then
        echo "$SHIPPER_BIN"
        return
    fi
    build_quietly -c release --product ebpf-map-shipper --static-swift-stdlib --build-path .build-static
    echo "$PWD/.build-static/release/ebpf-map-shipper"
}

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# User + system CPU of a process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
