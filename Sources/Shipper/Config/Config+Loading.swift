import Foundation
import Yams

extension Config {
    /// Reads and validates a YAML config file. Every error names the file, the line and the key.
    public static func load(
        file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> Config {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: file) ? "is not readable UTF-8 text" : "does not exist"
            throw ConfigError(file: file, line: nil, key: "", message: "the config file \(reason); pass an existing file")
        }
        return try parse(text, file: file, environment: environment)
    }

    /// Validates YAML text; `file` only names the source in errors.
    static func parse(
        _ text: String, file: String, environment: [String: String], hostname: String = Config.hostname()
    ) throws(ConfigError) -> Config {
        let context = LoadContext(file: file, environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw context.yamlError(error)
        }
        var config = Config.defaults(hostname: hostname)
        guard let root else { return config }
        let top = try YAMLValue(node: root, path: "", context: context).mapping(
            keys: ["interval", "external_labels", "maps", "remote_write", "pushgateway", "buffer"])

        if let value = top["interval"] { config.interval = try value.duration() }
        if let value = top["external_labels"] {
            for (name, labelValue) in try value.stringMap() {
                guard LabelSet.isValidName(name.text), !name.text.hasPrefix("__") else {
                    throw name.fail("invalid label name '\(name.text)'; expected [a-zA-Z_][a-zA-Z0-9_]* not starting with __")
                }
                config.externalLabels[name.text] = labelValue  // an empty value removes a default label
            }
        }
        if let value = top["maps"] { config.maps = try MapsConfig(value) }
        if let value = top["remote_write"] {
            config.remoteWrite = try value.list().enumerated().map { index, entry throws(ConfigError) in
                try RemoteWriteConfig(entry, index: index)
            }
            if config.remoteWrite.isEmpty { throw value.fail("the list is empty; configure at least one endpoint") }
        }
        if let value = top["pushgateway"] {
            config.pushgateway = try value.list().map { entry throws(ConfigError) in try PushgatewayConfig(entry, hostname: hostname) }
            if config.pushgateway.isEmpty { throw value.fail("the list is empty; configure at least one Pushgateway") }
            // A Pushgateway-only config pushes nowhere else.
            if top["remote_write"] == nil { config.remoteWrite = [] }
        }
        // Endpoint names label the self-metrics and name buffer directories: unique across both lists.
        var seen: Set<String> = []
        let entries = (try top["remote_write"]?.list() ?? []) + (try top["pushgateway"]?.list() ?? [])
        for (index, name) in (config.remoteWrite.map(\.name) + config.pushgateway.map(\.name)).enumerated()
        where !seen.insert(name).inserted {
            throw entries[index].fail("duplicate endpoint name '\(name)'; give each remote_write and pushgateway entry a unique name")
        }
        if let value = top["buffer"] {
            let fields = try value.mapping(keys: ["dir", "max_size", "max_age", "fsync"])
            if let dir = fields["dir"] {
                let path = try dir.string()
                config.buffer.dir = path.isEmpty ? nil : path
            }
            if let size = fields["max_size"] { config.buffer.maxSize = try size.size() }
            if let age = fields["max_age"] { config.buffer.maxAge = try age.duration() }
            if let fsync = fields["fsync"] {
                switch try fsync.string() {
                case "always": config.buffer.fsync = true
                case "never": config.buffer.fsync = false
                case let other: throw fsync.fail("invalid fsync policy '\(other)'; expected always or never")
                }
            }
        }
        let directories = config.remoteWrite.compactMap(config.buffer.directory(for:))
        if Set(directories).count != directories.count, let entries = top["remote_write"] {
            throw entries.fail("two endpoint names map to the same buffer directory; rename one (names keep [A-Za-z0-9._-])")
        }
        return config
    }
}

