import Foundation
import Yams
import ShipperCollect
import ShipperMetrics

extension Config {
    /// Reads and validates a YAML config file. Every error names the file, the line and the key.
    public static func load(
        file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> Config {
        let text: String
        if let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int, size > ConfigBounds.fileBytes {
            throw tooLarge(file: file, bytes: size)
        }
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: file) ? "is not readable UTF-8 text" : "does not exist"
            throw ConfigError(file: file, line: nil, key: "", message: "the config file \(reason); pass an existing file")
        }
        return try parse(text, file: file, environment: environment)
    }

    static func tooLarge(file: String, bytes: Int) -> ConfigError {
        ConfigError(
            file: file, line: nil, key: "",
            message: "the config file holds \(bytes) bytes; at most \(ConfigBounds.fileBytes) are accepted (is this the shipper's config file?)")
    }

    /// A label name and value within `ConfigBounds`' lengths.
    static func checkLabel(_ name: (text: String, fail: (String) -> ConfigError), _ value: String) throws(ConfigError) {
        guard name.text.utf8.count <= ConfigBounds.labelNameBytes else {
            throw name.fail("a label name of \(name.text.utf8.count) bytes; at most \(ConfigBounds.labelNameBytes) are accepted")
        }
        guard value.utf8.count <= ConfigBounds.labelValueBytes else {
            throw name.fail("a label value of \(value.utf8.count) bytes; at most \(ConfigBounds.labelValueBytes) are accepted")
        }
    }

    /// Validates YAML text; `file` only names the source in errors.
    static func parse(
        _ text: String, file: String, environment: [String: String], hostname: String = Config.hostname()
    ) throws(ConfigError) -> Config {
        let context = LoadContext(file: file, environment: environment)
        guard text.utf8.count <= ConfigBounds.fileBytes else { throw tooLarge(file: file, bytes: text.utf8.count) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw context.yamlError(error)
        }
        var config = Config.defaults(hostname: hostname)
        guard let root else { return config }
        try YAMLValue.checkNodes(root, context: context)
        let top = try YAMLValue(node: root, path: "", context: context).mapping(
            keys: ["interval", "external_labels", "maps", "programs", "remote_write", "pushgateway", "buffer"])

        if let value = top["interval"] { config.interval = try value.duration(in: ConfigBounds.interval) }
        if let value = top["external_labels"] {
            for (name, labelValue) in try value.stringMap(atMost: ConfigBounds.configuredLabels) {
                try checkLabel(name, labelValue)
                guard LabelSet.isValidName(name.text), !name.text.hasPrefix("__") else {
                    throw name.fail("invalid label name '\(name.text)'; expected [a-zA-Z_][a-zA-Z0-9_]* not starting with __")
                }
                config.externalLabels[name.text] = labelValue  // an empty value removes a default label
            }
        }
        if let value = top["maps"] { config.maps = try MapsConfig(value) }
        if let value = top["programs"] { config.programs = try ProgramsConfig(value, interval: config.interval) }
        if let value = top["remote_write"] {
            config.remoteWrite = try value.list().enumerated().map { index, entry throws(ConfigError) in
                try RemoteWriteConfig(entry, index: index)
            }
            if config.remoteWrite.isEmpty { throw value.fail("the list is empty; configure at least one endpoint") }
        }
        if let value = top["pushgateway"] {
            config.pushgateway = try value.list().map { entry throws(ConfigError) in try PushgatewayConfig(entry, hostname: hostname) }
            for (gateway, entry) in zip(config.pushgateway, try value.list())
            where gateway.grouping.pairs.count + config.externalLabels.pairs.count > ConfigBounds.configuredLabels {
                throw entry.fail(
                    "\(config.externalLabels.pairs.count) external labels and \(gateway.grouping.pairs.count) grouping labels; at most \(ConfigBounds.configuredLabels) together are accepted")
            }
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
                guard path.isEmpty || (path.hasPrefix("/") && HTTPSyntax.isPrintable(path)) else {
                    throw dir.fail("invalid buffer directory; expected an absolute path, e.g. /var/lib/ebpf-map-shipper ('' for memory only)")
                }
                config.buffer.dir = path.isEmpty ? nil : path
            }
            if let size = fields["max_size"] { config.buffer.maxSize = try size.size(in: ConfigBounds.bufferMaxSize) }
            if let age = fields["max_age"] { config.buffer.maxAge = try age.duration(in: ConfigBounds.bufferMaxAge) }
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

extension ProgramsConfig {
    init(_ value: YAMLValue, interval: Duration) throws(ConfigError) {
        self = .defaults
        let map = try value.mapping(keys: ["stats", "sample_window"])
        if let mode = map["stats"] {
            let name = try mode.string()
            guard let parsed = ProgramStatistics(rawValue: name) else {
                throw mode.fail("unknown programs.stats '\(name)'; expected off, sampled or on")
            }
            stats = parsed
        }
        if let window = map["sample_window"] { sampleWindow = try window.duration(in: ConfigBounds.sampleWindow) }
        // The window opens before each collection and must close before the next is due.
        if stats == .sampled, sampleWindow * 2 > interval {
            throw (map["sample_window"] ?? map["stats"] ?? value).fail(
                "\(Units.format(sampleWindow)) is more than half the interval (\(Units.format(interval))); shorten the window or lengthen the interval")
        }
    }
}

extension MapsConfig {
    init(_ value: YAMLValue) throws(ConfigError) {
        self = .defaults
        let map = try value.mapping(keys: ["include", "exclude", "types", "count_method", "max_walk_keys", "loss_tracking", "include_self"])
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
        if let bound = map["max_walk_keys"] { maxWalkKeys = UInt64(try bound.integer(in: ConfigBounds.maxWalkKeys)) }
        if let mode = map["loss_tracking"] {
            let name = try mode.string()
            guard let parsed = LossTracking(rawValue: name) else {
                throw mode.fail("unknown loss_tracking '\(name)'; expected auto, on or off")
            }
            lossTracking = parsed
        }
        if let value = map["include_self"] { includeSelf = try value.bool() }
    }
}
