import Foundation

/// AWS Signature Version 4, as Amazon Managed Service for Prometheus wants each request signed:
/// Prometheus's `sigv4` keys (`region`, `access_key`, `secret_key_file` for its inline
/// `secret_key`, `profile`, `role_arn`). Requests are signed for the service `aps`.
public struct SigV4Config: Sendable, Equatable {
    public var region: String
    public var credentials: AWSCredentialSource
    /// A role assumed through STS with `credentials`; its temporary keys sign the requests.
    public var roleARN: String?
    /// Where STS is asked for `roleARN`: `AWS_ENDPOINT_URL_STS` (as the AWS SDKs read it), else
    /// the region's own endpoint.
    public var stsURL: String

    /// The service every request is signed for: Amazon Managed Service for Prometheus.
    public static let service = "aps"
}

/// Where the keys that sign come from: the configured pair, or the AWS SDKs' default chain's
/// environment and file sources, in their order.
public enum AWSCredentialSource: Sendable, Equatable {
    /// `access_key` and `secret_key_file` (re-read when it changes).
    case keys(accessKey: String, secretKeyFile: String)
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, read at load.
    case environment(accessKey: String, secretKey: String, sessionToken: String?)
    /// A profile of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`), re-read when it changes.
    case profile(name: String, file: String)
}

extension SigV4Config {
    static let keys = ["region", "access_key", "secret_key_file", "secret_key", "profile", "role_arn"]

    init(_ value: YAMLValue) throws(ConfigError) {
        let fields = try value.mapping(keys: Self.keys)
        let environment = value.context.environment
        /// An environment variable that is set and not empty.
        let set = { (name: String) in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let inline = fields["secret_key"] {
            throw inline.fail("an inline secret_key is not accepted; write it to a file readable only by the shipper and set secret_key_file")
        }
        if let field = fields["region"] {
            region = try field.string()
            guard Self.isRegion(region) else {
                throw field.fail("invalid region '\(region)'; expected an AWS region such as us-east-1")
            }
        } else if let fromEnvironment = set("AWS_REGION") ?? set("AWS_DEFAULT_REGION"), Self.isRegion(fromEnvironment) {
            region = fromEnvironment
        } else {
            throw value.fail("missing key 'region' (and neither AWS_REGION nor AWS_DEFAULT_REGION is set); e.g. region: us-east-1")
        }
        let profile = try fields["profile"].map { field throws(ConfigError) in
            let name = try field.string()
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw field.fail("invalid profile '\(name)'; expected letters, digits, '-', '_' or '.'")
            }
            return name
        }
        switch (fields["access_key"], fields["secret_key_file"]) {
        case (let key?, let file?):
            if let field = fields["profile"] { throw field.fail("set either access_key and secret_key_file, or profile, not both") }
            let accessKey = try key.string()
            guard Self.isAccessKey(accessKey) else {
                throw key.fail("invalid access_key; expected an AWS access key ID: 16 to 128 capital letters and digits, e.g. AKIAIOSFODNN7EXAMPLE")
            }
            credentials = .keys(accessKey: accessKey, secretKeyFile: try file.secretFile(token: true))
        case (let key?, nil):
            throw key.fail("access_key needs secret_key_file, the file holding its secret access key")
        case (nil, let file?):
            throw file.fail("secret_key_file needs access_key")
        case (nil, nil):
            credentials = try Self.chain(profile: profile, environment: set, in: value)
        }
        if let field = fields["role_arn"] {
            let arn = try field.string()
            guard Self.isRoleARN(arn) else {
                throw field.fail("invalid role_arn '\(arn)'; expected arn:aws:iam::<12-digit account>:role/<name>")
            }
            roleARN = arn
        }
        stsURL = set("AWS_ENDPOINT_URL_STS") ?? "https://sts.\(region).amazonaws.com/"
        do { _ = try EndpointURL(stsURL) } catch { throw value.fail("AWS_ENDPOINT_URL_STS: \(error.message)") }
    }

    /// The SDKs' chain, its environment and file sources: an explicit `profile` is read from the
    /// shared credentials file; otherwise the environment's keys, else the file's `AWS_PROFILE`
    /// (or `default`) profile. The file must exist now; its profile is looked for at each send,
    /// as the file may be written later.
    private static func chain(profile: String?, environment set: (String) -> String?, in value: YAMLValue) throws(ConfigError)
        -> AWSCredentialSource
    {
        if profile == nil, let key = set("AWS_ACCESS_KEY_ID") {
            guard let secret = set("AWS_SECRET_ACCESS_KEY") else {
                throw value.fail("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both, or neither")
            }
            guard isAccessKey(key), HTTPSyntax.isFieldValue(secret), set("AWS_SESSION_TOKEN").map(HTTPSyntax.isFieldValue) ?? true else {
                throw value.fail("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN holds characters no AWS key has")
            }
            return .environment(accessKey: key, secretKey: secret, sessionToken: set("AWS_SESSION_TOKEN"))
        }
        let home = set("HOME") ?? "/root"
        let file = set("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials"
        let name = profile ?? set("AWS_PROFILE") ?? "default"
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw value.fail(
                "no AWS credentials: set access_key and secret_key_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                    + "or write profile [\(name)] to \(file) (AWS_SHARED_CREDENTIALS_FILE names another file)")
        }
        return .profile(name: name, file: file)
    }

    package static func isRegion(_ text: String) -> Bool {
        (2...32).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    package static func isAccessKey(_ text: String) -> Bool {
        (16...128).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber) }
    }

    package static func isRoleARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0] == "arn" && parts[1].hasPrefix("aws") && parts[2] == "iam" && parts[3].isEmpty
            && parts[4].count == 12 && parts[4].allSatisfy(\.isNumber) && parts[5].hasPrefix("role/") && parts[5].count > 5
            && text.count <= 2048 && HTTPSyntax.isFieldValue(text) && !text.contains(" ")
    }

    /// What `check-config` prints: where the keys come from, never a secret.
    var summary: String {
        var text = " sigv4=\(region)"
        switch credentials {
        case .keys(let key, let file): text += " access_key=\(key) secret_key=<\(file)>"
        case .environment: text += " credentials=environment"
        case .profile(let name, let file): text += " profile=\(name)@\(file)"
        }
        if let roleARN { text += " role_arn=\(roleARN)" }
        return text
    }
}