extension MapsConfig {
    fileprivate init(_ value: YAMLValue) throws(ConfigError) {
        self = .defaults
        let map = try value.mapping(keys: ["include", "exclude", "types", "count_method", "max_walk_keys"])
        if let list = map["include"] { include = try list.regexList() }
        if let list = map["exclude"] { exclude = try list.regexList() }
        if let list = map["types"] {
            types = Set(try list.list().map { item throws(ConfigError) in
                let name = try item.string()
                guard let type = MapType(name: name) else {
                    throw item.fail("unknown map type '\(name)'; expected one of: \(MapType.known.map(\.name).joined(separator: ", "))")
                }
                return type
            })
        }
        if let method = map["count_method"] {
            let name = try method.string()
            guard let parsed = CollectionMethod(rawValue: name) else {
                throw method.fail("unknown count method '\(name)'; expected auto, iterator or fallback")
            }
            countMethod = parsed
        }
        if let bound = map["max_walk_keys"] { maxWalkKeys = UInt64(try bound.integer(atLeast: 1)) }
    }
}

/// The keys every HTTP endpoint shares (remote_write and pushgateway entries).
private struct HTTPFields {
    static let keys = ["name", "url", "headers", "basic_auth", "bearer_token_file", "timeout", "tls_config"]

    /// Headers the shipper sets itself; a config may never replace them.
    static let reservedHeaders: Set<String> = [
        "content-encoding", "content-type", "x-prometheus-remote-write-version", "user-agent", "content-length",
        "host", "authorization",
    ]

    var name: String
    var url: String
    var headers: [HTTPHeader] = []
    var basicAuth: BasicAuth?
    var bearerTokenFile: String?
    var timeout: Duration?
    var tls = TLSConfig.defaults

    init(_ map: [String: YAMLValue], in value: YAMLValue, example: String) throws(ConfigError) {
        guard let urlValue = map["url"] else { throw value.fail("missing key 'url'; e.g. url: \(example)") }
        url = try urlValue.string()
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = parsed.host, !host.isEmpty
        else {
            throw urlValue.fail("invalid URL '\(url)'; expected http:// or https:// with a host")
        }
        name = try map["name"]?.string() ?? parsed.port.map { "\(host):\($0)" } ?? host
        if let headers = map["headers"] {
            self.headers = try headers.stringMap().map { name, value throws(ConfigError) in
                if Self.reservedHeaders.contains(name.text.lowercased()) {
                    throw name.fail("header '\(name.text)' is set by the shipper itself and cannot be configured"
                        + (name.text.lowercased() == "authorization" ? "; use bearer_token_file or basic_auth" : ""))
                }
                return HTTPHeader(name: name.text, value: value)
            }
        }
        if let auth = map["basic_auth"] {
            let fields = try auth.mapping(keys: ["username", "password_file", "password"])
            if let inline = fields["password"] {
                throw inline.fail("inline passwords are not accepted; write the password to a file readable only by the shipper and set password_file")
            }
            guard let username = fields["username"] else { throw auth.fail("missing key 'username'") }
            guard let file = fields["password_file"] else { throw auth.fail("missing key 'password_file'") }
            basicAuth = BasicAuth(username: try username.string(), passwordFile: try file.readableFile())
        }
        if let token = map["bearer_token_file"] {
            if basicAuth != nil { throw token.fail("set either basic_auth or bearer_token_file, not both") }
            bearerTokenFile = try token.readableFile()
        }
        if let timeout = map["timeout"] { self.timeout = try timeout.duration() }
        if let tls = map["tls_config"] {
            let fields = try tls.mapping(keys: ["ca_file", "cert_file", "key_file", "insecure_skip_verify"])
            if let value = fields["ca_file"] { self.tls.caFile = try value.readableFile() }
            if let value = fields["cert_file"] { self.tls.certFile = try value.readableFile() }
            if let value = fields["key_file"] { self.tls.keyFile = try value.readableFile() }
            if let value = fields["insecure_skip_verify"] { self.tls.insecureSkipVerify = try value.bool() }
            if (self.tls.certFile == nil) != (self.tls.keyFile == nil) {
                throw tls.fail("cert_file and key_file go together; set both for client certificates")
            }
        }
    }
}

