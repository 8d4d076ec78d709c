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

# Builds the binary as it is deployed (scripts/build-release, which scripts/package ships) and
# prints its path. SHIPPER_BIN=path measures that binary instead: an older build, to see what a change moved.
shipper_binary() {
    if [[ -n ${SHIPPER_BIN:-} ]]; then
        echo "$SHIPPER_BIN"
        return
    fi
    local log
    log=$(mktemp)
    if ! scripts/build-release 2>"$log"; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits up to 20 s for a URL to answer 2xx; exits the script if it never does.
wait_http() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return; sleep 0.2; done; echo "not ready: $1" >&2; exit 1; }

# Starts a Prometheus receiving remote-write on 127.0.0.1:PORT, its files in DIR, and adds its pid
# to the caller's `pids`; BINARY defaults to Debian 12's (2.42, 1.0 only). Does not wait for it
# (see wait_http).
start_receiver() { # port dir [binary]
    mkdir -p "$2"
    printf 'global:\n  scrape_interval: 15s\n' >"$2/prometheus.yml"
    "${3:-prometheus}" --config.file="$2/prometheus.yml" --storage.tsdb.path="$2/data" --web.listen-address="127.0.0.1:$1" \
        --web.enable-remote-write-receiver >"$2/log" 2>&1 &
    pids+=("$!")
}

# Starts Tests/Fixtures/map_holder.py, which creates maps and holds them (unpinned) until it exits;
# adds its pid to `pids` and opens `to_holder` and `from_holder`: copies of the coprocess's
# pipes, because bash closes the originals inside $(...).
start_holder() {
    coproc HOLDER { exec python3 Tests/Fixtures/map_holder.py; }
    pids+=("$HOLDER_PID")
    exec {to_holder}>&"${HOLDER[1]}" {from_holder}<&"${HOLDER[0]}"
}

# Sends one request (a JSON line) to the holder and prints its answer; exits if it is an error.
ask_holder() {
    echo "$1" >&"$to_holder"
    local answer
    read -r answer <&"$from_holder"
    if [[ $answer == *'"error"'* ]]; then echo "map holder: $answer" >&2; exit 1; fi
    echo "$answer"
}

# Has the holder create COUNT hash maps named NAME, 4 of 64 elements each, and waits until they exist.
create_maps() { # count name
    ask_holder "{\"op\":\"create_many\",\"count\":$1,\"type\":\"hash\",\"name\":\"$2\",\"key_size\":4,\"value_size\":8,\"max_entries\":64,\"fill\":4}" >/dev/null
}

# Peak resident memory (VmHWM) of a process, in KiB.
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# User + system CPU of a process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
