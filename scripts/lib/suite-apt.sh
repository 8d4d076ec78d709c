# Sourced by the scripts that fetch packages of another Debian suite (scripts/vm-run,
# scripts/suite-package): apt through a sources list of their own, naming this machine's mirror
# with the suite wanted. The machine's apt configuration is never read for sources nor changed.

# suite_apt SUITE DIR: sets the array `apt` to the apt-get/apt-cache options that use DIR's
# sources list, lists and cache, and fetches the suite's package lists into DIR.
suite_apt() {
    local suite=$1 dir=$2 mirror
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    [[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror:-http://deb.debian.org/debian} $suite main" \
        >"$dir/sources.list"
    apt=(-o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$dir/lists"
        -o Dir::Cache="$dir/cache" -o APT::Sandbox::User=root -q)
    apt-get "${apt[@]}" update >"$dir/update.log" 2>&1 ||
        { echo "apt-get update for $suite failed: $(tail -1 "$dir/update.log")" >&2; return 1; }
}