extension RemoteWriteConfig {
    fileprivate init(_ value: YAMLValue, index: Int) throws(ConfigError) {
        let map = try value.mapping(keys: HTTPFields.keys + ["queue", "buffer"])
        let http = try HTTPFields(map, in: value, example: "https://prometheus.example/api/v1/write")
        self = .defaults(url: http.url, name: http.name)
        headers = http.headers
        basicAuth = http.basicAuth
        bearerTokenFile = http.bearerTokenFile
        timeout = http.timeout ?? timeout
        tls = http.tls
        if let queue = map["queue"] {
            let fields = try queue.mapping(keys: ["max_samples_per_send", "min_backoff", "max_backoff", "retry_on_http_429"])
            if let value = fields["max_samples_per_send"] { self.queue.maxSamplesPerSend = try value.integer(atLeast: 1) }
            if let value = fields["min_backoff"] { self.queue.minBackoff = try value.duration() }
            if let value = fields["max_backoff"] { self.queue.maxBackoff = try value.duration() }
            if let value = fields["retry_on_http_429"] { self.queue.retryOnHTTP429 = try value.bool() }
            if self.queue.minBackoff > self.queue.maxBackoff {
                throw (fields["min_backoff"] ?? queue).fail(
                    "min_backoff (\(Units.format(self.queue.minBackoff))) exceeds max_backoff (\(Units.format(self.queue.maxBackoff)))")
            }
        }
        if let buffer = map["buffer"] {
            let fields = try buffer.mapping(keys: ["max_size", "max_age"])
            if let size = fields["max_size"] { bufferMaxSize = try size.size() }
            if let age = fields["max_age"] { bufferMaxAge = try age.duration() }
        }
    }
}

extension PushgatewayConfig {
    fileprivate init(_ value: YAMLValue, hostname: String) throws(ConfigError) {
        let map = try value.mapping(keys: HTTPFields.keys + ["job", "grouping", "method", "delete_on_shutdown"])
        let http = try HTTPFields(map, in: value, example: "http://pushgateway.example:9091")
        guard let jobValue = map["job"] else { throw value.fail("missing key 'job'; the Pushgateway groups pushes by job") }
        let job = try jobValue.string()
        guard !job.isEmpty else { throw jobValue.fail("the job name is empty; give the batch job's name") }
        self.init(
            name: http.name, url: http.url, job: job, grouping: LabelSet(["instance": hostname]), method: .put,
            headers: http.headers, basicAuth: http.basicAuth, bearerTokenFile: http.bearerTokenFile,
            timeout: http.timeout ?? .seconds(10), tls: http.tls, deleteOnShutdown: false)
        if let grouping = map["grouping"] {
            for (name, labelValue) in try grouping.stringMap() {
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

/// Where errors point and how `${VAR}` expands.
private struct LoadContext {
    var file: String
    var environment: [String: String]

    func yamlError(_ error: any Error) -> ConfigError {
        switch error {
        case let YamlError.scanner(_, problem, mark, _), let YamlError.parser(_, problem, mark, _),
            let YamlError.composer(_, problem, mark, _):
            return ConfigError(file: file, line: mark.line, key: "", message: "invalid YAML: \(problem)")
        case let YamlError.duplicatedKeysInMapping(duplicates, context):
            return ConfigError(
                file: file, line: context.mark.line, key: duplicates.joined(separator: ", "),
                message: "key given twice in one mapping; keep one")
        default:
            return ConfigError(file: file, line: nil, key: "", message: "invalid YAML: \(error)")
        }
    }
}

/// One node of the config with its dotted path, so every error can name both line and key.
private struct YAMLValue {
    var node: Node
    var path: String
    var context: LoadContext

    func fail(_ message: String) -> ConfigError {
        ConfigError(file: context.file, line: node.mark?.line, key: path, message: message)
    }

    private func child(_ node: Node, _ suffix: String) -> YAMLValue {
        YAMLValue(node: node, path: path.isEmpty ? suffix : path + (suffix.hasPrefix("[") ? "" : ".") + suffix, context: context)
    }

    /// A mapping whose keys must all be in `keys`.
    func mapping(keys: [String]) throws(ConfigError) -> [String: YAMLValue] {
        guard case .mapping(let mapping) = node else {
            throw fail("expected a mapping with keys: \(keys.joined(separator: ", "))")
        }
        var values: [String: YAMLValue] = [:]
        for (key, value) in mapping {
            let name = key.string ?? ""
            guard keys.contains(name) else {
                throw child(key, name).fail("unknown key; expected one of: \(keys.joined(separator: ", "))")
            }
            values[name] = child(value, name)
        }
        return values
    }

    func list() throws(ConfigError) -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw fail("expected a list") }
        return sequence.enumerated().map { child($1, "[\($0)]") }
    }

    /// A mapping of strings to strings, in file order, keys kept with their nodes for errors.
    func stringMap() throws(ConfigError) -> [(name: (text: String, fail: (String) -> ConfigError), value: String)] {
        guard case .mapping(let mapping) = node else { throw fail("expected a mapping of names to values") }
        var pairs: [(name: (text: String, fail: (String) -> ConfigError), value: String)] = []
        for (key, value) in mapping {
            let name = key.string ?? ""
            let keyValue = child(key, name)
            pairs.append(((name, keyValue.fail), try child(value, name).string()))
        }
        return pairs
    }

    /// A scalar with `${VAR}` expanded; `$$` is a literal `$`.
    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw fail("expected a single value") }
        return try expand(scalar.string)
    }

