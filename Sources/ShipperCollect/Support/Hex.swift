extension String {
    /// Bytes as lowercase hex digits, two a byte, as bpftool prints a program's tag.
    package init(hex bytes: some Sequence<UInt8>) {
        let digits = Array("0123456789abcdef".utf8)
        self = String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
    }
}
