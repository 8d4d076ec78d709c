import Foundation
import Testing

@testable import ShipperConfig

/// The `oauth2` keys: what is read, what is refused at load in one line, and what `check-config`
/// shows (never the secret).
struct OAuth2ConfigTests {
    static func error(_ oauth2: String) -> String? {
        let yaml = "remote_write:\n  - url: https://prom.example/api/v1/write\n    oauth2:\n"
            + oauth2.split(separator: "\n").map { "      " + $0 + "\n" }.joined()
        do {
            _ = try Config.parse(yaml, file: "shipper.yml", environment: [:], hostname: "edge-7")
            return nil
        } catch {
            return error.description
        }
    }

    static func secret() throws -> String { try Scratch.file("client-secret", "s3cret\n").path }

    @Test func readsEveryKey() throws {
        let secret = try Self.secret()
        let yaml = """
            pushgateway:
              - url: http://gw:9091
                job: nightly
                oauth2:
                  client_id: edge
                  client_secret_file: \(secret)
                  token_url: https://auth.example/oauth2/token
                  scopes: [metrics.write, 'tenant:edge']
                  endpoint_params: {audience: 'https://prometheus.example'}
                  tls_config: {insecure_skip_verify: true}
            """
        let config = try Config.parse(yaml, file: "shipper.yml", environment: [:], hostname: "edge-7")
        var tls = TLSConfig.defaults
        tls.insecureSkipVerify = true
        #expect(config.pushgateway[0].oauth2 == OAuth2Config(
            clientID: "edge", clientSecretFile: secret, tokenURL: "https://auth.example/oauth2/token",
            scopes: ["metrics.write", "tenant:edge"], endpointParams: ["audience": "https://prometheus.example"], tls: tls))
        #expect(config.pushgateway[0].oauth2?.summary
            == " oauth2=edge@https://auth.example/oauth2/token client_secret=<\(secret)> scopes=metrics.write,tenant:edge")
    }

    @Test func refusesWhatWouldLeakOrNeverWork() throws {
        let secret = try Self.secret()
        let base = "client_id: edge\nclient_secret_file: \(secret)\ntoken_url: https://auth.example/token"
        #expect(Self.error("client_id: edge\nclient_secret: s3cret") == "shipper.yml:5: remote_write[0].oauth2.client_secret: "
            + "an inline client_secret is not accepted; write it to a file readable only by the shipper and set client_secret_file")
        #expect(Self.error("client_id: edge\ntoken_url: https://auth.example/token") == "shipper.yml:4: remote_write[0].oauth2: "
            + "missing key 'client_secret_file'; the file holds the client secret")
        #expect(Self.error("client_id: edge\nclient_secret_file: \(secret)") == "shipper.yml:4: remote_write[0].oauth2: "
            + "missing key 'token_url'; e.g. token_url: https://auth.example/oauth2/token")
        #expect(Self.error("client_id: edge\nclient_secret_file: \(secret)\ntoken_url: https://u:p@auth.example/token")?
            .contains("remote_write[0].oauth2.token_url: the URL carries credentials") == true)
        #expect(Self.error(base + "\nscopes: ['a b']") == "shipper.yml:7: remote_write[0].oauth2.scopes[0]: "
            + "invalid scope 'a b'; a scope is visible ASCII without spaces, quotes or backslashes")
        #expect(Self.error(base + "\nendpoint_params: {grant_type: password}") == "shipper.yml:7: remote_write[0].oauth2.endpoint_params.grant_type: "
            + "endpoint_params cannot set 'grant_type'; the shipper sends grant_type=client_credentials and the secret from client_secret_file")
        let both = "remote_write:\n  - url: https://p/w\n    bearer_token_file: \(secret)\n    oauth2: {client_id: a}\n"
        do {
            _ = try Config.parse(both, file: "shipper.yml", environment: [:], hostname: "h")
            Issue.record("bearer_token_file and oauth2 together were accepted")
        } catch {
            #expect(error.description == "shipper.yml:4: remote_write[0].oauth2: set one of basic_auth, bearer_token_file, sigv4 and oauth2, not several")
        }
    }
}
