import Logging
import ShipperMetrics
import ShipperConfig

/// What an endpoint's sending thread holds to reach it: the HTTP handle for its URL, the
/// credentials applied to each request, how its failures are logged, and a logger naming it.
/// Not Sendable: owned by one sending thread.
struct EndpointConnection {
    let client: HTTPClient
    let credentials: RequestCredentials
    var log: SendLog
    let logger: Logger

    init(_ endpoint: some HTTPEndpointConfig, url: String, metrics: SelfMetrics, logger: Logger) throws(HTTPSetupError) {
        client = try HTTPClient(url: url, timeout: endpoint.timeout, tls: endpoint.tls, proxy: endpoint.proxy)
        var logger = logger
        logger[metadataKey: "endpoint.name"] = "\(endpoint.name)"
        self.logger = logger
        log = SendLog(logger: logger, metrics: metrics, endpoint: endpoint.name)
        credentials = try RequestCredentials(endpoint, url: url, logger: logger)
    }

    /// One request with the endpoint's headers and credentials (see `RequestCredentials.perform`).
    func perform(method: String, body: [UInt8], protocolHeaders: [String], deadline: ContinuousClock.Instant? = nil) -> HTTPOutcome {
        credentials.perform(client, method: method, body: body, protocolHeaders: protocolHeaders, deadline: deadline)
    }
}
