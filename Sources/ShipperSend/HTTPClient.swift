internal import CRemoteWrite
import Foundation
import ShipperCollect
import ShipperConfig

/// What one HTTP exchange ended with.
enum HTTPOutcome: Sendable, Equatable {
    /// Any HTTP status. `body` is the start of the response body, for receivers' error messages.
    case response(status: Int, retryAfter: Duration?, body: String, http2: Bool)
    /// No HTTP response: the network, a timeout, or TLS.
    case failure(HTTPFailure, message: String)
}

/// Why no HTTP response came back; the `reason` label of send failures. `credentials`: a
/// configured secret file held no usable secret, so nothing was sent; `token`: the OAuth 2.0
/// token endpoint or STS handed out no token, so nothing was sent.
enum HTTPFailure: String, Sendable, CaseIterable {
    case connect, timeout, tls, transfer, setup, credentials, token
}

/// What a remote-write 2.0 receiver says it wrote: its X-Prometheus-Remote-Write-*-Written
/// headers, each nil where absent or unreadable; `unreadable` when one was present but not a
/// count (`-5`, `1e20`, `abc`): the receiver still speaks 2.0.
struct WrittenCounts: Sendable, Equatable {
    var samples: Int64?
    var histograms: Int64?
    var exemplars: Int64?
    var unreadable = false
}

/// A problem found while preparing the HTTP handle (a URL libcurl refuses).
package struct HTTPSetupError: Error, CustomStringConvertible {
    package var description: String
}

/// One reused libcurl easy handle, so keep-alive connections survive between requests.
/// The only Swift file that touches libcurl. Not Sendable: owned by one sending thread.
final class HTTPClient {
    private let handle: OpaquePointer
    private let timeout: Duration
    /// Receivers' messages are short; the rest of a long body is read and discarded.
    private var responseBody: [UInt8]
    /// The Written headers of the last response; nil if it had none of them (or there was none).
    private(set) var written: WrittenCounts?

    /// `responseLimit`: how much of a response body is kept: a receiver's error message, or a
    /// token endpoint's whole answer.
    init(url: String, timeout: Duration, tls: TLSConfig, proxy: ProxyConfig = .none, responseLimit: Int = 4096) throws(HTTPSetupError) {
        responseBody = [UInt8](repeating: 0, count: responseLimit)
        guard let handle = crw_http_new() else { throw HTTPSetupError(description: "libcurl could not create a handle") }
        self.handle = handle
        self.timeout = timeout
        guard crw_http_set_url(handle, url) == 0 else { throw HTTPSetupError(description: "libcurl refuses URL '\(url)'") }
        crw_http_set_version(handle, CRW_HTTP_DEFAULT)
        crw_http_set_tls(handle, tls.insecureSkipVerify ? 0 : 1, tls.caFile, tls.certFile, tls.keyFile)
        guard crw_http_set_proxy(handle, proxy.url, proxy.noProxy, proxy.fromEnvironment ? 1 : 0) == 0 else {
            throw HTTPSetupError(description: "libcurl refuses proxy URL '\(proxy.url ?? "")'")
        }
    }

    deinit { crw_http_free(handle) }

    /// Replaces every request header; each is a whole "Name: value" line.
    func setHeaders(_ lines: [String]) {
        crw_http_clear_headers(handle)
        for line in lines { _ = crw_http_add_header(handle, line) }
    }

    /// Replaces every header sent to the proxy only; each is a whole "Name: value" line.
    func setProxyHeaders(_ lines: [String]) {
        crw_http_clear_proxy_headers(handle)
        for line in lines { _ = crw_http_add_proxy_header(handle, line) }
    }

    func setBasicAuth(username: String?, password: String?) {
        crw_http_set_basic_auth(handle, username, password)
    }

    /// Blocks for the whole exchange, up to the configured timeout or `deadline`, whichever comes
    /// first (`once --timeout` bounds the request in flight too). Call it off the cooperative pool.
    func perform(method: String, body: [UInt8], deadline: ContinuousClock.Instant? = nil) -> HTTPOutcome {
        var total = timeout
        if let deadline {
            let left = deadline - .now
            guard left > .zero else { return .failure(.timeout, message: "deadline passed before the request was sent") }
            total = min(total, left)
        }
        // At least 1 ms: libcurl reads 0 as "no timeout".
        let milliseconds = max(total.milliseconds, 1)
        crw_http_set_timeouts(handle, min(milliseconds, 10_000), milliseconds)
        var response = crw_response()
        written = nil
        let result = body.withUnsafeBufferPointer { body in
            responseBody.withUnsafeMutableBufferPointer { buffer in
                crw_http_perform(handle, method, body.baseAddress, body.count, buffer.baseAddress, buffer.count, &response)
            }
        }
        let message = String(fixedCString: response.error)
        switch result {
        case 0:
            let counts = WrittenCounts(
                samples: response.samples_written >= 0 ? response.samples_written : nil,
                histograms: response.histograms_written >= 0 ? response.histograms_written : nil,
                exemplars: response.exemplars_written >= 0 ? response.exemplars_written : nil,
                unreadable: [response.samples_written, response.histograms_written, response.exemplars_written].contains(-2))
            written = counts == WrittenCounts() ? nil : counts
            return .response(
                status: Int(response.status),
                retryAfter: response.retry_after_seconds >= 0 ? .seconds(response.retry_after_seconds) : nil,
                body: String(decoding: responseBody.prefix(response.body_length), as: UTF8.self),
                http2: response.http_version == 20)
        case CRW_HTTP_ERR_CONNECT: return .failure(.connect, message: message)
        case CRW_HTTP_ERR_TIMEOUT: return .failure(.timeout, message: message)
        case CRW_HTTP_ERR_TLS: return .failure(.tls, message: message)
        case CRW_HTTP_ERR_SETUP: return .failure(.setup, message: message)
        default: return .failure(.transfer, message: message)
        }
    }
}
