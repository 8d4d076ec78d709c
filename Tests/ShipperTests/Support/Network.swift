import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

enum Network {
    /// Ports already handed out in this process: tests run in parallel, and the kernel may offer
    /// a just-released port again before the first taker binds it.
    private static let handedOut = Mutex2<Set<UInt16>>([])

    /// A loopback port nothing listens on right now (bound to port 0, then released), never the
    /// same twice in one test run.
    static func freePort() -> UInt16 {
        while true {
            let port = ephemeralPort()
            if handedOut.update({ $0.insert(port).inserted }) { return port }
        }
    }

    /// Calls `body` with 127.0.0.1:`port` as the sockaddr that bind(2) and connect(2) take.
    static func withLoopback<R>(port: UInt16, _ body: (UnsafeMutablePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    private static func ephemeralPort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A GET to a loopback service; nil if it does not answer 2xx within `timeout`.
    static func get(_ url: String, timeout: TimeInterval = 5) async -> Data? {
        await request("GET", url, timeout: timeout)
    }

    /// Any method, with an optional body; the response body, nil unless the answer is 2xx.
    /// Awaited: URLSession answers on its own queue, never on a thread of the cooperative pool.
    static func request(_ method: String, _ url: String, body: String? = nil, timeout: TimeInterval = 5) async -> Data? {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        request.timeoutInterval = timeout
        return await withCheckedContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, _ in
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                continuation.resume(returning: (200..<300).contains(status) ? data : nil)
            }.resume()
        }
    }
}

/// A value shared with a callback on another thread.
final class Mutex2<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func get() -> T { lock.withLock { value } }
    func set(_ newValue: T) { lock.withLock { value = newValue } }
    func update<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}

/// A raw loopback TCP connection, for clients no HTTP library would be: one that sends a byte at
/// a time, or nothing. Blocking calls: use it through `offPool`.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = Network.withLoopback(port: port) { [fd] in connect(fd, $0, $1) }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit { close(fd) }

    func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    /// Everything until the peer closes (or 60 s pass).
    func readToEnd() -> String {
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = recv(fd, &chunk, chunk.count, 0)
            if got <= 0 { break }
            data += chunk[..<got]
        }
        return String(decoding: data, as: UTF8.self)
    }
}
