internal import CDigest

/// SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto (through `CDigest`), for request signing.
enum Digest {
    static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(CDIGEST_SHA256_LENGTH))
        let bytes = Array(bytes)
        let result = bytes.withUnsafeBufferPointer { cdigest_sha256($0.baseAddress, $0.count, &digest) }
        precondition(result == 0, "libcrypto failed to compute SHA-256")
        return digest
    }

    static func hmacSHA256(key: [UInt8], _ message: some Collection<UInt8>) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: Int(CDIGEST_SHA256_LENGTH))
        let message = Array(message)
        let result = key.withUnsafeBufferPointer { key in
            message.withUnsafeBufferPointer { cdigest_hmac_sha256(key.baseAddress, key.count, $0.baseAddress, $0.count, &mac) }
        }
        precondition(result == 0, "libcrypto failed to compute HMAC-SHA256")
        return mac
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
