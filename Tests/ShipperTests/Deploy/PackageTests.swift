import Foundation
import Testing

@testable import ShipperCollect

/// scripts/package's Debian package, judged by lintian, then installed, used, removed and purged
/// with dpkg on this machine. Installing touches the system, so it runs where
/// SHIPPER_PACKAGE_TESTS=1 says the machine is a throwaway one (.ci/run sets it).
@Suite(
    .requiresBPF, .serialized, .timeLimit(.minutes(10)),
    .enabled(if: ProcessInfo.processInfo.environment["SHIPPER_PACKAGE_TESTS"] == "1",
             "installs a Debian package: set SHIPPER_PACKAGE_TESTS=1 on a throwaway machine, as .ci/run does"))
struct PackageTests {
    /// One build for the suite.
    static let package = Task { () throws -> String in
        let result = try await runToEnd(script("package"), [])
        guard result.status == 0, let path = result.stdout.split(separator: "\n").last else {
            throw ReceiverError(description: "scripts/package failed: \(result.stderr)")
        }
        return GuestKernel.repository.appendingPathComponent(String(path)).path
    }

    static func run(_ command: String, _ arguments: [String]) async throws -> ShipperBinary.Result {
        try await runToEnd(URL(fileURLWithPath: "/usr/bin/env"), [command] + arguments)
    }

