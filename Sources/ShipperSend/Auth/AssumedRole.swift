import Foundation
import ShipperConfig

/// A role's temporary keys from STS `AssumeRole` (the query API, signed with the base keys),
/// cached until five minutes before they expire. A failed call sends nothing: the batch is
/// retried, and STS is asked again at the next attempt.
final class AssumedRole {
    private let arn: String
    private let client: HTTPClient
    private let signer: SigV4Signer
    private var cached: (keys: AWSCredentials, base: AWSCredentials, refreshAt: Date)?

    /// How long the keys are asked for, and how long before their end they are replaced.
    static let duration = 3600
    static let margin: TimeInterval = 300

    init(arn: String, stsURL: String, region: String, proxy: ProxyConfig, timeout: Duration) throws(HTTPSetupError) {
        self.arn = arn
        client = try HTTPClient(url: stsURL, timeout: timeout, tls: .defaults, proxy: proxy, responseLimit: 65536)
        signer = SigV4Signer(url: stsURL, region: region, service: "sts")
    }

    func credentials(signingWith base: AWSCredentials, at now: Date, proxyHeaders: [String]) -> Result<AWSCredentials, CredentialError> {
        if let cached, cached.base == base, now < cached.refreshAt { return .success(cached.keys) }
        let body = Array(
            ("Action=AssumeRole&DurationSeconds=\(Self.duration)&RoleArn=\(SigV4Signer.encode(arn))"
                + "&RoleSessionName=ebpf-map-shipper&Version=2011-06-15").utf8)
        client.setHeaders(
            RequestCredentials.commonHeaders + ["Content-Type: application/x-www-form-urlencoded; charset=utf-8"]
                + signer.headers(method: "POST", body: body, credentials: base, at: now))
        client.setProxyHeaders(proxyHeaders)
        switch client.perform(method: "POST", body: body) {
        case .response(200, _, let text, _):
            guard let keys = Self.keys(in: text) else {
                return .failure(CredentialError(message: "STS AssumeRole for \(arn) answered 200 without credentials; nothing was sent", failure: .token))
            }
            let expires = Self.tag("Expiration", in: text).flatMap { try? Date($0, strategy: .iso8601) }
                ?? now.addingTimeInterval(TimeInterval(Self.duration))
            cached = (keys, base, max(now, expires.addingTimeInterval(-Self.margin)))
            return .success(keys)
        case .response(let status, _, let text, _):
            let reason = [Self.tag("Code", in: text), Self.tag("Message", in: text)].compactMap { $0 }.joined(separator: ": ")
            return .failure(CredentialError(message: "STS AssumeRole for \(arn) answered \(status)\(reason.isEmpty ? "" : " (\(reason))"); nothing was sent", failure: .token))
        case .failure(let failure, let message):
            return .failure(CredentialError(message: "STS AssumeRole for \(arn) failed (\(failure.rawValue): \(message)); nothing was sent", failure: .token))
        }
    }

    /// The temporary keys in an `AssumeRoleResponse`.
    static func keys(in xml: String) -> AWSCredentials? {
        guard let key = tag("AccessKeyId", in: xml), let secret = tag("SecretAccessKey", in: xml),
            let token = tag("SessionToken", in: xml),
            [key, secret, token].allSatisfy({ !$0.isEmpty && HTTPSyntax.isFieldValue($0) })
        else { return nil }
        return AWSCredentials(accessKey: key, secretKey: secret, sessionToken: token)
    }

    /// The text of the first `<name>...</name>` element, trimmed. STS's answers are flat enough
    /// that no XML parser is needed, and none of these values holds markup.
    static func tag(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else {
            return nil
        }
        return xml[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
