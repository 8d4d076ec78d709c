internal import CRemoteWrite
import Glibc

/// Snappy compression of request bodies: the C side keeps its buffers between requests, so
/// steady-state encoding allocates only the bodies it returns. The bodies releases before frames
/// buffered are turned into the message an endpoint takes in LegacyBodies.swift. With
/// DecodedWriteRequest.swift, the only Swift files that use the protobuf and snappy half of
/// CRemoteWrite. Not Sendable: one encoder per thread.
package final class RemoteWriteEncoder {
    private let handle: OpaquePointer
    var symbolSink = ByteSink()

    package init() {
        guard let handle = crw_encoder_new() else { fatalError("out of memory allocating the remote-write encoder") }
        self.handle = handle
    }

    deinit { crw_encoder_free(handle) }

    /// Whether a body read back from disk is a whole snappy block, as every body this encoder
    /// writes is: checked without decompressing it.
    func isValidBody(_ body: [UInt8]) -> Bool {
        body.withUnsafeBufferPointer { crw_body_is_valid($0.baseAddress, $0.count) != 0 }
    }

    /// The bytes of one snappy block; nil if it is not one, or would be more than `maxLength` bytes.
    static func uncompress(_ block: ArraySlice<UInt8>, maxLength: Int) -> [UInt8]? {
        var raw: UnsafeMutablePointer<UInt8>?
        var length = 0
        let result = block.withUnsafeBufferPointer { crw_uncompress($0.baseAddress, $0.count, maxLength, &raw, &length) }
        guard result == 0, let raw else { return nil }
        defer { free(raw) }
        return Array(UnsafeBufferPointer(start: raw, count: length))
    }

    /// Adds bytes to the body being compressed.
    func compress(_ raw: ArraySlice<UInt8>) {
        let result = raw.withUnsafeBufferPointer { crw_compress_write(handle, $0.baseAddress, $0.count) }
        // Only an exhausted heap, or a request of 4 GiB, gets here.
        precondition(result == 0, "compressing a remote-write request failed: \(result)")
    }

    /// The compressed body of everything added since the last one.
    func endBody() -> [UInt8] {
        var out: UnsafePointer<UInt8>?
        var length = 0
        let result = crw_compress_end(handle, &out, &length)
        precondition(result == 0 && out != nil, "compressing a remote-write request failed: \(result)")
        return Array(UnsafeBufferPointer(start: out, count: length))
    }
}