    @Test func lintianReportsNoErrors() async throws {
        let deb = try await Self.package.value
        let result = try await Self.run("lintian", [deb])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.split(separator: "\n").contains { $0.hasPrefix("E: ") }, "\(result.stdout)")
    }

    /// A fleet host has no Swift toolchain: the binary needs Debian's libraries only, found
    /// the usual way (no RUNPATH), and scripts/check-binary, which scripts/package runs, agrees.
    @Test func theBinaryNeedsOnlyDebiansLibraries() async throws {
        let deb = try await Self.package.value
        let root = Scratch.directory("deb")
        #expect(try await Self.run("dpkg-deb", ["-x", deb, root.path]).status == 0)
        let binary = root.path + "/usr/bin/ebpf-map-shipper"
        let dynamic = try await Self.run("readelf", ["--dynamic", "--wide", binary]).stdout
        let needed = dynamic.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap {
            $0.split(separator: "[").last?.dropLast()
        }
        #expect(needed.sorted() == [
            "ld-linux-x86-64.so.2", "libbpf.so.1", "libc.so.6", "libcrypto.so.3", "libcurl.so.4", "libgcc_s.so.1", "libm.so.6",
            "libprotobuf-c.so.1", "libsnappy.so.1", "libstdc++.so.6", "libz.so.1",
        ])
        #expect(!dynamic.contains("(RUNPATH)") && !dynamic.contains("(RPATH)"), "\(dynamic)")
        let check = try await runToEnd(Self.script("check-binary"), [binary])
        #expect(check.status == 0 && check.stderr.isEmpty, "\(check.stderr)")
    }

    /// The check refuses what a plain build links: the toolchain's runtime, through its RUNPATH.
    @Test func theCheckRefusesABinaryThatNeedsTheToolchain() async throws {
        let check = try await runToEnd(Self.script("check-binary"), [ShipperBinary.url.path])
        #expect(check.status == 1)
        #expect(check.stderr.split(separator: "\n").count == 1, "\(check.stderr)")
        #expect(check.stderr.hasPrefix("check-binary: \(ShipperBinary.url.path) has RUNPATH "), "\(check.stderr)")
        #expect(check.stderr.contains("/lib/swift/linux"), "\(check.stderr)")
    }

    /// Packaging again, with nothing changed, ships the same files, bit for bit, and the same
    /// control data: nothing the first run built or left behind changes what the second ships.
    @Test func packagingAgainShipsTheSameFiles() async throws {
        let deb = try await Self.package.value
        let again = try await runToEnd(Self.script("package"), [Scratch.directory("package").path])
        #expect(again.status == 0, "\(again.stderr)")
        let second = try #require(again.stdout.split(separator: "\n").last.map(String.init))
        func contents(_ deb: String) async throws -> String {
            let archives = "dpkg-deb --fsys-tarfile \"$1\" | sha256sum; dpkg-deb --ctrl-tarfile \"$1\" | sha256sum"
            return try await Self.run("sh", ["-c", archives, "sh", deb]).stdout
        }
        let first = try await contents(deb)
        #expect(first.split(separator: "\n").count == 2)
        #expect(try await contents(second) == first)
    }

    static func script(_ name: String) -> URL { GuestKernel.repository.appendingPathComponent("scripts/" + name) }

    @Test func dependsAreTheLibrariesTheBinaryLinks() async throws {
        let deb = try await Self.package.value
        let depends = try await Self.run("dpkg-deb", ["--field", deb, "Depends"]).stdout
        for library in ["libbpf1", "libcurl4", "libssl3", "libprotobuf-c1", "libsnappy1v5", "zlib1g", "libc6"] {
            #expect(depends.contains(library + " ("), "\(depends)")
        }
        #expect(!depends.contains("swift"), "the Swift runtime is linked in: \(depends)")
        // By hand only what the maintainer script (adduser) and the unit's ExecReload (/bin/kill) call.
        #expect(depends.hasPrefix("adduser, procps, "), "\(depends)")
    }

    @Test func installUseRemoveAndPurge() async throws {
        let deb = try await Self.package.value
        let install = try await Self.run("dpkg", ["-i", deb])
        #expect(install.status == 0, "\(install.stdout)\(install.stderr)")
        defer { _ = try? FileManager.default.removeItem(atPath: "/var/lib/ebpf-map-shipper/test-segment") }

        // From PATH, as an operator would.
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        _ = try await holder.create("hash", name: prefix + "hash", maxEntries: 8, fill: 3)
        let list = try await Self.run("ebpf-map-shipper", ["list", "--format", "json", "--name", "^" + prefix])
        #expect(list.status == 0, "\(list.stderr)")
        let maps = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(maps.first?["entries"] as? Int == 3)
        let manual = try await Self.run("man", ["-P", "cat", "ebpf-map-shipper"])
        #expect(manual.status == 0, "\(manual.stderr)")
        #expect(manual.stdout.contains("ebpf-map-shipper"))
        #expect(manual.stdout.contains("check-config"))
        #expect(try await Self.run("getent", ["passwd", "ebpf-map-shipper"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: "/lib/systemd/system/ebpf-map-shipper.service"))
        #expect(FileManager.default.fileExists(atPath: "/usr/share/bash-completion/completions/ebpf-map-shipper"))

        // What a running unit leaves: its buffer.
        try FileManager.default.createDirectory(atPath: "/var/lib/ebpf-map-shipper", withIntermediateDirectories: true)
        try Data("buffered".utf8).write(to: URL(fileURLWithPath: "/var/lib/ebpf-map-shipper/test-segment"))

        let remove = try await Self.run("dpkg", ["-r", "ebpf-map-shipper"])
        #expect(remove.status == 0, "\(remove.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/usr/bin/ebpf-map-shipper"))
        #expect(FileManager.default.fileExists(atPath: "/etc/ebpf-map-shipper/shipper.yml"), "removing keeps the config")
        #expect(FileManager.default.fileExists(atPath: "/etc/default/ebpf-map-shipper"), "removing keeps the unit's environment")
        #expect(FileManager.default.fileExists(atPath: "/var/lib/ebpf-map-shipper/test-segment"), "removing keeps the buffer")

        let purge = try await Self.run("dpkg", ["-P", "ebpf-map-shipper"])
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/etc/ebpf-map-shipper/shipper.yml"), "purging removes the config")
        #expect(!FileManager.default.fileExists(atPath: "/etc/default/ebpf-map-shipper"), "purging removes the unit's environment")
        #expect(FileManager.default.fileExists(atPath: "/var/lib/ebpf-map-shipper/test-segment"), "the buffer outlives a purge")
    }
}
