/// Fixed-width integers to and from little-endian bytes: the byte order of every record and frame
/// the shipper writes, whatever the host's.
extension Array where Element == UInt8 {
    package mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

}

extension RandomAccessCollection where Element == UInt8, Index == Int {
    /// The integer whose bytes start `offset` bytes past `startIndex`; the caller checks they are there.
    package func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(self[startIndex + offset + index]) }
        return value
    }
}
