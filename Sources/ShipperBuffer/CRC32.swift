internal import CChecksum

/// CRC-32 (IEEE 802.3, as zlib and gzip compute it): every record is checked as it is written,
/// and again as it is read back from disk, so this runs over every byte the buffer sees. zlib's
/// (`CChecksum`); this file is the only Swift that imports it.
struct CRC32 {
    private(set) var value: UInt32 = 0

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    mutating func update<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    private mutating func update(_ bytes: UnsafeRawBufferPointer) {
        value = cchecksum_crc32(value, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
}
