
/// Labels of one series, kept sorted by name with unique names, as remote-write requires.
public struct LabelSet: Sendable, Hashable, Sequence {
    public private(set) var pairs: [(name: String, value: String)]

    public init(_ pairs: KeyValuePairs<String, String> = [:]) {
        self.pairs = []
        for (name, value) in pairs { self[name] = value }
    }

    /// Sets, replaces, or (with nil or an empty value, which Prometheus treats as absent) removes a label.
    public subscript(name: String) -> String? {
        get { pairs.first { $0.name == name }?.value }
        set {
            let index = pairs.firstIndex { $0.name >= name } ?? pairs.endIndex
            let exists = index < pairs.endIndex && pairs[index].name == name
            switch (newValue, exists) {
            case (let value?, true) where !value.isEmpty: pairs[index].value = value
            case (let value?, false) where !value.isEmpty: pairs.insert((name, value), at: index)
            case (_, true): pairs.remove(at: index)
            default: break
            }
        }
    }

    /// Label names as Prometheus allows them: `[a-zA-Z_][a-zA-Z0-9_]*`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (first | 0x20 >= 97 && first | 0x20 <= 122) else {
            return false
        }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { pairs.makeIterator() }

    public static func == (lhs: LabelSet, rhs: LabelSet) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for pair in pairs {
            hasher.combine(pair.name)
            hasher.combine(pair.value)
        }
    }
}
