extension String {
    /// A NUL-terminated string in a fixed-size C array (which Swift imports as a tuple): up to its
    /// first NUL, never past its end, as UTF-8 (invalid bytes become U+FFFD).
    package init<Array>(fixedCString array: Array) {
        self = withUnsafeBytes(of: array) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
