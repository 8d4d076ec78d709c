import Foundation
import ShipperCollect
import ShipperMetrics

extension Config {
    /// What runs without `--config`: every map, pushed to a Prometheus on this host.
    public static func defaults(hostname: String = Config.hostname()) -> Config {
        Config(
            interval: .seconds(15),
            externalLabels: defaultExternalLabels(hostname: hostname),
            maps: MapsConfig.defaults, programs: ProgramsConfig.defaults,
            remoteWrite: [RemoteWriteConfig.defaults(url: RemoteWriteConfig.defaultURL, name: "local-prometheus")],
            pushgateway: [], buffer: BufferConfig.defaults)
    }

    /// `job` and `instance`, so series from a fleet stay apart without any configuration.
    static func defaultExternalLabels(hostname: String) -> LabelSet {
        LabelSet(["job": "ebpf-map-shipper", "instance": hostname])
    }

    /// This host's name from gethostname(2): no DNS lookup, which could hang on an edge host.
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension MapsConfig {
    static let defaults = MapsConfig(
        include: [], exclude: [], types: [], countMethod: .auto, maxWalkKeys: CollectorOptions.defaultMaxWalkKeys,
        lossTracking: .auto, includeSelf: false)
}

extension RemoteWriteConfig {
    public static let defaultURL = "http://127.0.0.1:9090/api/v1/write"

    /// Prometheus's own defaults for the timeout (30s) and backoff (30ms to 5s).
    static func defaults(url: String, name: String) -> RemoteWriteConfig {
        RemoteWriteConfig(
            name: name, url: url, headers: [], basicAuth: nil, bearerTokenFile: nil, timeout: .seconds(30),
            queue: QueueConfig.defaults, tls: TLSConfig.defaults, bufferMaxSize: nil, bufferMaxAge: nil, message: .v1)
    }
}

extension BufferConfig {
    public static let defaultDirectory = "/var/lib/ebpf-map-shipper"
    static let defaults = BufferConfig(dir: defaultDirectory, maxSize: 1 << 30, maxAge: .seconds(86400), fsync: true)
}

extension QueueConfig {
    /// 10,000 samples per request, as vmagent sends (`-remoteWrite.maxRowsPerBlock`), rather than
    /// Prometheus's 2,000: a host's whole cycle goes in a few requests of ~110 KiB compressed,
    /// far below any receiver's limit, and each request saves the per-request cost of HTTP,
    /// the buffer's record and its acknowledgement.
    package static let defaults = QueueConfig(
        maxSamplesPerSend: 10_000, minBackoff: .milliseconds(30), maxBackoff: .seconds(5), retryOnHTTP429: true)
}

extension TLSConfig {
    package static let defaults = TLSConfig(caFile: nil, certFile: nil, keyFile: nil, insecureSkipVerify: false)
}

extension Config {
    /// Reads `15s`, `500ms`, `2m` (the config's duration syntax) for command-line options.
    public static func parseDuration(_ text: String) -> Duration? { Units.duration(text) }

    /// What a request timeout may be, `once --timeout` included.
    public static let timeoutBounds = ConfigBounds.timeout

    public static func format(_ duration: Duration) -> String { Units.format(duration) }

    /// What `check-config` prints: every effective setting, secrets as file paths only.
    public var summary: String {
        var lines = ["interval: \(Units.format(interval))"]
        lines.append("external_labels: " + externalLabels.map { "\($0.name)=\($0.value)" }.joined(separator: ", "))
        lines.append(
            "maps: count_method=\(maps.countMethod.rawValue) max_walk_keys=\(maps.maxWalkKeys) loss_tracking=\(maps.lossTracking.rawValue)"
                + (maps.include.isEmpty ? "" : " include=\(maps.include)") + (maps.exclude.isEmpty ? "" : " exclude=\(maps.exclude)")
                + (maps.types.isEmpty ? "" : " types=\(maps.types.map(\.name).sorted())")
                + (maps.includeSelf ? " include_self=true" : ""))
        lines.append("programs: stats=\(programs.stats.rawValue)"
            + (programs.stats == .sampled ? " sample_window=\(Units.format(programs.sampleWindow))" : ""))
        for endpoint in remoteWrite {
            var line = "remote_write \(endpoint.name): \(EndpointURL.hidingQueryValues(endpoint.url)) timeout=\(Units.format(endpoint.timeout))"
            line += " max_samples_per_send=\(endpoint.queue.maxSamplesPerSend)"
            line += " backoff=\(Units.format(endpoint.queue.minBackoff))..\(Units.format(endpoint.queue.maxBackoff))"
            line += " retry_on_http_429=\(endpoint.queue.retryOnHTTP429)"
            line += " protobuf_message=\(endpoint.message.rawValue)"
            line += endpoint.connectionSummary
            if let directory = buffer.directory(for: endpoint) {
                line += " buffer=\(directory) max_size=\(endpoint.bufferMaxSize ?? buffer.maxSize)B"
                line += " max_age=\(Units.format(endpoint.bufferMaxAge ?? buffer.maxAge))"
            } else {
                line += " buffer=memory"
            }
            lines.append(line)
        }
        for gateway in pushgateway {
            var line = "pushgateway \(gateway.name): \(EndpointURL.hidingQueryValues(gateway.url)) job=\(gateway.job)"
            line += " grouping=" + gateway.grouping.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            line += " method=\(gateway.method.rawValue) timeout=\(Units.format(gateway.timeout))"
            line += " delete_on_shutdown=\(gateway.deleteOnShutdown)"
            line += gateway.connectionSummary
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
