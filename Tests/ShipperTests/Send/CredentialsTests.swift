import Foundation
import Testing

@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun

/// Secret files as operators really write them: with CRLF, emptied during a rotation, deleted.
struct CredentialsTests {
    /// One request through a real HTTP client with these credentials; the headers the receiver
    /// got, nil if it got no request.
    func send(_ credentials: RequestCredentials, to receiver: FakeReceiver) async -> [String: String]? {
        let before = receiver.requests.count
        nonisolated(unsafe) let credentials = credentials
        let url = receiver.url
        let outcome = await WorkerThread.result(name: "test-send") { () -> HTTPOutcome? in
            guard let client = try? HTTPClient(url: url, timeout: .seconds(5), tls: .defaults) else { return nil }
            return credentials.perform(client, method: "POST", body: [1], protocolHeaders: [])
        }
        guard receiver.requests.count > before else {
            #expect(outcome?.failure == .credentials)
            return nil
        }
        return receiver.requests[before].headers
    }

    func secretFile(_ text: String) throws -> URL {
        let file = Scratch.path("secret")
        try text.write(to: file, atomically: false, encoding: .utf8)
        return file
    }

    /// Bearer credentials from a token file holding `text`, logging into `log`; the file is the caller's to remove.
    func bearer(_ text: String, log: CapturedLog) throws -> (file: URL, credentials: RequestCredentials) {
        let token = try secretFile(text)
        return (token, RequestCredentials(headers: [], basicAuth: nil, bearerTokenFile: token.path, logger: log.logger))
    }

    @Test func trailingWhitespaceIsTrimmedAndAVanishedFileKeepsTheLastGoodToken() async throws {
        let receiver = try FakeReceiver(script: [])
        let log = CapturedLog()
        let (token, credentials) = try bearer("t0ken-value\r\n", log: log)
        defer { try? FileManager.default.removeItem(at: token) }
        #expect(await send(credentials, to: receiver)?["authorization"] == "Bearer t0ken-value")

        // Emptied (a rotation caught half-way), then deleted: the last good token goes on, one warning.
        try "".write(to: token, atomically: false, encoding: .utf8)
        #expect(await send(credentials, to: receiver)?["authorization"] == "Bearer t0ken-value")
        try FileManager.default.removeItem(at: token)
        #expect(await send(credentials, to: receiver)?["authorization"] == "Bearer t0ken-value")
        #expect(log.count("the secret file is empty; keeping the last good secret") == 1)
        #expect(log.entries.count == 1)

        try "rotated \t \n\n".write(to: token, atomically: false, encoding: .utf8)
        #expect(await send(credentials, to: receiver)?["authorization"] == "Bearer rotated")
        #expect(log.count("the secret file is readable again") == 1)
        #expect(!log.entries.contains { "\($0.metadata)".contains("t0ken") || $0.message.contains("t0ken") })
    }

    @Test func aTokenThatWouldInjectAHeaderIsNeverSent() async throws {
        let receiver = try FakeReceiver(script: [])
        let log = CapturedLog()
        let (token, credentials) = try bearer("abc\r\nContent-Encoding: gzip\n", log: log)
        defer { try? FileManager.default.removeItem(at: token) }
        #expect(await send(credentials, to: receiver) == nil)
        #expect(receiver.requests.isEmpty)
        #expect(log.count("the secret file holds control characters inside the secret; sending nothing until it holds one") == 1)
    }

    /// Emptied before the shipper ever read it (at start a file must hold a token): nothing is
    /// sent, neither an empty bearer nor no Authorization at all; once it holds one, it is used.
    @Test func anEmptyTokenFileSendsNothingUntilItHoldsOne() async throws {
        let receiver = try FakeReceiver(script: [])
        let log = CapturedLog()
        let (token, credentials) = try bearer("\n", log: log)
        defer { try? FileManager.default.removeItem(at: token) }
        #expect(await send(credentials, to: receiver) == nil)
        #expect(await send(credentials, to: receiver) == nil)
        #expect(receiver.requests.isEmpty)
        #expect(log.count("the secret file is empty; sending nothing until it holds one") == 1)
        try "now\n".write(to: token, atomically: false, encoding: .utf8)
        #expect(await send(credentials, to: receiver)?["authorization"] == "Bearer now")
    }

    @Test func aPasswordFileIsTrimmedToo() async throws {
        let receiver = try FakeReceiver(script: [])
        let password = try secretFile("pa55 word \r\n")
        defer { try? FileManager.default.removeItem(at: password) }
        let credentials = RequestCredentials(
            headers: [], basicAuth: BasicAuth(username: "edge", passwordFile: password.path), bearerTokenFile: nil,
            logger: CapturedLog().logger)
        #expect(await send(credentials, to: receiver)?["authorization"] == "Basic " + Data("edge:pa55 word".utf8).base64EncodedString())
    }
}
