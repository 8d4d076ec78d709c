import Foundation
import Testing

/// Debian's own kernels, booted under qemu by scripts/vm-run: Linux 6.1 (Debian 12) by default,
/// the kernel most fleets run, where the kfunc `bpf_map_sum_elem_count` does not exist, or any of
/// the matrix (`Release`). One boot serves a whole suite: the guest runs every command once and
/// prints each one's output between markers.
enum GuestKernel {
    /// The kernels fleets run, as `scripts/vm-run --kernel` names them: Debian 11, 12, 13 and 14's.
    enum Release: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case bullseye = "5.10", bookworm = "6.1", trixie = "6.12", forky = "7"

        var testDescription: String { "Linux \(rawValue)" }
    }

    static let required = ProcessInfo.processInfo.environment["SHIPPER_REQUIRE_VM"] == "1"

    /// qemu and the initramfs tools are installed (scripts/install-deps installs them).
    static let available: Bool = ["/usr/bin/qemu-system-x86_64", "/usr/bin/busybox", "/usr/bin/cpio", "/usr/bin/cc"]
        .allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// What one guest command printed: stdout, stderr and exit status.
    struct Command: Sendable {
        var stdout: String
        var stderr: String
        var status: Int32?
    }

    /// The guest's run: its console, cut into the commands of `script`.
    struct Run: Sendable {
        var console: String
        var status: Int32
        var commands: [String: Command]

        subscript(name: String) -> Command { commands[name] ?? Command(stdout: "", stderr: "", status: nil) }
    }

    /// Boots the guest and runs `commands` (name, shell command) in it, in order, after the map
    /// holder of Tests/Fixtures/guest_maps.c is up. `fixtures` names more programs of
    /// Tests/Fixtures/ (`guest_losses` for guest_losses.c) to build and put in the guest's /bin,
    /// `files` (name: contents) go there too, and `binaries` are host programs copied in.
    /// With `systemd`, the guest is a Debian 12 system booted with systemd as PID 1 and those
    /// packages installed (`scripts/vm-run --systemd`): the files are in the commands' working
    /// directory and on PATH, and the shipper comes only from what the commands install.
    /// Awaited; the boot is on a thread of its own.
    static func run(
        _ commands: [(name: String, command: String)], fixtures: [String] = [], files: [String: String] = [:],
        binaries hostBinaries: [String] = [], systemd packages: [String]? = nil, kernel: Release = .bookworm
    ) async throws -> Run {
        // Each guest is a 2 GiB, 2-CPU emulated machine: at most two boot at once.
        await slots.take()
        defer { Task { await slots.give() } }
        let work = Scratch.path("guest")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        var binaries: [String] = []
        for fixture in ["guest_maps"] + fixtures {
            let binary = work.appendingPathComponent(fixture).path
            let compile = try await runToEnd(
                URL(fileURLWithPath: "/usr/bin/cc"),
                ["-static", "-O2", "-o", binary, repository.path + "/Tests/Fixtures/\(fixture).c"])
            guard compile.status == 0 else { throw ReceiverError(description: "cannot build \(fixture): \(compile.stderr)") }
            binaries.append(binary)
        }
        for (name, contents) in files {
            let file = work.appendingPathComponent(name)
            try contents.write(to: file, atomically: true, encoding: .utf8)
            binaries.append(file.path)
        }
        binaries += hostBinaries

        var script = """
            guest_maps g_ /sys/fs/bpf/g_pinned > /tmp/maps &
            n=0; while ! grep -q ready /tmp/maps 2>/dev/null && [ $n -lt 3000 ]; do sleep 0.1; n=$((n+1)); done
            echo "== maps"; cat /tmp/maps; echo "== end maps"

            """
        for (name, command) in commands {
            script += """
                {
                \(command)
                } >/tmp/out 2>/tmp/err; status=$?
                echo "== \(name) $status"; cat /tmp/out; echo "== stderr"; cat /tmp/err; echo "== end \(name)"

                """
        }
        let guest = work.appendingPathComponent("guest.sh")
        try script.write(to: guest, atomically: true, encoding: .utf8)
        let guestKind = packages.map { ["--systemd", "--packages", $0.joined(separator: ",")] } ?? []
        let shipper = packages == nil ? [ShipperBinary.url.path] : []
        let boot = try await runToEnd(
            repository.appendingPathComponent("scripts/vm-run"),
            ["--kernel", kernel.rawValue, "--timeout", "900"] + guestKind + [guest.path] + binaries + shipper)
        // The serial console ends lines with CR LF, which Swift reads as one Character.
        let console = (boot.stdout + boot.stderr).replacingOccurrences(of: "\r\n", with: "\n")
        return Run(console: console, status: boot.status, commands: parse(console))
    }

    /// Sections `== name status` … `== stderr` … `== end name` of the console.
    private static func parse(_ console: String) -> [String: Command] {
        var commands: [String: Command] = [:]
        var current: (name: String, status: Int32?, out: [Substring], err: [Substring], inErr: Bool)?
        for text in console.split(separator: "\n", omittingEmptySubsequences: false) {
            if text.hasPrefix("== end "), let open = current {
                commands[open.name] = Command(
                    stdout: open.out.joined(separator: "\n"), stderr: open.err.joined(separator: "\n"), status: open.status)
                current = nil
            } else if text == "== stderr", current != nil {
                current?.inErr = true
            } else if text.hasPrefix("== "), current == nil {
                let fields = text.dropFirst(3).split(separator: " ")
                current = (String(fields.first ?? ""), fields.count > 1 ? Int32(fields[1]) : nil, [], [], false)
            } else if current?.inErr == true {
                current?.err.append(text)
            } else if current != nil {
                current?.out.append(text)
            }
        }
        return commands
    }
}

/// Boot slots: suites ask for their guests at once, and eight emulated machines at a time would
/// thrash a 2-core host's memory and CPU for nothing. Waiting is awaited, never blocking a thread.
private let slots = Slots(count: 2)

private actor Slots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { free = count }

    func take() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func give() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

extension Trait where Self == ConditionTrait {
    /// Gates a suite on qemu being installed; SHIPPER_REQUIRE_VM=1 (as in CI) makes a missing qemu a failure.
    static var requiresGuestKernel: Self {
        .enabled("needs qemu-system-x86_64, busybox-static, cpio and cc (scripts/install-deps); SHIPPER_REQUIRE_VM=1 makes this a failure") {
            GuestKernel.required || GuestKernel.available
        }
    }
}
