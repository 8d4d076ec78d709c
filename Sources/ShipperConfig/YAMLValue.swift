import Foundation
import Yams
import ShipperCollect

/// Where errors point and how `${VAR}` expands.
///
/// Errors never quote the file's text beyond what has the form of a config key: a file passed as
/// the config by mistake (a password hash, a key) must not reach a terminal or a log. The YAML
/// library's own descriptions quote the text around a problem, so only its problem is used.
struct LoadContext {
    var file: String
    var environment: [String: String]

    func yamlError(_ error: any Error) -> ConfigError {
        switch error {
        case let YamlError.scanner(_, problem, mark, _), let YamlError.parser(_, problem, mark, _),
            let YamlError.composer(_, problem, mark, _):
            return ConfigError(file: file, line: mark.line, key: "", message: "invalid YAML: \(problem)")
        case let YamlError.reader(problem, offset, _, _):
            return ConfigError(
                file: file, line: nil, key: "",
                message: "not a YAML config: \(problem)\(offset.map { " (byte \($0))" } ?? ""); pass the shipper's YAML config file")
        case let YamlError.duplicatedKeysInMapping(duplicates, context):
            let shown = duplicates.filter(Self.showsAsKey)
            return ConfigError(
                file: file, line: context.mark.line, key: shown.count == duplicates.count ? duplicates.joined(separator: ", ") : "",
                message: "key given twice in one mapping; keep one")
        default:
            return ConfigError(file: file, line: nil, key: "", message: "invalid YAML; pass the shipper's YAML config file")
        }
    }

    /// Whether a key found in the file may be quoted in an error: what a config key looks like
    /// (letters, digits, `_ . -`, at most 64 characters), never a line of some other file.
    static func showsAsKey(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64 && text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0)) }
    }
}

/// One node of the config with its dotted path, so every error can name both line and key.
struct YAMLValue {
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
                let expected = "expected one of: \(keys.joined(separator: ", "))"
                guard LoadContext.showsAsKey(name) else {
                    throw ConfigError(
                        file: context.file, line: key.mark?.line, key: path,
                        message: "unknown key (not shown: it does not look like a config key; is this the shipper's config file?); \(expected)")
                }
                throw child(key, name).fail("unknown key; \(expected)")
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
    func stringMap(atMost limit: Int) throws(ConfigError) -> [(name: (text: String, fail: (String) -> ConfigError), value: String)] {
        try entries(atMost: limit).map { name, value throws(ConfigError) in (name, try value.string()) }
    }

    /// A mapping of names to values of any kind, in file order, keys kept with their nodes for errors.
    func entries(atMost limit: Int) throws(ConfigError) -> [(name: (text: String, fail: (String) -> ConfigError), value: YAMLValue)] {
        guard case .mapping(let mapping) = node else { throw fail("expected a mapping of names to values") }
        guard mapping.count <= limit else { throw fail("\(mapping.count) entries; at most \(limit) are accepted") }
        var pairs: [(name: (text: String, fail: (String) -> ConfigError), value: YAMLValue)] = []
        for (index, (key, value)) in mapping.enumerated() {
            let name = key.string ?? ""
            // A name with control characters (CR, LF) or of any length is not quoted in errors.
            let printable = name.count <= 64 && name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7f }
            let shown = printable ? name : "[\(index)]"
            pairs.append(((name, child(key, shown).fail), child(value, shown)))
        }
        return pairs
    }

    /// A scalar with `${VAR}` expanded; `$$` is a literal `$`. At most `ConfigBounds.valueBytes`.
    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw fail("expected a single value") }
        let text = try expand(scalar.string)
        guard text.utf8.count <= ConfigBounds.valueBytes else {
            throw fail("a value of \(text.utf8.count) bytes; at most \(ConfigBounds.valueBytes) are accepted")
        }
        return text
    }

    /// Counts the nodes below `node`, each alias expanded as often as it is used, and fails past
    /// `ConfigBounds.nodes`: stops counting there, so a billion aliases cost a few thousand steps.
    static func checkNodes(_ node: Node, context: LoadContext) throws(ConfigError) {
        var left = ConfigBounds.nodes
        var stack = [node]
        while let next = stack.popLast() {
            left -= 1
            if left < 0 {
                throw ConfigError(
                    file: context.file, line: nil, key: "",
                    message: "more than \(ConfigBounds.nodes) values once YAML aliases are expanded; a config needs far fewer (check anchors and aliases)")
            }
            switch next {
            case .mapping(let mapping): for (key, value) in mapping { stack.append(key); stack.append(value) }
            case .sequence(let sequence): stack.append(contentsOf: sequence)
            case .scalar, .alias: break
            }
        }
    }

    /// A duration within `range` (see `ConfigBounds`).
    func duration(in range: ClosedRange<Duration>) throws(ConfigError) -> Duration {
        let text = try string()
        guard let duration = Units.duration(text) else {
            throw fail("invalid duration '\(text)'; expected a positive number with a unit: 500ms, 15s, 2m, 1h30m")
        }
        guard range.contains(duration) else {
            throw fail("duration '\(text)' is out of range; expected \(Units.format(range.lowerBound)) to \(Units.format(range.upperBound))")
        }
        return duration
    }

    /// A size in bytes within `range`.
    func size(in range: ClosedRange<UInt64>) throws(ConfigError) -> UInt64 {
        let text = try string()
        guard let size = Units.size(text), size > 0 else {
            throw fail("invalid size '\(text)'; expected a positive number of bytes with a unit: 64MiB, 1GiB, 500MB")
        }
        guard range.contains(size) else {
            throw fail("size '\(text)' is out of range; expected \(Units.formatSize(range.lowerBound)) to \(Units.formatSize(range.upperBound))")
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

    func integer(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let text = try string()
        guard let value = Int(text), range.contains(value) else {
            throw fail("invalid number '\(text)'; expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func regexList() throws(ConfigError) -> [String] {
        let items = try list()
        guard items.count <= ConfigBounds.regexes else {
            throw fail("\(items.count) patterns; at most \(ConfigBounds.regexes) are accepted (join them with |)")
        }
        return try items.map { item throws(ConfigError) in
            let pattern = try item.string()
            guard pattern.utf8.count <= ConfigBounds.regexBytes else {
                throw item.fail("a regex of \(pattern.utf8.count) bytes; at most \(ConfigBounds.regexBytes) are accepted")
            }
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

    /// A secret file: readable, and holding a secret once trailing whitespace is trimmed, as it is
    /// read at send time (see `SecretFile`). A token must also fit in one header line.
    func secretFile(token: Bool) throws(ConfigError) -> String {
        let path = try readableFile()
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw fail("cannot read '\(path)' as UTF-8 text; write the secret to it")
        }
        let secret = String(text.reversed().drop { $0.isWhitespace }.reversed())
        guard !secret.isEmpty else { throw fail("'\(path)' is empty; write the secret to it") }
        guard !token || HTTPSyntax.isFieldValue(secret) else {
            throw fail("'\(path)' holds control characters inside the token; write the token on one line")
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
                // Invalid UTF-8 reaches Swift replaced by U+FFFD: two different values would become one.
                guard !value.contains("\u{FFFD}") else {
                    throw fail("environment variable \(name) is not valid UTF-8 text")
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
