/// Which maps a collection reports. Filtering happens before counting, so excluded maps cost
/// nothing beyond their iterator record.
public struct MapFilter: Sendable {
    /// Name regexes; a map is kept if any matches (unanchored: use `^…$` to anchor). Empty keeps all.
    public var include: [String]
    /// Name regexes; a map is dropped if any matches.
    public var exclude: [String]
    /// Types to keep. Empty keeps all.
    public var types: Set<MapType>

    public init(include: [String] = [], exclude: [String] = [], types: Set<MapType> = []) {
        self.include = include
        self.exclude = exclude
        self.types = types
    }

    /// Compiles the patterns; throws a message naming the bad one.
    func compiled() throws(MapFilterError) -> Compiled {
        func compile(_ patterns: [String]) throws(MapFilterError) -> [Regex<AnyRegexOutput>] {
            var regexes: [Regex<AnyRegexOutput>] = []
            for pattern in patterns {
                do { regexes.append(try Regex(pattern)) } catch { throw MapFilterError(pattern: pattern, reason: "\(error)") }
            }
            return regexes
        }
        return Compiled(include: try compile(include), exclude: try compile(exclude), types: types)
    }

    /// The compiled form; not Sendable, owned by the collector.
    struct Compiled {
        var include: [Regex<AnyRegexOutput>]
        var exclude: [Regex<AnyRegexOutput>]
        var types: Set<MapType>

        func matches(_ record: MapRecord) -> Bool {
            if !types.isEmpty && !types.contains(record.type) { return false }
            if !include.isEmpty && !include.contains(where: { record.name.contains($0) }) { return false }
            return !exclude.contains(where: { record.name.contains($0) })
        }
    }
}

/// A name pattern that is not a valid regular expression.
public struct MapFilterError: Error, Sendable, CustomStringConvertible {
    public var pattern: String
    public var reason: String
    public var description: String { "invalid map name regex '\(pattern)': \(reason)" }
}
