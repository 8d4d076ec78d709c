import Foundation

@testable import ShipperBuffer

/// The real binary as a daemon (`run`, with a config written to a temporary file, or `serve`).
final class ShipperDaemon: @unchecked Sendable {
    private let process = Process()
    private let errors = Pipe()
    private let collected = Mutex2(Data())
    let configFile: URL?
    private let ownsConfig: Bool

    /// Starts `run` on `config`, or on an existing config file; `environment` is added to the
    /// test run's.
    convenience init(config: String? = nil, file: URL? = nil, arguments: [String] = [], environment: [String: String] = [:]) throws {
        let configFile = try file ?? writeConfig(config ?? "")
        try self.init(
            command: ["run", "--config", configFile.path] + arguments, configFile: configFile, ownsConfig: file == nil,
            environment: environment)
    }

    /// Starts any long-running command, e.g. `serve`.
    init(command: [String], configFile: URL? = nil, ownsConfig: Bool = false, environment: [String: String] = [:]) throws {
        self.configFile = configFile
        self.ownsConfig = ownsConfig
        process.executableURL = ShipperBinary.url
        process.arguments = command
        if !environment.isEmpty { process.environment = Scratch.environment.merging(environment) { $1 } }
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        errors.fileHandleForReading.readabilityHandler = { [collected] handle in
            let data = handle.availableData
            collected.update { $0.append(data) }
        }
        try process.run()
    }

    deinit {
        let (file, owned) = (configFile, ownsConfig)
        process.endInBackground(signal: SIGINT) { if owned, let file { removeConfig(file) } }
    }

    var log: String { String(decoding: collected.get(), as: UTF8.self) }

    var pid: Int32 { process.processIdentifier }

    /// kill -9: no chance to flush or clean up.
    func kill() async {
        Foundation.kill(process.processIdentifier, SIGKILL)
        _ = await process.exited()
    }

    /// Closes the reading end of the daemon's stderr, as `run 2>&1 | head -1` does once head exits.
    func closeLog() {
        errors.fileHandleForReading.readabilityHandler = nil
        try? errors.fileHandleForReading.close()
    }

    var isRunning: Bool { process.isRunning }

    /// Resident memory now, in KiB (VmRSS).
    var residentKiB: Int? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
    }

    /// Waits (at most 60 s) for `text` in the log, then stops the daemon with SIGTERM: true if it
    /// was logged and the daemon exited 0. How a test sees a failure that is retried without
    /// racing a deadline against a loaded machine.
    func stop(afterLogging text: String) async -> Bool {
        let logged = await eventually(within: 60) { log.contains(text) }
        return await terminate() == 0 && logged
    }

    /// The headers of the records left in `endpoint`'s disk buffer (a config written by `writeConfig`).
    func buffered(_ endpoint: String) -> [Record.Header] {
        BufferedRecords.headers(in: (configFile?.path ?? "") + ".buffer/" + endpoint)
    }

    /// What the pipe holds now, read without waiting for its end: another test's child may have
    /// inherited its write end (see `runToEnd`) and keep it open long after the daemon exited.
    private static func drain(_ fd: Int32) -> Data {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { return data }
            data.append(contentsOf: buffer[..<count])
        }
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit status.
    func terminate() async -> Int32? {
        process.terminate()
        guard await eventually(within: 30, { !process.isRunning }) else { return nil }
        errors.fileHandleForReading.readabilityHandler = nil
        collected.update { $0.append(Self.drain(errors.fileHandleForReading.fileDescriptor)) }
        return process.terminationStatus
    }
}

/// Writes a config to a temporary file; `removeConfig` removes it. A config without a `buffer`
/// section gets its own buffer directory beside the file, so tests never share one (nor use
/// /var/lib/ebpf-map-shipper).
func writeConfig(_ text: String) throws -> URL {
    let file = Scratch.path("shipper").appendingPathExtension("yml")
    let buffered = text.contains("remote_write") && !text.contains("buffer:") ? text + "\nbuffer:\n  dir: \(file.path).buffer\n" : text
    try buffered.write(to: file, atomically: true, encoding: .utf8)
    return file
}

/// Removes a config written by `writeConfig` and the buffer directory it may have been given.
func removeConfig(_ file: URL) {
    try? FileManager.default.removeItem(at: file)
    try? FileManager.default.removeItem(atPath: file.path + ".buffer")
}
