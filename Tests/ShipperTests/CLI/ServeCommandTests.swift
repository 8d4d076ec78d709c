import Foundation
import Testing

/// `serve`: the scrape endpoint, opened only when asked for.
@Suite(.requiresBPF)
struct ServeCommandTests {
    /// A map of 5 entries out of 20, held by another process, and `serve` on a free port for it.
    func serving() async throws -> (holder: MapHolder, prefix: String, id: UInt32, port: UInt16, server: ShipperDaemon) {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "s", maxEntries: 20, fill: 5)
        let port = Network.freePort()
        let server = try ShipperDaemon(command: ["serve", "--listen", "127.0.0.1:\(port)", "--name", "^" + prefix])
        return (holder, prefix, id, port, server)
    }

    @Test func servesTheMetricSetAndNothingElse() async throws {
        let (holder, prefix, id, port, server) = try await serving()
        var text = ""
        #expect(await eventually(within: 30) {
            text = await Network.get("http://127.0.0.1:\(port)/metrics").map { String(decoding: $0, as: UTF8.self) } ?? ""
            return !text.isEmpty
        })
        let labels = "map_id=\"\(id)\",map_name=\"\(prefix)s\",map_type=\"hash\""
        #expect(text.contains("\nebpf_map_entries{\(labels)} 5\n"))
        #expect(text.contains("\nebpf_map_pressure{\(labels)} 0.25\n"))
        try await holder.delete(id: id, count: 2)
        let again = await Network.get("http://127.0.0.1:\(port)/metrics").map { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(again.contains("\nebpf_map_entries{\(labels)} 3\n"))
        #expect(await Network.get("http://127.0.0.1:\(port)/") == nil)

        // SIGTERM ends it cleanly, as it ends `run`.
        #expect(await server.terminate() == 0)
        #expect(server.log.contains("msg=stopped"), "\(server.log)")
    }

    /// One client sending a byte at a time and another sending nothing hold only their own
    /// connections: scrapes in between are answered, exactly; the slow one is answered once its
    /// request is whole, and the idle one is closed at its deadline.
    @Test func aSlowClientHoldsOnlyItsOwnConnection() async throws {
        let (holder, prefix, id, port, server) = try await serving()
        #expect(await eventually(within: 30) { await Network.get("http://127.0.0.1:\(port)/metrics") != nil })
        let idle = try RawConnection(port: port)
        let slow = try RawConnection(port: port)
        let request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        let entries = "\nebpf_map_entries{map_id=\"\(id)\",map_name=\"\(prefix)s\",map_type=\"hash\"} 5\n"
        // The slow client's request stays unfinished while three scrapes are answered.
        for (index, byte) in request.utf8.dropLast(2).enumerated() {
            slow.send(String(decoding: [byte], as: UTF8.self))
            if index % 20 == 0 {
                let text = await Network.get("http://127.0.0.1:\(port)/metrics").map { String(decoding: $0, as: UTF8.self) }
                #expect(text?.contains(entries) == true, "scrape during the slow request: \(text ?? "none")")
            }
        }
        slow.send("\r\n")
        let answer = try await offPool { slow.readToEnd() }
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.contains(entries), "\(answer)")
        // The idle one was never answered: the server closes it at its deadline.
        let closed = try await offPool { idle.readToEnd() }
        #expect(closed == "")
        #expect(await server.terminate() == 0)
        withExtendedLifetime(holder) {}
    }

    /// HEAD is a GET without the body; other methods at /metrics are 405 with Allow; other paths 404.
    @Test func methodsAndPathsGetTheirStatus() async throws {
        let port = Network.freePort()
        let server = try ShipperDaemon(command: ["serve", "--listen", "127.0.0.1:\(port)", "--name", "^never-matches$"])
        #expect(await eventually(within: 30) { await Network.get("http://127.0.0.1:\(port)/metrics") != nil })
        func exchange(_ request: String) async throws -> String {
            let connection = try RawConnection(port: port)
            connection.send(request)
            return try await offPool { connection.readToEnd() }
        }
        let head = try await exchange("HEAD /metrics HTTP/1.1\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n"), "\(head)")
        #expect(head.contains("Content-Length: ") && !head.contains("Content-Length: 0\r\n"))
        let post = try await exchange("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n") && post.contains("\r\nAllow: GET, HEAD\r\n"), "\(post)")
        #expect(try await exchange("GET / HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(try await exchange("\u{1}\u{2}garbage\r\n\r\n").hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(await server.terminate() == 0)
    }

    @Test func aBadAddressIsOneLine() async throws {
        let result = try await ShipperBinary.run(["serve", "--listen", "localhost:http"])
        #expect(result.status == 1)
        #expect(result.stderr.hasSuffix(
            "ebpf-map-shipper: error: invalid listen address 'localhost:http'; expected host:port, e.g. 127.0.0.1:9435\n"))
    }
}
