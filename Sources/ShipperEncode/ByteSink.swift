
/// A reusable output buffer for request bytes: written through `WireWriter` a known number of
/// bytes at a time, growing as needed, and emptied without giving its storage back. One sink
/// holds a request's series while they are written and compressed, so a cycle allocates none.
struct ByteSink {
    private var storage: [UInt8] = []
    private(set) var count = 0

    /// What has been written since the last `removeAll`.
    var written: ArraySlice<UInt8> { storage[..<count] }

    mutating func removeAll() { count = 0 }

    /// Lets `body` write exactly `size` bytes after the ones already written.
    mutating func write(_ size: Int, _ body: (inout WireWriter) -> Void) {
        if count + size > storage.count {
            // By a quarter: every byte of the storage is resident, and a request's worth is the most it holds.
            storage.append(contentsOf: repeatElement(0, count: max(count + size - storage.count, storage.count / 4)))
        }
        let start = count
        storage.withUnsafeMutableBytes { bytes in
            var writer = WireWriter(bytes.baseAddress! + start)
            body(&writer)
            precondition(writer.offset == size, "wrote \(writer.offset) bytes where \(size) were reserved")
        }
        count += size
    }

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { bytes in write(bytes.count) { $0.write(bytes) } }
    }
}

extension Array where Element == UInt8 {
    /// An array of exactly `count` bytes, written by `body` in place: a body of known size is
    /// built without a sink to keep or copy out of.
    init(writing count: Int, _ body: (inout WireWriter) -> Void) {
        self.init(unsafeUninitializedCapacity: count) { buffer, initialized in
            var writer = WireWriter(UnsafeMutableRawPointer(buffer.baseAddress!))
            body(&writer)
            precondition(writer.offset == count, "wrote \(writer.offset) bytes where \(count) were reserved")
            initialized = count
        }
    }
}

/// A cursor into memory that `ByteSink.write` reserved: plain stores, no bounds or capacity checks.
struct WireWriter {
    private let base: UnsafeMutableRawPointer
    private(set) var offset = 0

    fileprivate init(_ base: UnsafeMutableRawPointer) { self.base = base }

    mutating func write(_ byte: UInt8) {
        base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
        offset += 1
    }

    mutating func write(_ word: UInt32) {
        base.storeBytes(of: word, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }

    mutating func write(_ word: UInt64) {
        base.storeBytes(of: word, toByteOffset: offset, as: UInt64.self)
        offset += 8
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        if let source = bytes.baseAddress { (base + offset).copyMemory(from: source, byteCount: bytes.count) }
        offset += bytes.count
    }

    mutating func write(utf8 text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            write(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        write(UInt8(rest))
    }
}
