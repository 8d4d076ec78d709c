import Foundation
import ShipperCollect
import ShipperMetrics
import ShipperEncode

/// The whole configuration of one shipper: one YAML file, tuned per fleet.
public struct Config: Sendable, Equatable {
    /// How often maps are collected and sent, aligned to the wall clock.
    public var interval: Duration
    /// Added to every series unless the series already has the label.
    public var externalLabels: LabelSet
    public var maps: MapsConfig
    public var programs: ProgramsConfig
    public var remoteWrite: [RemoteWriteConfig]
    public var pushgateway: [PushgatewayConfig]
    public var buffer: BufferConfig
}

/// What is reported of the loaded BPF programs.
public struct ProgramsConfig: Sendable, Equatable {
    /// Whether the kernel's run-time statistics are turned on while the shipper runs, or for a
    /// window before each collection.
    public var stats: ProgramStatistics
    /// With `stats: sampled`, how long that window is.
    public var sampleWindow: Duration

    static let defaults = ProgramsConfig(stats: .off, sampleWindow: .seconds(1))
}

extension Config {
    /// The collector's settings: which maps, how they are counted, and the programs' statistics.
    package var collectorOptions: CollectorOptions {
        var options = maps.collectorOptions
        options.programStatistics = programs.stats
        options.sampleWindow = programs.sampleWindow
        return options
    }
}

/// Where and how much each remote-write endpoint buffers on disk.
public struct BufferConfig: Sendable, Equatable {
    /// Each endpoint gets a 0700 subdirectory named after it. nil: no disk buffer, memory only.
    public var dir: String?
    public var maxSize: UInt64
    public var maxAge: Duration
    /// fsync each cycle's appends: survives power loss. Without it, data still survives kill -9.
    public var fsync: Bool

    /// The endpoint's own directory: its name with anything but [A-Za-z0-9._-] replaced by `_`.
    public func directory(for endpoint: RemoteWriteConfig) -> String? {
        dir.map { $0 + "/" + String(endpoint.name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" }) }
    }
}

/// Which maps are collected, and how.
public struct MapsConfig: Sendable, Equatable {
    /// Name regexes (unanchored); a map is kept if any matches. Empty keeps all.
    public var include: [String]
    public var exclude: [String]
    public var types: Set<MapType>
    public var countMethod: CollectionMethod
    public var maxWalkKeys: UInt64
    public var lossTracking: LossTracking
    /// Whether the shipper's own maps and programs are reported as the host's are.
    public var includeSelf: Bool

    package var collectorOptions: CollectorOptions {
        var options = CollectorOptions(
            method: countMethod, maxWalkKeys: maxWalkKeys,
            filter: MapFilter(include: include, exclude: exclude, types: types))
        options.lossTracking = lossTracking
        options.includeSelf = includeSelf
        return options
    }
}

/// One Prometheus remote-write endpoint: Prometheus, Mimir, Thanos, VictoriaMetrics, Cortex.
public struct RemoteWriteConfig: Sendable, Equatable {
    /// Unique; names the endpoint in logs and in the `endpoint` label of self-metrics.
    public var name: String
    public var url: String
    /// Extra request headers, e.g. `X-Scope-OrgID` for a Mimir tenant. Never the protocol's own.
    public var headers: [HTTPHeader]
    public var basicAuth: BasicAuth?
    public var bearerTokenFile: String?
    /// Per request, connection included.
    public var timeout: Duration
    public var queue: QueueConfig
    public var tls: TLSConfig
    public var proxy = ProxyConfig.none
    public var sigv4: SigV4Config?
    public var oauth2: OAuth2Config?
    /// This endpoint's own buffer limits; nil takes the `buffer` section's.
    public var bufferMaxSize: UInt64?
    public var bufferMaxAge: Duration?
    /// What it is sent first (`protobuf_message`); a 2.0 endpoint found to take only 1.0 falls back.
    public var message: RemoteWriteMessage
}

/// A configured request header.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String
}

/// One Pushgateway, for batch jobs that nothing would scrape. It keeps only the latest state of
/// each group, so nothing is buffered: a failed push is retried until the next collection
/// replaces it.
public struct PushgatewayConfig: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// Replaces the whole group.
        case put
        /// Replaces only the metrics of the names pushed.
        case post
    }

    public var name: String
    /// The Pushgateway's base URL, e.g. `http://pushgateway:9091`.
    public var url: String
    public var job: String
    /// The rest of the grouping key; default `instance=<hostname>`.
    public var grouping: LabelSet
    public var method: Method
    public var headers: [HTTPHeader]
    public var basicAuth: BasicAuth?
    public var bearerTokenFile: String?
    public var timeout: Duration
    public var tls: TLSConfig
    /// `run` deletes its group when it exits cleanly, so finished jobs leave no stale groups.
    public var deleteOnShutdown: Bool
    public var proxy = ProxyConfig.none
    public var sigv4: SigV4Config?
    public var oauth2: OAuth2Config?
}

public struct BasicAuth: Sendable, Equatable {
    public var username: String
    /// Secrets come only from files, read when a request is prepared, never logged.
    public var passwordFile: String
}

/// Batching and retry behaviour of one endpoint's queue.
public struct QueueConfig: Sendable, Equatable {
    public var maxSamplesPerSend: Int
    public var minBackoff: Duration
    public var maxBackoff: Duration
    public var retryOnHTTP429: Bool
}

/// How an endpoint reaches its receiver through an HTTP(S) proxy: Prometheus's `proxy_url`,
/// `no_proxy`, `proxy_from_environment` and `proxy_connect_header`. With none of them, no proxy
/// at all: the environment's `http_proxy`, which libcurl would read by default, is ignored.
public struct ProxyConfig: Sendable, Equatable {
    /// `http://` or `https://` host and port, never credentials (a Proxy-Authorization file holds them).
    public var url: String?
    /// Hosts, domains, addresses and CIDR ranges that bypass `url`, comma-separated, as curl reads them.
    public var noProxy: String?
    /// Whether the environment's `http_proxy`, `https_proxy` and `no_proxy` apply.
    public var fromEnvironment = false
    /// Headers for the proxy only (its CONNECT, or a plain request through it).
    public var headers: [ProxyHeader] = []

    public static let none = ProxyConfig()
}

/// A header for the proxy: a value written in the config, or a secret read from a file when each
/// request is prepared (re-read when the file changes, never logged).
public struct ProxyHeader: Sendable, Equatable {
    public var name: String
    public var value: String?
    public var file: String?
}

/// TLS client settings. Verification is on unless `insecureSkipVerify` says otherwise.
public struct TLSConfig: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var insecureSkipVerify: Bool
}
