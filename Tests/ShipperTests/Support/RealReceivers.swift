import Foundation
import Testing

@testable import ShipperConfig
@testable import ShipperSend

/// A real receiver from Debian's packages, started on a free loopback port with a temporary
/// directory, and stopped (and its directory removed) when the value goes away.
final class ReceiverProcess: @unchecked Sendable {
    let port: UInt16
    let directory: URL
    private let process = Process()
    let name: String

    let scheme: String
    /// What stops it: SIGTERM, unless the program keeps the signals it inherits blocked.
    private var stopSignal = SIGTERM

    /// Starts the process; `start` then awaits its readiness.
    private init(name: String, executable: String, scheme: String, port: UInt16?) throws {
        self.name = name
        self.scheme = scheme
        self.port = port ?? Network.freePort()
        directory = Scratch.path(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: executable)
    }

    /// Starts `executable` with `arguments` and waits (at most 60 s) until `ready` answers 2xx, or `isReady` holds.
    private static func start(
        name: String, executable: String, arguments: (UInt16, URL) async throws -> [String], ready: String,
        scheme: String = "http", port: UInt16? = nil, stopSignal: Int32 = SIGTERM,
        isReady: ((ReceiverProcess) async -> Bool)? = nil
    ) async throws -> ReceiverProcess {
        let receiver = try ReceiverProcess(name: name, executable: executable, scheme: scheme, port: port)
        receiver.stopSignal = stopSignal
        let process = receiver.process
        process.arguments = try await arguments(receiver.port, receiver.directory)
        let handle = try Scratch.emptyFile(receiver.directory.appendingPathComponent("log"))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let answers = isReady ?? { await Network.get($0.baseURL + ready, timeout: 1) != nil }
        // Ready means this process answers: one that failed to bind must not pass for another's port.
        guard await eventually(within: 60, { if !process.isRunning { return true }; return await answers(receiver) }),
            process.isRunning
        else {
            let log = receiver.log
            await receiver.stop()
            throw ReceiverError(description: "\(name) did not become ready on port \(receiver.port): \(log)")
        }
        return receiver
    }

    deinit {
        let directory = directory
        process.endInBackground(signal: stopSignal) { try? FileManager.default.removeItem(at: directory) }
    }

