import Foundation
import Testing

/// A real receiver from Debian's packages, started on a free loopback port with a temporary
/// directory, and stopped (and its directory removed) when the value goes away.
final class ReceiverProcess {
    let port: UInt16
    let directory: URL
    private let process = Process()
    let name: String

    let scheme: String

    private init(
        name: String, executable: String, arguments: (UInt16, URL) throws -> [String], ready: String,
        scheme: String = "http", port: UInt16? = nil, isReady: ((ReceiverProcess) -> Bool)? = nil
    ) throws {
        self.name = name
        self.scheme = scheme
        self.port = port ?? Network.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = try arguments(self.port, directory)
        let log = directory.appendingPathComponent("log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let ready = isReady ?? { Network.get($0.baseURL + ready, timeout: 1) != nil }
        // Ready means this process answers: one that failed to bind must not pass for another's port.
        guard eventually(within: 20, { !process.isRunning || ready(self) }), process.isRunning else {
            stop()
            throw ReceiverError(description: "\(name) did not become ready on port \(self.port): \(self.log)")
        }
    }

    deinit { stop() }

    var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    var log: String { (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Prometheus with its remote-write receiver on, on `port` if given.
    static func prometheus(port: UInt16? = nil) throws -> ReceiverProcess {
        try ReceiverProcess(
            name: "prometheus", executable: "/usr/bin/prometheus",
            arguments: { port, directory in
                let config = directory.appendingPathComponent("prometheus.yml")
                try? "global:\n  scrape_interval: 15s\n".write(to: config, atomically: true, encoding: .utf8)
                return [
                    "--config.file=\(config.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                    "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver",
                ]
            }, ready: "/-/ready", port: port)
    }

    /// Prometheus serving HTTPS (and so HTTP/2) with a fresh self-signed certificate for 127.0.0.1,
    /// which is left at `directory/tls.crt` for clients to trust.
    static func prometheusWithTLS() throws -> ReceiverProcess {
        try ReceiverProcess(
            name: "prometheus-tls", executable: "/usr/bin/prometheus",
            arguments: { port, directory in
                let openssl = Process()
                openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
                openssl.arguments = [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", directory.appendingPathComponent("tls.key").path,
                    "-out", directory.appendingPathComponent("tls.crt").path,
                ]
                openssl.standardError = FileHandle.nullDevice
                try openssl.run()
                openssl.waitUntilExit()
                let web = directory.appendingPathComponent("web.yml")
                try "tls_server_config:\n  cert_file: \(directory.path)/tls.crt\n  key_file: \(directory.path)/tls.key\n"
                    .write(to: web, atomically: true, encoding: .utf8)
                let config = directory.appendingPathComponent("prometheus.yml")
                try "global:\n  scrape_interval: 15s\n".write(to: config, atomically: true, encoding: .utf8)
                return [
                    "--config.file=\(config.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                    "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver",
                    "--web.config.file=\(web.path)",
                ]
            }, ready: "", scheme: "https", isReady: { $0.log.contains("Server is ready to receive web requests") })
    }

    var certificate: String { directory.appendingPathComponent("tls.crt").path }

    /// A Pushgateway without persistence, on `port` if given.
    static func pushgateway(port: UInt16? = nil) throws -> ReceiverProcess {
        try ReceiverProcess(
            name: "pushgateway", executable: "/usr/bin/prometheus-pushgateway",
            // No persistence: Debian's default file would share state between instances.
            arguments: { port, _ in ["--web.listen-address=127.0.0.1:\(port)", "--persistence.file="] }, ready: "/-/ready",
            port: port)
    }

    /// The lines of `/metrics` that start with `metric{` or `metric `.
    func exposed(_ metric: String) -> [String] {
        let text = Network.get(baseURL + "/metrics").map { String(decoding: $0, as: UTF8.self) } ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(metric + "{") || $0.hasPrefix(metric + " ") }
    }

    /// Single-node VictoriaMetrics, with queries seeing samples as soon as they are written.
    static func victoriaMetrics() throws -> ReceiverProcess {
        try ReceiverProcess(
            name: "victoria-metrics", executable: "/usr/bin/victoria-metrics",
            arguments: { port, directory in
                [
                    "-httpListenAddr=127.0.0.1:\(port)", "-storageDataPath=\(directory.appendingPathComponent("data").path)",
                    "-search.latencyOffset=0s", "-search.disableCache", "-retentionPeriod=1d",
                ]
            }, ready: "/health")
    }

    var remoteWriteURL: String { baseURL + "/api/v1/write" }

    /// The raw samples of a range selector such as `x[10m]`: timestamps in milliseconds, per series.
    func samples(_ selector: String) throws -> [(labels: [String: String], timestampsMs: [Int64], values: [String])] {
        try results(selector).map { result in
            let values = (result["values"] as? [[Any]]) ?? []
            return (
                (result["metric"] as? [String: String]) ?? [:],
                values.map { Int64((($0.first as? NSNumber)?.doubleValue ?? 0) * 1000 + 0.5) },
                values.map { ($0.last as? String) ?? "" }
            )
        }
    }

    /// An instant query through the Prometheus HTTP API: each result's labels and value.
    func query(_ promql: String) throws -> [(labels: [String: String], value: String)] {
        try results(promql).map { result in
            ((result["metric"] as? [String: String]) ?? [:], ((result["value"] as? [Any])?.last as? String) ?? "")
        }
    }

    /// The `data.result` array of /api/v1/query.
    private func results(_ promql: String) throws -> [[String: Any]] {
        var components = URLComponents(string: baseURL + "/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: promql)]
        guard let data = Network.get(components.url!.absoluteString) else {
            throw ReceiverError(description: "\(name) did not answer the query \(promql)")
        }
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return ((json?["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
    }
}

struct ReceiverError: Error, CustomStringConvertible {
    var description: String
}
