import Foundation

/// Runs the real `ebpf-map-shipper` binary, built next to this test bundle.
enum ShipperBinary {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var url: URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("ebpf-map-shipper")
    }

    /// `once` with `config` in a temporary file, removed afterwards, and `options` after it;
    /// `environment` is added to the test run's.
    static func once(config: String, _ options: [String] = [], environment: [String: String] = [:]) async throws -> Result {
        let file = try writeConfig(config)
        defer { removeConfig(file) }
        return try await runToEnd(url, ["once", "--config", file.path] + options, environment: environment)
    }

    /// Runs it to completion, awaited; `prefix` is prepended to the command line (e.g. setpriv).
    static func run(_ arguments: [String], prefix: [String] = []) async throws -> Result {
        let executable = prefix.isEmpty ? url : URL(fileURLWithPath: "/usr/bin/env")
        let all = prefix.isEmpty ? arguments : prefix + [url.path] + arguments
        return try await runToEnd(executable, all)
    }
}

/// Runs a program to completion on a thread of its own (never the cooperative pool) and awaits
/// its exit status and output. Its temporary files go under the run's scratch root.
///
/// The output goes to files, not pipes: Foundation's `pipe()` is not close-on-exec, and on Linux
/// `Process` closes in the child only the descriptors up to the highest one open when it prepared
/// the spawn, so a pipe that another test opens meanwhile leaks into this test's child. A reader waiting for a pipe's end would then
/// wait for an unrelated Prometheus or guest to exit. A file is whole once the child has exited.
func runToEnd(
    _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]
) async throws -> ShipperBinary.Result {
    try await offPool {
        let process = Process()
        let (out, err) = (Scratch.path("stdout"), Scratch.path("stderr"))
        defer { for file in [out, err] { try? FileManager.default.removeItem(at: file) } }
        let handles = try [out, err].map(Scratch.emptyFile)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = Scratch.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = handles[0]
        process.standardError = handles[1]
        try process.run()
        for handle in handles { try? handle.close() }
        // This thread is the helper's own: nothing here waits on the cooperative pool.
        process.waitUntilExit()
        let (stdout, stderr) = (try Data(contentsOf: out), try Data(contentsOf: err))
        return ShipperBinary.Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}