    var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    var log: String { (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? "" }

    /// Stops the process and waits for it: its port is free once this returns.
    func stop() async {
        if process.isRunning { kill(process.processIdentifier, stopSignal) }
        _ = await process.exited()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Prometheus with its remote-write receiver on, on `port` if given.
    static func prometheus(port: UInt16? = nil) async throws -> ReceiverProcess {
        try await start(
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

    /// Prometheus 3.5.3 from Debian forky, a real remote-write 2.0 receiver (Debian 12's 2.42 takes
    /// only 1.0), unpacked by `scripts/suite-package` without installing it.
    static func prometheus3() async throws -> ReceiverProcess {
        let fetch = Process()
        fetch.executableURL = GuestKernel.repository.appendingPathComponent("scripts/suite-package")
        fetch.arguments = ["forky", "prometheus"]
        // To a file, not a pipe, for the reason `runToEnd` gives.
        let output = Scratch.path("suite-package")
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try Scratch.emptyFile(output)
        fetch.standardOutput = handle
        try fetch.run()
        try handle.close()
        guard await fetch.exited() == 0, let root = try? Data(contentsOf: output) else {
            throw ReceiverError(description: "scripts/suite-package forky prometheus failed (its stderr is above)")
        }
        let executable = String(decoding: root, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) + "/usr/bin/prometheus"
        return try await start(
            name: "prometheus3", executable: executable,
            arguments: { port, directory in
                let config = directory.appendingPathComponent("prometheus.yml")
                try "global:\n  scrape_interval: 15s\n".write(to: config, atomically: true, encoding: .utf8)
                return [
                    "--config.file=\(config.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                    "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver",
                ]
            }, ready: "/-/ready")
    }

    /// Prometheus serving HTTPS (and so HTTP/2) with a fresh self-signed certificate for 127.0.0.1,
    /// which is left at `directory/tls.crt` for clients to trust.
    static func prometheusWithTLS() async throws -> ReceiverProcess {
        try await start(
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
                _ = await openssl.exited()
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

    /// tinyproxy, an HTTP proxy that forwards plain requests and tunnels CONNECT to any port, on
    /// `port` if given; with `user` and `password`, only for requests that carry them as
    /// Proxy-Authorization. Its log names every request it forwards. It keeps the test process's
    /// blocked signals, SIGTERM among them, so it is stopped with SIGKILL.
    static func tinyproxy(port: UInt16? = nil, user: String? = nil, password: String? = nil) async throws -> ReceiverProcess {
        try await start(
            name: "tinyproxy", executable: "/usr/bin/tinyproxy",
            arguments: { port, directory in
                let config = directory.appendingPathComponent("tinyproxy.conf")
                var lines = [
                    "Port \(port)", "Listen 127.0.0.1", "Allow 127.0.0.1", "LogLevel Info", "MaxClients 50", "Timeout 60",
                    "DisableViaHeader Yes",
                ]
                if let user, let password { lines.append("BasicAuth \(user) \(password)") }
                try (lines.joined(separator: "\n") + "\n").write(to: config, atomically: true, encoding: .utf8)
                return ["-d", "-c", config.path]
            }, ready: "", port: port, stopSignal: SIGKILL, isReady: { $0.log.contains("Accepting connections") })
    }

    /// Tests/Fixtures/sigv4_receiver.py: lets through to `upstream` only requests signed with one
    /// of `keys` (access key: secret, session token), as botocore's signer checks them; with
    /// `sts`, it answers AssumeRole with those temporary keys, valid for `expiresIn` seconds.
    /// Like tinyproxy, it keeps the signals the test process blocks: SIGKILL stops it.
    static func sigv4(
        upstream: String, keys: [String: (secret: String, token: String?)],
        sts: (key: String, secret: String, token: String, expiresIn: Int)? = nil, port: UInt16? = nil
    ) async throws -> ReceiverProcess {
        return try await start(
            name: "sigv4-receiver", executable: "/usr/bin/python3",
            arguments: { port, directory in
                var settings: [String: Any] = [
                    "port": Int(port), "upstream": upstream, "region": "eu-west-1", "service": "aps",
                    "keys": keys.mapValues { ["secret": $0.secret, "token": $0.token.map { $0 as Any } ?? NSNull()] },
                ]
                if let sts {
                    settings["sts"] = [
                        "issue": ["AccessKeyId": sts.key, "SecretAccessKey": sts.secret, "SessionToken": sts.token],
                        "expires_in": sts.expiresIn,
                    ]
                }
                let file = directory.appendingPathComponent("settings.json")
                try JSONSerialization.data(withJSONObject: settings).write(to: file)
                return [fixture("sigv4_receiver.py"), file.path]
            }, ready: "", port: port, stopSignal: SIGKILL, isReady: { $0.log.contains("listening on") })
    }

    /// Tests/Fixtures/oauth2_server.py: an OAuth 2.0 token endpoint at /token, which checks the
    /// client-credentials request it gets, and a gate that lets through to `upstream` only the
    /// tokens it issued; `control(_:)` takes the endpoint down and up, or revokes every token.
    static func oauth2(
        upstream: String, clientID: String, clientSecret: String, scope: String?, params: [String: String] = [:],
        expiresIn: Int?
    ) async throws -> ReceiverProcess {
        try await start(
            name: "oauth2-server", executable: "/usr/bin/python3",
            arguments: { port, directory in
                let settings: [String: Any] = [
                    "port": Int(port), "upstream": upstream, "client_id": clientID, "client_secret": clientSecret,
                    "scope": scope.map { $0 as Any } ?? NSNull(), "params": params,
                    "expires_in": expiresIn.map { $0 as Any } ?? NSNull(),
                ]
                let file = directory.appendingPathComponent("settings.json")
                try JSONSerialization.data(withJSONObject: settings).write(to: file)
                return [fixture("oauth2_server.py"), file.path]
            }, ready: "", stopSignal: SIGKILL, isReady: { $0.log.contains("listening on") })
    }

    /// Tells the oauth2_server.py fixture to go `down`, come `up`, or `revoke` its tokens.
    func control(_ command: String) async -> Bool {
        await Network.get(baseURL + "/control/" + command) != nil
    }

    private static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/" + name).path
    }

    /// A Pushgateway without persistence, on `port` if given.
    static func pushgateway(port: UInt16? = nil) async throws -> ReceiverProcess {
        try await start(
            name: "pushgateway", executable: "/usr/bin/prometheus-pushgateway",
            // No persistence: Debian's default file would share state between instances.
            arguments: { port, _ in ["--web.listen-address=127.0.0.1:\(port)", "--persistence.file="] }, ready: "/-/ready",
            port: port)
    }

    /// The lines of `/metrics` that start with `metric{` or `metric `.
    func exposed(_ metric: String) async -> [String] {
        let text = await Network.get(baseURL + "/metrics").map { String(decoding: $0, as: UTF8.self) } ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(metric + "{") || $0.hasPrefix(metric + " ") }
    }

    /// Single-node VictoriaMetrics, with queries seeing samples as soon as they are written; on
    /// `port` if given.
    static func victoriaMetrics(port: UInt16? = nil) async throws -> ReceiverProcess {
        try await start(
            name: "victoria-metrics", executable: "/usr/bin/victoria-metrics",
            arguments: { port, directory in
                [
                    "-httpListenAddr=127.0.0.1:\(port)", "-storageDataPath=\(directory.appendingPathComponent("data").path)",
                    "-search.latencyOffset=0s", "-search.disableCache", "-retentionPeriod=1d",
                ]
            }, ready: "/health", port: port)
    }

    var remoteWriteURL: String { baseURL + "/api/v1/write" }

    /// The raw samples of a range selector such as `x[10m]`: timestamps in milliseconds, per series.
    func samples(_ selector: String) async throws -> [(labels: [String: String], timestampsMs: [Int64], values: [String])] {
        try await results(selector).map { result in
            let values = (result["values"] as? [[Any]]) ?? []
            return (
                (result["metric"] as? [String: String]) ?? [:],
                values.map { Int64((($0.first as? NSNumber)?.doubleValue ?? 0) * 1000 + 0.5) },
                values.map { ($0.last as? String) ?? "" }
            )
        }
    }

    /// An instant query's value of each map's series of `metric`, by `map_id`.
    func valuesByMap(_ metric: String) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await query(metric).map { ($0.labels["map_id"] ?? "", $0.value) })
    }

    /// An instant query through the Prometheus HTTP API: each result's labels and value.
    func query(_ promql: String) async throws -> [(labels: [String: String], value: String)] {
        try await results(promql).map { result in
            ((result["metric"] as? [String: String]) ?? [:], ((result["value"] as? [Any])?.last as? String) ?? "")
        }
    }

    /// An instant query's JSON answer from a Prometheus serving TLS, checked against its own
    /// certificate (`query` speaks plain HTTP); "query failed" unless it answered 200 over HTTP/2.
    func queryOverTLS(_ promql: String) async throws -> String {
        let (url, ca) = (queryURL(promql), certificate)
        return try await offPool {
            let tls = TLSConfig(caFile: ca, certFile: nil, keyFile: nil, insecureSkipVerify: false)
            guard case .response(200, _, let body, true) = try HTTPClient(url: url, timeout: .seconds(30), tls: tls)
                .perform(method: "GET", body: [])
            else { return "query failed" }
            return body
        }
    }

    private func queryURL(_ promql: String) -> String {
        var components = URLComponents(string: baseURL + "/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: promql)]
        // URLComponents leaves "+" alone, and a form-encoded query reads it as a space: "(.+)" would
        // reach Prometheus as "(. )".
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.url!.absoluteString
    }

    /// The `data.result` array of /api/v1/query.
    private func results(_ promql: String) async throws -> [[String: Any]] {
        guard let data = await Network.get(queryURL(promql)) else {
            throw ReceiverError(description: "\(name) did not answer the query \(promql)")
        }
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return ((json?["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
    }
}

struct ReceiverError: Error, CustomStringConvertible {
    var description: String
}
