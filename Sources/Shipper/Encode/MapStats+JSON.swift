import Foundation

/// `list --format json`: an array of objects with a fixed set of keys; absent counts are null.
extension MapStats: Encodable {
    private enum CodingKeys: String, CodingKey {
        case id, name, type
        case keySize = "key_size"
        case valueSize = "value_size"
        case maxEntries = "max_entries"
        case flags, entries
        case countMethod = "count_method"
        case memoryBytes = "memory_bytes"
        case pinned, programs
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(type.name, forKey: .type)
        try container.encode(keySize, forKey: .keySize)
        try container.encode(valueSize, forKey: .valueSize)
        try container.encode(maxEntries, forKey: .maxEntries)
        try container.encode(flags, forKey: .flags)
        try container.encode(entries, forKey: .entries)
        try container.encode(countMethod, forKey: .countMethod)
        try container.encode(memoryBytes, forKey: .memoryBytes)
        try container.encode(pinned, forKey: .pinned)
        try container.encode(programs, forKey: .programs)
    }

    public static func json(_ maps: [MapStats]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(maps), as: UTF8.self)
    }
}
