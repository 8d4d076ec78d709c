import Foundation
import Synchronization

/// `serve`: the metric set in the text format at `GET /metrics`, for setups that scrape instead
/// of push. Opens a listening port only because the user asked for one, on the address given.
/// One connection at a time, closed after each response: a scraper every few seconds needs no more.
/// Sendable: `stop` may come from any thread and touches only the atomic flag and the socket.
public final class MetricsServer: Sendable {
    private let listener: Int32
    private let stopped = Atomic(false)
    public let address: String

    /// Binds `host:port` (IPv4). Throws a message naming the address and the reason.
    public init(listen address: String) throws {
        self.address = address
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw PipelineError(message: "invalid listen address '\(address)'; expected host:port, e.g. 127.0.0.1:9435")
        }
        let host = address[..<colon].isEmpty ? "0.0.0.0" : String(address[..<colon])
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &socketAddress.sin_addr) == 1 else {
            throw PipelineError(message: "invalid listen address '\(address)'; the host must be an IPv4 address")
        }
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw PipelineError(message: "cannot listen on \(address): \(reason)")
        }
    }

    deinit { close(listener) }

    /// Answers scrapes until `stop`; `render` runs once per `GET /metrics` (nil answers 500).
    public func serve(render: () -> String?) {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if stopped.load(ordering: .acquiring) { return }
                // Out of descriptors, or an aborted connection: try again, but never spin.
                if errno != EINTR { usleep(10_000) }
                continue
            }
            answer(connection, render: render)
            close(connection)
        }
    }

    /// Makes `serve` return after the scrape in progress, from any thread.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func answer(_ connection: Int32, render: () -> String?) {
        // A client that sends nothing must not hold the only connection slot.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while request.count < 16384, request.firstRange(of: Array("\r\n\r\n".utf8)) == nil {
            let got = recv(connection, &chunk, chunk.count, 0)
            if got <= 0 { return }
            request += chunk[..<got]
        }
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self).split(separator: " ")
        let response: (status: String, type: String, body: String)
        if line.count >= 2, line[0] == "GET", line[1] == "/metrics" || line[1].hasPrefix("/metrics?") {
            if let text = render() {
                response = ("200 OK", TextExposition.contentType, text)
            } else {
                response = ("500 Internal Server Error", "text/plain", "collection failed; see the shipper's log\n")
            }
        } else {
            response = ("404 Not Found", "text/plain", "only GET /metrics is served\n")
        }
        let bytes = Array(
            ("HTTP/1.1 \(response.status)\r\nContent-Type: \(response.type)\r\nContent-Length: \(response.body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + response.body).utf8)
        var sent = 0
        while sent < bytes.count {
            let wrote = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if wrote <= 0 { return }
            sent += wrote
        }
    }
}
