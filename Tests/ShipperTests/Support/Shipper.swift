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
func runToEnd(
    _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]
) async throws -> ShipperBinary.Result {
    try await offPool {
        let process = Process()
        let out = Pipe()
        let err = Pipe()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = Scratch.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // stderr is drained on a thread of its own, so that neither pipe can fill and block the
        // child. Both threads are this helper's own: nothing here waits on the cooperative pool.
        let stderr = Mutex2(Data())
        let drained = DispatchSemaphore(value: 0)
        Thread {
            stderr.set(err.fileHandleForReading.readDataToEndOfFile())
            drained.signal()
        }.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return ShipperBinary.Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr.get(), as: UTF8.self))
    }
}
