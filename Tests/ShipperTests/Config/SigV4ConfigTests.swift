import Foundation
import Testing

@testable import ShipperConfig

/// The `sigv4` keys: where the keys come from (the configured pair, the environment, a profile
/// of the shared credentials file), the region and STS from the environment, and what is refused
/// at load in one line that says what to do.
struct SigV4ConfigTests {
    static func parse(_ sigv4: String, environment: [String: String] = [:]) throws(ConfigError) -> SigV4Config? {
        let yaml = "remote_write:\n  - url: https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write\n"
            + "    sigv4:\n" + sigv4.split(separator: "\n").map { "      " + $0 + "\n" }.joined()
        return try Config.parse(yaml, file: "shipper.yml", environment: environment, hostname: "edge-7").remoteWrite[0].sigv4
    }

    static func error(_ sigv4: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try parse(sigv4, environment: environment)
            return nil
        } catch {
            return error.description
        }
    }

    static func file(_ text: String) throws -> String { try Scratch.file("aws", text).path }

    @Test func readsEachSourceOfKeys() throws {
        let secret = try Self.file("wJalrXUtnFEMI/K7MDENG\n")
        #expect(try Self.parse("region: eu-west-1\naccess_key: AKIAEDGEFLEET0000001\nsecret_key_file: \(secret)") == SigV4Config(
            region: "eu-west-1", credentials: .keys(accessKey: "AKIAEDGEFLEET0000001", secretKeyFile: secret), roleARN: nil,
            stsURL: "https://sts.eu-west-1.amazonaws.com/"))
        let environment = ["AWS_REGION": "us-east-2", "AWS_ACCESS_KEY_ID": "AKIAEDGEFLEET0000001", "AWS_SECRET_ACCESS_KEY": "s3cret"]
        #expect(try Self.parse("{}", environment: environment)?.credentials
            == .environment(accessKey: "AKIAEDGEFLEET0000001", secretKey: "s3cret", sessionToken: nil))
        #expect(try Self.parse("{}", environment: environment)?.region == "us-east-2")
        let credentials = try Self.file("[fleet]\naws_access_key_id = AKIAEDGEFLEET0000001\n")
        // An explicit profile wins over the environment's keys; AWS_PROFILE names one otherwise.
        #expect(try Self.parse("region: eu-west-1\nprofile: fleet", environment: environment.merging(["AWS_SHARED_CREDENTIALS_FILE": credentials]) { $1 })?
            .credentials == .profile(name: "fleet", file: credentials))
        #expect(try Self.parse("region: eu-west-1", environment: ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_PROFILE": "edge"])?
            .credentials == .profile(name: "edge", file: credentials))
        #expect(try Self.parse("region: eu-west-1", environment: ["AWS_SHARED_CREDENTIALS_FILE": credentials])?
            .credentials == .profile(name: "default", file: credentials))
        let role = try Self.parse(
            "region: eu-west-1\nrole_arn: arn:aws:iam::123456789012:role/edge-writer",
            environment: environment.merging(["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:4566/"]) { $1 })
        #expect(role?.roleARN == "arn:aws:iam::123456789012:role/edge-writer" && role?.stsURL == "http://127.0.0.1:4566/")
    }

    @Test func refusesWhatWouldNeverSignOrLeakASecret() throws {
        let at = "shipper.yml:4: remote_write[0].sigv4"
        #expect(Self.error("region: eu-west-1\naccess_key: AKIAEDGEFLEET0000001\nsecret_key: abc") == "shipper.yml:6: remote_write[0].sigv4"
            + ".secret_key: an inline secret_key is not accepted; write it to a file readable only by the shipper and set secret_key_file")
        #expect(Self.error("access_key: AKIAEDGEFLEET0000001") == at
            + ": missing key 'region' (and neither AWS_REGION nor AWS_DEFAULT_REGION is set); e.g. region: us-east-1")
        #expect(Self.error("region: EU West") == "shipper.yml:4: remote_write[0].sigv4.region: invalid region 'EU West'; expected an AWS region such as us-east-1")
        let secret = try Self.file("s3cret")
        #expect(Self.error("region: eu-west-1\naccess_key: akia-lower\nsecret_key_file: \(secret)") == "shipper.yml:5: remote_write[0].sigv4.access_key: "
            + "invalid access_key; expected an AWS access key ID: 16 to 128 capital letters and digits, e.g. AKIAIOSFODNN7EXAMPLE")
        #expect(Self.error("region: eu-west-1\naccess_key: AKIAEDGEFLEET0000001") == "shipper.yml:5: remote_write[0].sigv4.access_key: "
            + "access_key needs secret_key_file, the file holding its secret access key")
        #expect(Self.error("region: eu-west-1\nrole_arn: arn:aws:iam::1234:role/x", environment: ["AWS_ACCESS_KEY_ID": "AKIAEDGEFLEET0000001", "AWS_SECRET_ACCESS_KEY": "s"])
            == "shipper.yml:5: remote_write[0].sigv4.role_arn: invalid role_arn 'arn:aws:iam::1234:role/x'; expected arn:aws:iam::<12-digit account>:role/<name>")
        #expect(Self.error("region: eu-west-1", environment: ["HOME": "/nonexistent"]) == at
            + ": no AWS credentials: set access_key and secret_key_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            + "or write profile [default] to /nonexistent/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE names another file)")
        #expect(Self.error("region: eu-west-1", environment: ["AWS_ACCESS_KEY_ID": "AKIAEDGEFLEET0000001"]) == at
            + ": AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both, or neither")
        let both = "remote_write:\n  - url: https://aps.example/w\n    bearer_token_file: \(secret)\n    sigv4: {region: eu-west-1}\n"
        #expect(throws: ConfigError.self) { try Config.parse(both, file: "shipper.yml", environment: [:], hostname: "h") }
        do {
            _ = try Config.parse(both, file: "shipper.yml", environment: [:], hostname: "h")
        } catch {
            #expect(error.description == "shipper.yml:4: remote_write[0].sigv4: set one of basic_auth, bearer_token_file, sigv4 and oauth2, not several")
        }
    }

    /// check-config shows where the keys come from, never a secret.
    @Test func checkConfigShowsTheKeysSourceWithoutSecrets() async throws {
        let secret = try Self.file("wJalrXUtnFEMI/K7MDENG\n")
        let config = try writeConfig("""
            remote_write:
              - url: https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write
                sigv4: {region: eu-west-1, access_key: AKIAEDGEFLEET0000001, secret_key_file: \(secret), role_arn: 'arn:aws:iam::123456789012:role/w'}
            """)
        defer { removeConfig(config) }
        let result = try await ShipperBinary.run(["check-config", config.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(
            " sigv4=eu-west-1 access_key=AKIAEDGEFLEET0000001 secret_key=<\(secret)> role_arn=arn:aws:iam::123456789012:role/w "), "\(result.stdout)")
        #expect(!result.stdout.contains("wJalrXUtnFEMI"))
    }
}
