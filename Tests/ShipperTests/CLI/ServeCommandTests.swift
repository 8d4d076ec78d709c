import Foundation
import Testing

@testable import Shipper

/// `serve`: the scrape endpoint, opened only when asked for.
@Suite(.requiresBPF)
struct ServeCommandTests {
    @Test func servesTheMetricSetAndNothingElse() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "s", maxEntries: 20, fill: 5)
        let port = Network.freePort()
        let server = try ShipperDaemon(command: ["serve", "--listen", "127.0.0.1:\(port)", "--name", "^" + prefix])
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

    @Test func aBadAddressIsOneLine() async throws {
        let result = try await ShipperBinary.run(["serve", "--listen", "localhost:http"])
        #expect(result.status == 1)
        #expect(result.stderr.hasSuffix(
            "ebpf-map-shipper: error: invalid listen address 'localhost:http'; expected host:port, e.g. 127.0.0.1:9435\n"))
    }
}
