import Foundation
import Testing

/// deploy/systemd's unit, checked by the real systemd-analyze, and its capability set checked by
/// running the real binary as an unprivileged user holding exactly those capabilities.
struct SystemdUnitTests {
    static let unit = GuestKernel.repository.appendingPathComponent("deploy/systemd/ebpf-map-shipper.service")
    static let analyze = URL(fileURLWithPath: "/usr/bin/systemd-analyze")

    /// A root directory holding what `verify` follows: the unit, the binary it starts, kill for
    /// ExecReload, and the system's own units it orders itself after. Removed by the caller.
    static func root() async throws -> URL {
        let root = Scratch.path("unit-root")
        for directory in ["usr/bin", "bin", "etc/systemd/system", "usr/lib/systemd"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(at: ShipperBinary.url, to: root.appendingPathComponent("usr/bin/ebpf-map-shipper"))
        try FileManager.default.copyItem(atPath: "/bin/kill", toPath: root.appendingPathComponent("bin/kill").path)
        try FileManager.default.copyItem(
            atPath: "/usr/lib/systemd/system", toPath: root.appendingPathComponent("usr/lib/systemd/system").path)
        try FileManager.default.copyItem(at: unit, to: root.appendingPathComponent("etc/systemd/system/ebpf-map-shipper.service"))
        return root
    }

    @Test func systemdAnalyzeVerifies() async throws {
        let root = try await Self.root()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try await runToEnd(Self.analyze, ["verify", "--man=no", "--root=\(root.path)", "ebpf-map-shipper.service"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.isEmpty && result.stderr.isEmpty, "\(result.stdout)\(result.stderr)")
    }

    /// The exposure score docs/operations.md quotes.
    @Test func exposureIsAsLowAsTheCapabilitiesAllow() async throws {
        let root = try await Self.root()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try await runToEnd(
            Self.analyze, ["security", "--offline=true", "--no-pager", "--root=\(root.path)", "ebpf-map-shipper.service"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Overall exposure level for ebpf-map-shipper.service: 2.0 OK"), "\(result.stdout)")
    }

    /// The capabilities the unit grants, as setpriv spells them (sys_admin, dac_read_search).
    static func capabilities() throws -> [String] {
        let text = try String(contentsOf: unit, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("AmbientCapabilities=") })
        return line.dropFirst("AmbientCapabilities=".count).split(separator: " ").map { $0.dropFirst(4).lowercased() }
    }

    /// `list` as nobody, holding `capabilities` and nothing else, as the unit's User= would.
    static func listAsNobody(_ capabilities: [String], _ prefix: String) async throws -> ShipperBinary.Result {
        let set = (["-all"] + capabilities.map { "+" + $0 }).joined(separator: ",")
        return try await ShipperBinary.run(
            ["list", "--format", "json", "--name", "^" + prefix],
            prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=\(set)", "--ambient-caps=\(set)",
                     "--bounding-set=\(set)", "--no-new-privs"])
    }

    @Test(.requiresBPF) func theUnitsCapabilitiesAreEnoughAndEachIsNeeded() async throws {
        let capabilities = try Self.capabilities()
        #expect(capabilities == ["sys_admin", "dac_read_search"])
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "hash", maxEntries: 8, fill: 3)
        // A pin where Cilium keeps its own: under a directory only root may search.
        let directory = try Scratch.pinDirectory("private")
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await holder.pin(id: id, at: directory + "/map")

        func maps(_ result: ShipperBinary.Result) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], "\(result.stderr)")
        }
        let all = try await Self.listAsNobody(capabilities, prefix)
        #expect(all.status == 0, "\(all.stderr)")
        let map = try #require(try maps(all).first)
        #expect(map["entries"] as? Int == 3)
        #expect(map["count_method"] as? String == "kfunc")
        #expect(map["pinned"] as? [String] == [directory + "/map"])

        // Without CAP_DAC_READ_SEARCH the pin behind the 0700 directory is not found.
        let noSearch = try await Self.listAsNobody(capabilities.filter { $0 != "dac_read_search" }, prefix)
        #expect(noSearch.status == 0, "\(noSearch.stderr)")
        #expect(try maps(noSearch).first?["pinned"] as? [String] == [])
        #expect(try maps(noSearch).first?["entries"] as? Int == 3)

        // Without CAP_SYS_ADMIN nothing can be listed: one line, exit 1.
        let noAdmin = try await Self.listAsNobody(capabilities.filter { $0 != "sys_admin" }, prefix)
        #expect(noAdmin.status == 1)
        #expect(noAdmin.stderr.split(separator: "\n").count == 1, "\(noAdmin.stderr)")
    }
}
