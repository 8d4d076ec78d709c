
/// What may reach a request line or a header, checked at load: a value that reaches libcurl
/// unchecked can inject headers (CR, LF) or make every request malformed, and would only fail
/// at send time, after the batch was buffered.
package enum HTTPSyntax {
    /// A header name: an RFC 9110 token (letters, digits and ``!#$%&'*+-.^_`|~``).
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A header value: one line of visible ASCII characters, spaces and tabs. Never CR or LF,
    /// which would end the header and start another.
    package static func isFieldValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 }
    }

    /// No control characters (below 0x20, or DEL): for names that reach log lines and labels.
    static func isPrintable(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }
}

/// An endpoint URL as the shipper accepts it: `http` or `https`, a host, an optional port, and
/// no whitespace, control characters or credentials. Credentials in a URL would be printed by
/// `check-config` and become part of the default endpoint name, which is in every log line.
struct EndpointURL: Equatable {
    /// `url` with every query value replaced by `<hidden>`, for printing: a query may carry a
    /// token (`?token=...`), and the config check prints what it read.
    static func hidingQueryValues(_ url: String) -> String {
        guard let mark = url.firstIndex(of: "?") else { return url }
        let query = url[url.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false).map { item in
            item.firstIndex(of: "=").map { item[..<$0] + "=<hidden>" } ?? item
        }
        return String(url[...mark]) + query.joined(separator: "&")
    }

    var host: String
    var port: Int?

    /// What is wrong with a URL; the text never repeats credentials it found.
    struct Problem: Error, Equatable {
        var message: String
    }

    init(_ text: String) throws(Problem) {
        guard let separator = text.firstRange(of: "://") else {
            throw Problem(message: "invalid URL '\(Self.redacted(text))'; expected http:// or https:// with a host")
        }
        let scheme = text[..<separator.lowerBound].lowercased()
        let rest = text[separator.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@") {
            throw Problem(
                message: "the URL carries credentials (user:password@host), which would be logged and shown; "
                    + "remove them and set basic_auth with a password_file")
        }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw Problem(
                message: "invalid URL '\(Self.printable(Self.hidingQueryValues(text)))'; it contains whitespace, a control character or "
                    + "non-ASCII text; percent-encode them")
        }
        guard scheme == "http" || scheme == "https" else {
            throw Problem(message: "invalid URL '\(Self.hidingQueryValues(text))'; expected http:// or https:// with a host")
        }
        var hostPart = Substring(authority)
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw Problem(message: "invalid URL '\(Self.hidingQueryValues(text))'; an IPv6 host needs its closing ']'")
            }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty {
                throw Problem(message: "invalid URL '\(Self.hidingQueryValues(text))'; expected [address]:port")
            }
            hostPart = hostPart[...close]
            guard hostPart.dropFirst().dropLast().allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw Problem(message: "invalid URL '\(Self.hidingQueryValues(text))'; the IPv6 address holds other characters than hex digits, ':' and '.'")
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty, hostPart.hasPrefix("[") || hostPart.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) })
        else {
            throw Problem(message: "invalid URL '\(Self.hidingQueryValues(text))'; expected http:// or https:// with a host")
        }
        host = String(hostPart)
        if let portPart {
            guard let number = Int(portPart), (1...65535).contains(number) else {
                throw Problem(message: "invalid URL '\(Self.hidingQueryValues(text))'; the port must be a number from 1 to 65535")
            }
            port = number
        }
    }

    /// The URL with anything between `://` and an `@` replaced, for messages.
    static func redacted(_ text: String) -> String {
        guard let separator = text.firstRange(of: "://") else { return text }
        let authority = text[separator.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return text }
        return String(text[..<separator.upperBound]) + "<redacted>" + text[at...]
    }

    /// Control characters spelled as escapes, so a message stays one line.
    private static func printable(_ text: String) -> String {
        text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }
            .joined()
    }
}