    func duration() throws(ConfigError) -> Duration {
        let text = try string()
        guard let duration = Units.duration(text) else {
            throw fail("invalid duration '\(text)'; expected a positive number with a unit: 500ms, 15s, 2m, 1h30m")
        }
        return duration
    }

    func size() throws(ConfigError) -> UInt64 {
        let text = try string()
        guard let size = Units.size(text), size > 0 else {
            throw fail("invalid size '\(text)'; expected a positive number of bytes with a unit: 64MiB, 1GiB, 500MB")
        }
        return size
    }

    func bool() throws(ConfigError) -> Bool {
        switch try string() {
        case "true": return true
        case "false": return false
        case let text: throw fail("invalid boolean '\(text)'; expected true or false")
        }
    }

    func integer(atLeast minimum: Int) throws(ConfigError) -> Int {
        let text = try string()
        guard let value = Int(text), value >= minimum else {
            throw fail("invalid number '\(text)'; expected a whole number of at least \(minimum)")
        }
        return value
    }

    func regexList() throws(ConfigError) -> [String] {
        try list().map { item throws(ConfigError) in
            let pattern = try item.string()
            do { _ = try Regex(pattern) } catch { throw item.fail("invalid regex '\(pattern)': \(error)") }
            return pattern
        }
    }

    /// A path to a file that exists and can be read now; secrets themselves are read later.
    func readableFile() throws(ConfigError) -> String {
        let path = try string()
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw fail("cannot read file '\(path)'; it must exist and be readable by the shipper")
        }
        return path
    }

    private func expand(_ text: String) throws(ConfigError) -> String {
        guard text.contains("$") else { return text }
        var result = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            result += rest[..<dollar]
            rest = rest[rest.index(after: dollar)...]
            if rest.first == "$" {
                result += "$"
                rest = rest.dropFirst()
            } else if rest.first == "{", let close = rest.firstIndex(of: "}") {
                let name = String(rest[rest.index(after: rest.startIndex)..<close])
                guard let value = context.environment[name] else {
                    throw fail("environment variable \(name) is not set (written as ${\(name)}; use $$ for a literal $)")
                }
                result += value
                rest = rest[rest.index(after: close)...]
            } else {
                result += "$"
            }
        }
        return result + rest
    }
}
