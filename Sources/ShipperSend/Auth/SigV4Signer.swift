import Foundation

/// Keys that sign a request: a long-lived pair, or temporary ones with their session token.
struct AWSCredentials: Sendable, Equatable {
    var accessKey: String
    var secretKey: String
    var sessionToken: String?
}

/// AWS Signature Version 4, Authorization-header form, as the AWS documentation defines it
/// ("Create a signed AWS API request"): the request's canonical form, hashed, signed with a key
/// derived from the secret, the day, the region and the service.
///
/// It signs the headers AWS requires and no others: `host`, `x-amz-date` and, with temporary
/// keys, `x-amz-security-token`; the body through its SHA-256. The `Host` header is set to the
/// value signed, so what was signed is what libcurl sends.
struct SigV4Signer: Sendable {
    let region: String
    let service: String
    /// The URL's parts as signed: `host[:port]` (lowercase, no default port), the path as
    /// written (already percent-encoded), the query's `name=value` pairs as written.
    let host: String
    let path: String
    let query: [(name: String, value: String)]

    init(url: String, region: String, service: String) {
        self.region = region
        self.service = service
        let afterScheme = url.range(of: "://").map { url[$0.upperBound...] } ?? Substring(url)
        let secure = url.lowercased().hasPrefix("https://")
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var host = authority.lowercased()
        if let colon = host.lastIndex(of: ":"), !host[colon...].contains("]") {
            let port = host[host.index(after: colon)...]
            if port == (secure ? "443" : "80") { host = String(host[..<colon]) }
        }
        self.host = host
        let rest = afterScheme.dropFirst(authority.count).prefix { $0 != "#" }
        let pathPart = rest.prefix { $0 != "?" }
        path = pathPart.isEmpty ? "/" : String(pathPart)
        let queryPart = rest.dropFirst(pathPart.count).dropFirst()
        query = queryPart.split(separator: "&").map { item in
            let name = item.prefix { $0 != "=" }
            return (String(name), String(item.dropFirst(name.count).dropFirst()))
        }
    }

    /// The header lines that sign a `method` request with `body` at `date`: Host, X-Amz-Date,
    /// X-Amz-Security-Token with temporary keys, and Authorization.
    func headers(method: String, body: some Collection<UInt8>, credentials: AWSCredentials, at date: Date) -> [String] {
        let (stamp, day) = Self.timestamps(date)
        var signed = [("host", host), ("x-amz-date", stamp)]
        if let token = credentials.sessionToken { signed.append(("x-amz-security-token", token)) }
        let names = signed.map(\.0).joined(separator: ";")
        let canonical = [
            method,
            Self.encode(path, keepingSlashes: true),
            // As written, sorted: a URL's query is already percent-encoded.
            query.sorted { ($0.name, $0.value) < ($1.name, $1.value) }.map { "\($0.name)=\($0.value)" }.joined(separator: "&"),
            signed.map { "\($0):\($1)\n" }.joined(),
            names,
            Digest.hex(Digest.sha256(body)),
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n\(Digest.hex(Digest.sha256(Array(canonical.utf8))))"
        var key = Array("AWS4\(credentials.secretKey)".utf8)
        for part in [day, region, service, "aws4_request"] { key = Digest.hmacSHA256(key: key, Array(part.utf8)) }
        let signature = Digest.hex(Digest.hmacSHA256(key: key, Array(toSign.utf8)))
        var lines = ["Host: \(host)", "X-Amz-Date: \(stamp)"]
        if let token = credentials.sessionToken { lines.append("X-Amz-Security-Token: \(token)") }
        lines.append(
            "Authorization: AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(names), Signature=\(signature)")
        return lines
    }

    /// `20261207T103000Z` and `20261207`, in UTC.
    static func timestamps(_ date: Date) -> (stamp: String, day: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        return (day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!), day)
    }

    /// URI-encodes every byte but the unreserved ones (and '/' in a path), as SigV4 wants: a path
    /// already percent-encoded is encoded again, as AWS does for every service but S3.
    static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if (c.isASCII && (c.isLetter || c.isNumber)) || "-._~".contains(c) || (keepingSlashes && c == "/") {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
