import Foundation
import Logging
import ShipperConfig

/// The keys that sign an endpoint's requests, from its `sigv4` source: the configured pair (its
/// secret re-read when the file changes), the environment's, or a profile of the shared
/// credentials file (re-read when it changes); and, with `role_arn`, the temporary keys STS
/// gives for that role, cached until five minutes before they expire.
final class AWSCredentialProvider {
    private let source: AWSCredentialSource
    private let file: SecretFile?
    private let role: AssumedRole?

    init(_ config: SigV4Config, proxy: ProxyConfig, timeout: Duration, logger: Logger) throws(HTTPSetupError) {
        source = config.credentials
        switch config.credentials {
        case .keys(_, let secretKeyFile):
            file = SecretFile(path: secretKeyFile, logger: logger, usable: HTTPSyntax.isFieldValue)
        case .environment:
            file = nil
        case .profile(let name, let path):
            file = SecretFile(
                path: path, logger: logger, usable: { Self.profile(name, in: $0) != nil },
                unusable: "the shared credentials file has no profile [\(name)] with aws_access_key_id and aws_secret_access_key")
        }
        role = try config.roleARN.map { arn throws(HTTPSetupError) in
            try AssumedRole(arn: arn, stsURL: config.stsURL, region: config.region, proxy: proxy, timeout: timeout)
        }
    }

    /// The keys to sign with now, or why there are none (nothing is sent then). `proxyHeaders`
    /// go to the entry's proxy with an STS request.
    func current(at now: Date, proxyHeaders: [String] = []) -> Result<AWSCredentials, CredentialError> {
        let base: AWSCredentials
        switch source {
        case .keys(let accessKey, let path):
            guard let secret = file?.read() else { return .failure(CredentialError(message: "no usable secret key in \(path); nothing was sent")) }
            base = AWSCredentials(accessKey: accessKey, secretKey: secret)
        case .environment(let accessKey, let secretKey, let sessionToken):
            base = AWSCredentials(accessKey: accessKey, secretKey: secretKey, sessionToken: sessionToken)
        case .profile(let name, let path):
            guard let text = file?.read(), let keys = Self.profile(name, in: text) else {
                return .failure(CredentialError(message: "no profile [\(name)] with keys in \(path); nothing was sent"))
            }
            base = keys
        }
        guard let role else { return .success(base) }
        return role.credentials(signingWith: base, at: now, proxyHeaders: proxyHeaders)
    }

    /// The keys of `[name]` in a shared credentials file (INI: `[profile]` sections of
    /// `key = value` lines, `#` and `;` comments), nil unless it has an access key and a secret.
    static func profile(_ name: String, in text: String) -> AWSCredentials? {
        var inProfile = false
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                inProfile = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces) == name
                continue
            }
            guard inProfile, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            values[key] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"],
            SigV4Config.isAccessKey(key), !secret.isEmpty, HTTPSyntax.isFieldValue(secret)
        else { return nil }
        let token = values["aws_session_token"] ?? values["aws_security_token"]
        guard token.map(HTTPSyntax.isFieldValue) ?? true else { return nil }
        return AWSCredentials(accessKey: key, secretKey: secret, sessionToken: token.flatMap { $0.isEmpty ? nil : $0 })
    }
}

/// Why a request has no credentials to go with it: nothing is sent, the batch is retried.
/// `failure`: `credentials` for a secret that is missing here, `token` for a token endpoint or
/// STS that did not hand one out.
struct CredentialError: Error, Equatable {
    var message: String
    var failure = HTTPFailure.credentials
}
