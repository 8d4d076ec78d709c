import Foundation
import Synchronization
import ShipperEncode

/// `serve`: the metric set in the text format at `GET /metrics` (and `HEAD`), for setups that
/// scrape instead of push. Opens a listening port only because the user asked for one, on the
/// address given.
///
/// One thread, many connections: a `poll` loop reads requests and writes responses without
/// blocking, so a slow or idle client holds only its own connection, never the scrapes of
/// others. Each connection has a deadline (`requestDeadline` to send its request, then
/// `responseDeadline` to read the answer) and is closed after one response. At most
/// `maxConnections` are open; more wait in the listen backlog.
/// Sendable: `stop` may come from any thread and touches only the atomic flag and the socket.
public final class MetricsServer: Sendable {
    private let listener: Int32
    private let stopped = Atomic(false)
    public let address: String

    static let requestDeadline: Duration = .seconds(10)
    static let responseDeadline: Duration = .seconds(30)
    static let maxConnections = 64
    static let maxRequestBytes = 16384

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
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
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

    /// One open connection: what it sent so far, then what it is sent, and by when.
    private struct Connection {
        let fd: Int32
        var request: [UInt8] = []
        var response: [UInt8]?
        var sent = 0
        var deadline: ContinuousClock.Instant
    }

    /// Answers scrapes until `stop`; `render` runs once per `GET /metrics` (nil answers 500).
    public func serve(render: () -> String?) {
        var connections: [Connection] = []
        defer { for connection in connections { close(connection.fd) } }
        while !stopped.load(ordering: .acquiring) {
            let accepting = connections.count < Self.maxConnections
            var fds = (accepting ? [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)] : [])
                + connections.map { pollfd(fd: $0.fd, events: Int16($0.response == nil ? POLLIN : POLLOUT), revents: 0) }
            let now = ContinuousClock.now
            // Wake for the nearest deadline, and at least every 250 ms to see `stop`.
            let wait = connections.map { $0.deadline - now }.min().map { min($0, .milliseconds(250)) } ?? .milliseconds(250)
            let ready = poll(&fds, nfds_t(fds.count), Int32(max(wait.milliseconds, 0)))
            if ready < 0 && errno != EINTR {
                usleep(10_000)  // never spin
                continue
            }
            if accepting && fds[0].revents != 0 { acceptAll(into: &connections) }
            let states = accepting ? Array(fds.dropFirst()) : fds
            var open: [Connection] = []
            for (var connection, state) in zip(connections, states) {
                if state.revents != 0 && !step(&connection, render: render) || ContinuousClock.now >= connection.deadline {
                    close(connection.fd)
                    continue
                }
                open.append(connection)
            }
            // Connections accepted during this turn come after the polled ones.
            open += connections.dropFirst(states.count)
            connections = open
        }
    }

    private func acceptAll(into connections: inout [Connection]) {
        while connections.count < Self.maxConnections {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            // Accepted sockets do not inherit O_NONBLOCK; FD_CLOEXEC: no child of this process keeps a scrape open.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            connections.append(Connection(fd: fd, deadline: .now + Self.requestDeadline))
        }
    }

    /// Reads or writes what the connection is ready for; false once it is done with (answered, or gone).
    private func step(_ connection: inout Connection, render: () -> String?) -> Bool {
        if connection.response == nil {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let got = recv(connection.fd, &chunk, chunk.count, 0)
            if got < 0 { return errno == EAGAIN || errno == EINTR }
            if got == 0 { return false }
            connection.request += chunk[..<got]
            let complete = connection.request.firstRange(of: Array("\r\n\r\n".utf8)) != nil
            guard complete || connection.request.count >= Self.maxRequestBytes else { return true }
            connection.response = Self.response(to: connection.request, render: render)
            connection.deadline = .now + Self.responseDeadline
        }
        guard let response = connection.response else { return true }
        let wrote = response[connection.sent...].withUnsafeBytes { send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if wrote < 0 { return errno == EAGAIN || errno == EINTR }
        connection.sent += wrote
        return connection.sent < response.count
    }

    /// The whole response to a request's head: `GET` and `HEAD` of `/metrics` (200, or 500 when
    /// the collection failed), 405 for other methods there, 404 elsewhere, 400 for a head that is
    /// not HTTP or too long.
    static func response(to request: [UInt8], render: () -> String?) -> [UInt8] {
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self).split(separator: " ")
        let plain = "text/plain; charset=utf-8"
        var head = false
        let answer: (status: String, type: String, body: String, extra: String)
        if line.count != 3 || !line[2].hasPrefix("HTTP/1.") || request.firstRange(of: Array("\r\n\r\n".utf8)) == nil {
            answer = ("400 Bad Request", plain, "expected an HTTP/1.x request head of at most \(maxRequestBytes) bytes\n", "")
        } else if line[1] != "/metrics" && !line[1].hasPrefix("/metrics?") {
            answer = ("404 Not Found", plain, "only /metrics is served\n", "")
        } else if line[0] == "GET" || line[0] == "HEAD" {
            head = line[0] == "HEAD"
            if let text = render() {
                answer = ("200 OK", TextExposition.contentType, text, "")
            } else {
                answer = ("500 Internal Server Error", plain, "collection failed; see the shipper's log\n", "")
            }
        } else {
            answer = ("405 Method Not Allowed", plain, "only GET and HEAD are served at /metrics\n", "Allow: GET, HEAD\r\n")
        }
        let header = "HTTP/1.1 \(answer.status)\r\nContent-Type: \(answer.type)\r\nContent-Length: \(answer.body.utf8.count)\r\n"
            + answer.extra + "Connection: close\r\n\r\n"
        return Array(header.utf8) + (head ? [] : Array(answer.body.utf8))
    }

    /// Makes `serve` return after the scrape in progress, from any thread.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        shutdown(listener, Int32(SHUT_RDWR))
    }
}
