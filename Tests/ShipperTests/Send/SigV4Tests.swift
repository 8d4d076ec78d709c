import Foundation
import Testing

@testable import ShipperConfig
@testable import ShipperSend

/// AWS Signature Version 4 (`sigv4`), as Amazon Managed Service for Prometheus wants it: every
/// request is checked by botocore's signer (Tests/Fixtures/sigv4_receiver.py, Debian's
/// python3-botocore) with the same keys, and only then handed, byte for byte, to a real
/// Prometheus, which must hold the exact values.
@Suite(.requiresBPF, .timeLimit(.minutes(3)))
struct SigV4Tests {
    static let key = "AKIAEDGEFLEET0000001"
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

    /// A map of 3 elements, held by another process.
    static func setUp() async throws -> (holder: MapHolder, prefix: String, id: UInt32) {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        return (holder, prefix, id)
    }

    static func config(_ prefix: String, url: String, sigv4: String, extra: String = "") -> String {
        """
        maps: {include: ['^\(prefix)']}
        remote_write:
          - name: aps
            url: \(url)/api/v1/write
            sigv4:
        \(sigv4.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        \(extra)
        """
    }

    /// The access key and secret key file, through remote-write 2.0 to a receiver that takes
    /// only 1.0 (the fallback re-signs the same data as 1.0); a wrong secret is refused.
    @Test func requestsSignedWithTheConfiguredKeysPassBotocoresCheckAndArriveExact() async throws {
        let (holder, prefix, id) = try await Self.setUp()
        let prometheus = try await ReceiverProcess.prometheus()
        let receiver = try await ReceiverProcess.sigv4(upstream: prometheus.remoteWriteURL, keys: [Self.key: (Self.secret, nil)])
        let secretFile = try Scratch.file("aws-secret", Self.secret + "\n")
        let sigv4 = "region: eu-west-1\naccess_key: \(Self.key)\nsecret_key_file: \(secretFile.path)"
        let result = try await ShipperBinary.once(config: Self.config(
            prefix, url: receiver.baseURL, sigv4: sigv4, extra: "    protobuf_message: io.prometheus.write.v2.Request"))
        #expect(result.status == 0, "\(result.stderr)\n\(receiver.log)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(id)": "3"])
        #expect(result.stderr.contains("endpoint takes only remote-write 1.0"), "\(result.stderr)")
        #expect(receiver.log.contains("verified POST /api/v1/write key=\(Self.key)"), "\(receiver.log)")
        #expect(!receiver.log.contains("rejected"), "\(receiver.log)")

        // The same request signed with another secret: botocore's check refuses it (403), as AWS would.
        try "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY\n".write(to: secretFile, atomically: true, encoding: .utf8)
        let refused = try await ShipperBinary.once(config: Self.config(prefix, url: receiver.baseURL, sigv4: sigv4))
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("http.status=403"), "\(refused.stderr)")
        #expect(receiver.log.contains("rejected POST /api/v1/write: signature does not match botocore's"), "\(receiver.log)")
        withExtendedLifetime(holder) {}
        await receiver.stop()
        await prometheus.stop()
    }

    /// The environment's keys, with a session token, as the AWS SDKs read them first.
    @Test func theEnvironmentsKeysAndSessionTokenSign() async throws {
        let (holder, prefix, id) = try await Self.setUp()
        let prometheus = try await ReceiverProcess.prometheus()
        let token = "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/="
        let receiver = try await ReceiverProcess.sigv4(upstream: prometheus.remoteWriteURL, keys: [Self.key: (Self.secret, token)])
        let result = try await ShipperBinary.once(
            config: Self.config(prefix, url: receiver.baseURL, sigv4: "{}"),
            environment: [
                "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": Self.key, "AWS_SECRET_ACCESS_KEY": Self.secret,
                "AWS_SESSION_TOKEN": token,
            ])
        #expect(result.status == 0, "\(result.stderr)\n\(receiver.log)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(id)": "3"])
        #expect(receiver.log.contains("verified POST /api/v1/write key=\(Self.key)"), "\(receiver.log)")
        withExtendedLifetime(holder) {}
        await receiver.stop()
        await prometheus.stop()
    }

    /// A profile of the shared credentials file: while the receiver is down the daemon buffers;
    /// every buffered interval arrives, signed when it is sent; then the file is rewritten with
    /// new keys, and the next requests are signed with them, without a restart; then a reload
    /// switches to the configured pair.
    @Test func aProfilesKeysAreReReadWhenTheFileChangesAndBufferedDataIsSignedWhenSent() async throws {
        let (holder, prefix, id) = try await Self.setUp()
        let prometheus = try await ReceiverProcess.prometheus()
        let rotated = (key: "AKIAEDGEFLEET0000002", secret: "rotatedSecretKeyEXAMPLE/0000000000000000")
        let credentials = try Scratch.file("aws-credentials", """
            [default]
            aws_access_key_id = AKIAOTHERPROFILE0001
            aws_secret_access_key = notThisOne

            # the fleet's
            [fleet]
            aws_access_key_id = \(Self.key)
            aws_secret_access_key = \(Self.secret)
            """)
        let port = Network.freePort()
        let daemon = try ShipperDaemon(
            config: "interval: 1s\n" + Self.config(
                prefix, url: "http://127.0.0.1:\(port)", sigv4: "region: eu-west-1\nprofile: fleet", extra: "    queue: {max_backoff: 1s}"),
            environment: ["AWS_SHARED_CREDENTIALS_FILE": credentials.path])
        let file = try #require(daemon.configFile)
        let buffered = { BufferedRecords.timestamps(in: file.path + ".buffer/aps") }
        #expect(await eventually(within: 120) { buffered().count >= 3 }, "\(daemon.log)")
        let held = buffered()

        let receiver = try await ReceiverProcess.sigv4(
            upstream: prometheus.remoteWriteURL, keys: [Self.key: (Self.secret, nil), rotated.key: (rotated.secret, nil)], port: port)
        let stamps = { try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first?.timestampsMs ?? [] }
        let returned = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(await eventually(within: 30) { ((try? await stamps()).flatMap(\.last) ?? 0) > returned }, "\(daemon.log)")
        #expect(Array(try await stamps().prefix(held.count)) == held)

        try "[fleet]\naws_access_key_id = \(rotated.key)\naws_secret_access_key = \(rotated.secret)\n"
            .write(to: credentials, atomically: true, encoding: .utf8)
        #expect(await eventually(within: 30) { receiver.log.contains("key=\(rotated.key)") }, "\(receiver.log)")
        #expect(!receiver.log.contains("rejected"), "\(receiver.log)")
        #expect(!receiver.log.contains("AKIAOTHERPROFILE0001"))

        // A reload to the configured pair: the next requests are signed with it.
        let before = receiver.log.split(separator: "\n").count
        let secretFile = try Scratch.file("aws-secret", Self.secret)
        try ("interval: 1s\n" + Self.config(
            prefix, url: "http://127.0.0.1:\(port)",
            sigv4: "region: eu-west-1\naccess_key: \(Self.key)\nsecret_key_file: \(secretFile.path)", extra: "    queue: {max_backoff: 1s}"))
            .write(to: file, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        #expect(await eventually(within: 30) {
            receiver.log.split(separator: "\n").dropFirst(before).contains { $0.contains("key=\(Self.key)") }
        }, "\(daemon.log)")
        #expect(daemon.log.contains("msg=\"config reloaded\""), "\(daemon.log)")
        #expect(await daemon.terminate() == 0)
        #expect(!daemon.log.contains(Self.secret) && !daemon.log.contains(rotated.secret))
        withExtendedLifetime(holder) {}
        await receiver.stop()
        await prometheus.stop()
    }

    /// role_arn: the base keys sign an STS AssumeRole (AWS_ENDPOINT_URL_STS names the test's
    /// STS, which botocore checks too); its temporary keys and session token sign the writes,
    /// and are asked for again five minutes before they expire.
    @Test func anAssumedRolesTemporaryKeysSignAndAreRenewedBeforeTheyExpire() async throws {
        let (holder, prefix, id) = try await Self.setUp()
        let prometheus = try await ReceiverProcess.prometheus()
        let temporary = (key: "ASIATEMPORARY0000001", secret: "temporarySecretEXAMPLE", token: "FwoGZXIvYXdzEXAMPLE//session=")
        // Valid for 301 s: five minutes of margin leave one second, so each request past it asks again.
        let receiver = try await ReceiverProcess.sigv4(
            upstream: prometheus.remoteWriteURL,
            keys: [Self.key: (Self.secret, nil), temporary.key: (temporary.secret, temporary.token)],
            sts: (temporary.key, temporary.secret, temporary.token, 301))
        let secretFile = try Scratch.file("aws-secret", Self.secret)
        let daemon = try ShipperDaemon(
            config: "interval: 1s\n" + Self.config(
                prefix, url: receiver.baseURL,
                sigv4: "region: eu-west-1\naccess_key: \(Self.key)\nsecret_key_file: \(secretFile.path)\nrole_arn: arn:aws:iam::123456789012:role/edge-writer"),
            environment: ["AWS_ENDPOINT_URL_STS": receiver.baseURL + "/"])
        let assumed = { receiver.log.split(separator: "\n").filter { $0.hasPrefix("assumed arn:aws:iam::123456789012:role/edge-writer") }.count }
        #expect(await eventually(within: 60) { assumed() >= 2 }, "\(receiver.log)\n\(daemon.log)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(id)": "3"])
        let writes = receiver.log.split(separator: "\n").filter { $0.hasPrefix("verified POST /api/v1/write") }
        #expect(!writes.isEmpty && writes.allSatisfy { $0.contains("key=\(temporary.key)") }, "\(receiver.log)")
        #expect(!receiver.log.contains("rejected"), "\(receiver.log)")
        #expect(await daemon.terminate() == 0)
        withExtendedLifetime(holder) {}
        await receiver.stop()
        await prometheus.stop()
    }

    /// STS refusing is a send failure: nothing sent, nothing dropped, one line that says why.
    @Test func anSTSThatRefusesLosesNothing() async throws {
        let (holder, prefix, _) = try await Self.setUp()
        let receiver = try await ReceiverProcess.sigv4(
            upstream: "http://127.0.0.1:9/api/v1/write", keys: [Self.key: (Self.secret, nil)], sts: ("ASIAX", "s", "t", 3600))
        let wrong = try Scratch.file("aws-secret", "notTheSecret")
        let daemon = try ShipperDaemon(
            config: Self.config(
                prefix, url: receiver.baseURL,
                sigv4: "region: eu-west-1\naccess_key: \(Self.key)\nsecret_key_file: \(wrong.path)\nrole_arn: arn:aws:iam::123456789012:role/edge-writer",
                extra: "    queue: {max_backoff: 200ms}"),
            environment: ["AWS_ENDPOINT_URL_STS": receiver.baseURL + "/"])
        #expect(await daemon.stop(afterLogging: "send.failure=token"), "\(daemon.log)")
        #expect(daemon.log.contains(
            "error=\"STS AssumeRole for arn:aws:iam::123456789012:role/edge-writer answered 403 (SignatureDoesNotMatch: not signed right); nothing was sent\""),
            "\(daemon.log)")
        #expect(!daemon.log.contains("dropped"), "\(daemon.log)")
        #expect(!daemon.buffered("aps").isEmpty, "the batch waits on disk")
        #expect(!receiver.log.contains("verified"), "\(receiver.log)")
        withExtendedLifetime(holder) {}
        await receiver.stop()
    }
}
