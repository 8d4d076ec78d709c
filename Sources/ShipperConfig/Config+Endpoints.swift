import Foundation
import ShipperMetrics
import ShipperEncode

extension RemoteWriteConfig {
    init(_ value: YAMLValue, index: Int) throws(ConfigError) {
        let map = try value.mapping(keys: HTTPFields.keys + ["protobuf_message", "queue", "buffer"])
        let http = try HTTPFields(map, in: value, example: "https://prometheus.example/api/v1/write")
        self = .defaults(url: http.url, name: http.name)
        headers = http.headers
        basicAuth = http.basicAuth
        bearerTokenFile = http.bearerTokenFile
        timeout = http.timeout ?? timeout
        tls = http.tls
        proxy = http.proxy
        sigv4 = http.sigv4
        oauth2 = http.oauth2
        if let field = map["protobuf_message"] {
            let text = try field.string()
            guard let parsed = RemoteWriteMessage(rawValue: text) else {
                throw field.fail(
                    "unknown protobuf_message '\(text)'; expected prometheus.WriteRequest (remote-write 1.0, the default) "
                        + "or io.prometheus.write.v2.Request (2.0)")
            }
            message = parsed
        }
        if let queue = map["queue"] {
            let fields = try queue.mapping(keys: ["max_samples_per_send", "min_backoff", "max_backoff", "retry_on_http_429"])
            if let value = fields["max_samples_per_send"] { self.queue.maxSamplesPerSend = try value.integer(in: ConfigBounds.maxSamplesPerSend) }
            if let value = fields["min_backoff"] { self.queue.minBackoff = try value.duration(in: ConfigBounds.backoff) }
            if let value = fields["max_backoff"] { self.queue.maxBackoff = try value.duration(in: ConfigBounds.backoff) }
            if let value = fields["retry_on_http_429"] { self.queue.retryOnHTTP429 = try value.bool() }
            if self.queue.minBackoff > self.queue.maxBackoff {
                throw (fields["min_backoff"] ?? queue).fail(
                    "min_backoff (\(Units.format(self.queue.minBackoff))) exceeds max_backoff (\(Units.format(self.queue.maxBackoff)))")
            }
        }
        if let buffer = map["buffer"] {
            let fields = try buffer.mapping(keys: ["max_size", "max_age"])
            if let size = fields["max_size"] { bufferMaxSize = try size.size(in: ConfigBounds.bufferMaxSize) }
            if let age = fields["max_age"] { bufferMaxAge = try age.duration(in: ConfigBounds.bufferMaxAge) }
        }
    }
}

extension PushgatewayConfig {
    init(_ value: YAMLValue, hostname: String) throws(ConfigError) {
        let map = try value.mapping(keys: HTTPFields.keys + ["job", "grouping", "method", "delete_on_shutdown"])
        let http = try HTTPFields(map, in: value, example: "http://pushgateway.example:9091")
        guard let jobValue = map["job"] else { throw value.fail("missing key 'job'; the Pushgateway groups pushes by job") }
        let job = try jobValue.string()
        guard !job.isEmpty else { throw jobValue.fail("the job name is empty; give the batch job's name") }
        self.init(
            name: http.name, url: http.url, job: job, grouping: LabelSet(["instance": hostname]), method: .put,
            headers: http.headers, basicAuth: http.basicAuth, bearerTokenFile: http.bearerTokenFile,
            timeout: http.timeout ?? .seconds(10), tls: http.tls, deleteOnShutdown: false, proxy: http.proxy, sigv4: http.sigv4,
            oauth2: http.oauth2)
        if let grouping = map["grouping"] {
            for (name, labelValue) in try grouping.stringMap(atMost: ConfigBounds.configuredLabels) {
                try Config.checkLabel(name, labelValue)
                guard LabelSet.isValidName(name.text), !name.text.hasPrefix("__"), name.text != "job" else {
                    throw name.fail("invalid grouping label '\(name.text)'; expected [a-zA-Z_][a-zA-Z0-9_]*, not job, not starting with __")
                }
                self.grouping[name.text] = labelValue  // an empty value removes the default instance
            }
        }
        if let method = map["method"] {
            let text = try method.string()
            guard let parsed = Method(rawValue: text) else {
                throw method.fail("unknown method '\(text)'; expected put (replace the group) or post (replace pushed names only)")
            }
            self.method = parsed
        }
        if let delete = map["delete_on_shutdown"] { deleteOnShutdown = try delete.bool() }
    }
}
