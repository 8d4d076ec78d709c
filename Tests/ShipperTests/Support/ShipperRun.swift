import Foundation

/// The real binary as a daemon (`run`), with a config written to a temporary file.
final class ShipperDaemon {
    private let process = Process()
    private let errors = Pipe()
    private let collected = Mutex2(Data())
    let configFile: URL

    init(config: String, arguments: [String] = []) throws {
        configFile = try writeConfig(config)
        process.executableURL = ShipperBinary.url
        process.arguments = ["run", "--config", configFile.path] + arguments
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        errors.fileHandleForReading.readabilityHandler = { [collected] handle in
            let data = handle.availableData
            collected.update { $0.append(data) }
        }
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: configFile)
    }

    var log: String { String(decoding: collected.get(), as: UTF8.self) }

    /// Sends SIGTERM and waits (at most 20 s) for the exit status.
    func terminate() -> Int32? {
        process.terminate()
        guard eventually(within: 20, { !process.isRunning }) else { return nil }
        errors.fileHandleForReading.readabilityHandler = nil
        collected.update { $0.append(errors.fileHandleForReading.readDataToEndOfFile()) }
        return process.terminationStatus
    }
}

/// Writes a config to a temporary file; the caller removes it.
func writeConfig(_ text: String) throws -> URL {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("shipper-\(UUID()).yml")
    try text.write(to: file, atomically: true, encoding: .utf8)
    return file
}
