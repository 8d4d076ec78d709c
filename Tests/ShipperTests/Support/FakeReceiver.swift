import Foundation

@testable import ShipperEncode

/// An HTTP/1.1 receiver on a free loopback port that answers from a script, for the faults a
/// real receiver cannot produce on demand (500 then 200, 429 with Retry-After, no answer).
/// It decodes every body it gets with the real snappy and protobuf decoders.
final class FakeReceiver: @unchecked Sendable {
    enum Reply: Sendable {
        case status(Int, headers: [String: String] = [:], body: String = "")
        /// Reads the request and never answers.
        case hang
    }

    struct Request: Sendable {
        var method: String
        var path: String
        /// Lower-cased names.
        var headers: [String: String]
        var body: [UInt8]
        var receivedAt: ContinuousClock.Instant
        /// Which TCP connection carried it, numbered from 0 in accept order.
        var connection: Int
        var decoded: DecodedWriteRequest? { DecodedWriteRequest(body: body) }
        var decodedV2: DecodedWriteRequestV2? { DecodedWriteRequestV2(body: body) }
    }

    let port: UInt16
    private let script: Mutex2<[Reply]>
    private let fallback: Reply
    private let received = Mutex2<[Request]>([])
    private let stopped = Mutex2(false)
    private let listener: Int32
    private let accepted = Mutex2(0)

    /// Answers with `script` in order, then `fallback` for ever.
    init(port: UInt16 = Network.freePort(), script: [Reply], fallback: Reply = .status(204)) throws {
        self.port = port
        self.script = Mutex2(script)
        self.fallback = fallback
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let bound = Network.withLoopback(port: port) { [listener] in bind(listener, $0, $1) }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw ReceiverError(description: "fake receiver cannot listen on \(port)")
        }
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    var url: String { "http://127.0.0.1:\(port)/api/v1/write" }
    var requests: [Request] { received.get() }

    func stop() {
        guard !stopped.update({ let was = $0; $0 = true; return was }) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.get() {
            let connection = accept(listener, nil, nil)
            if connection < 0 { return }
            let number = accepted.update { count in
                defer { count += 1 }
                return count
            }
            Thread { [self] in serve(connection, number: number) }.start()
        }
    }

    /// Keep-alive: requests on one connection are answered in turn.
    private func serve(_ connection: Int32, number: Int) {
        defer { close(connection) }
        var buffer: [UInt8] = []
        while !stopped.get() {
            guard var request = readRequest(connection, &buffer) else { return }
            request.connection = number
            received.update { $0.append(request) }
            let reply = script.update { $0.isEmpty ? fallback : $0.removeFirst() }
            switch reply {
            case .hang:
                // This connection's own thread, never the cooperative pool: it may sleep.
                while !stopped.get() { Thread.sleep(forTimeInterval: 0.05) }
                return
            case .status(let code, let headers, let body):
                var head = "HTTP/1.1 \(code) Status\r\nContent-Length: \(body.utf8.count)\r\n"
                for (name, value) in headers { head += "\(name): \(value)\r\n" }
                let bytes = Array((head + "\r\n" + body).utf8)
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    private func readRequest(_ connection: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        while true {
            if headerEnd == nil, let range = buffer.firstRange(of: separator) { headerEnd = range.upperBound }
            if let end = headerEnd {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
                let requestLine = lines.removeFirst().split(separator: " ")
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                if buffer.count - end >= length {
                    let body = Array(buffer[end..<end + length])
                    buffer.removeFirst(end + length)
                    return Request(
                        method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body,
                        receivedAt: .now, connection: -1)
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = recv(connection, &chunk, chunk.count, 0)
            if got <= 0 { return nil }
            buffer.append(contentsOf: chunk[..<got])
        }
    }
}
