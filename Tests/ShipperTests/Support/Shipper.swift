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

    /// `once` with `config` in a temporary file, removed afterwards, and `options` after it.
    static func once(config: String, _ options: [String] = []) async throws -> Result {
        let file = try writeConfig(config)
        defer { removeConfig(file) }
        return try await run(["once", "--config", file.path] + options)
    }

    /// Runs it to completion, awaited; `prefix` is prepended to the command line (e.g. setpriv).
    static func run(_ arguments: [String], prefix: [String] = []) async throws -> Result {
        try await offPool { try runBlocking(arguments, prefix: prefix) }
    }

    /// The blocking part, on a thread of its own (never the cooperative pool).
    private static func runBlocking(_ arguments: [String], prefix: [String]) throws -> Result {
        let process = Process()
        let out = Pipe()
        let err = Pipe()
        if prefix.isEmpty {
            process.executableURL = url
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = prefix + [url.path] + arguments
        }
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Drain both pipes before waiting, so a large output cannot block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}
