import Foundation
import HTTPTransport
import Synchronization

/// Stripe's HTTP conventions: bearer key, pinned version, form bodies, JSON answers, and errors
/// mapped to `ProviderError`.
///
/// Backoff is shared: a 429 or 5xx with `Retry-After` holds every later request until then, so
/// all workers respect it together. `Stripe-Should-Retry: false` turns the backoff into a minute.
///
/// | answer | error kind | retry after |
/// |---|---|---|
/// | 401, 403 | `unauthorized` | (stops until the key is fixed) |
/// | 429 | `transient` | `Retry-After`, else 2 s |
/// | 5xx | `transient` | `Retry-After`, else 1 s |
/// | timeout | `timeout` | 5 s |
/// | refused, reset | `transient` | 1 s |
/// | not JSON, truncated, too large, missing fields | `malformed` | 5 s |
final class StripeClient: Sendable {
    static let apiVersion = "2024-12-18.acacia"

    let transport: HTTPTransport
    let base: String
    let authorization: String
    let holdUntil = Mutex<Double>(0)
    /// `[provider] requests_per_second`, over every request (polls, guards, pays).
    let pacer: TokenBucket

    init(base: String, apiKey: String, requestsPerSecond: Int, connectTimeout: Double, requestTimeout: Double, maxResponseBytes: Int) throws(ProviderError) {
        pacer = TokenBucket(rate: Double(requestsPerSecond))
        var config = HTTPTransport.Configuration()
        config.connectTimeout = connectTimeout
        config.requestTimeout = requestTimeout
        config.maxResponseBytes = maxResponseBytes
        config.userAgent = "relance (+stripe adapter)"
        do { transport = try HTTPTransport(configuration: config) } catch {
            throw ProviderError(.transient, "cannot start the HTTP transport: \(error)")
        }
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.base = trimmed
        self.authorization = "Bearer " + apiKey
    }

    deinit { transport.shutdown() }

    /// Percent-encodes a form or query value (RFC 3986 unreserved characters kept).
    static func encode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    static func form(_ pairs: [(String, String)]) -> String {
        pairs.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }

    /// GET `path` with `query`, decoded as `T`.
    func get<T: Decodable>(_ path: String, query: [(String, String)] = [], endpoint: String, as type: T.Type) async throws(ProviderError) -> T {
        let url = base + path + (query.isEmpty ? "" : "?" + Self.form(query))
        let response = try await send(HTTPRequest(method: "GET", url: url, headers: headers(idempotencyKey: nil)), endpoint: endpoint)
        guard (200..<300).contains(response.status) else { throw Self.failure(response, endpoint: endpoint) }
        return try Self.decode(T.self, response, endpoint: endpoint)
    }

    /// GET that answers nil for 404 (`resource_missing`): the object does not exist (any more).
    func find<T: Decodable>(_ path: String, query: [(String, String)] = [], endpoint: String, as type: T.Type) async throws(ProviderError) -> T? {
        let url = base + path + (query.isEmpty ? "" : "?" + Self.form(query))
        let response = try await send(HTTPRequest(method: "GET", url: url, headers: headers(idempotencyKey: nil)), endpoint: endpoint)
        if response.status == 404 { return nil }
        guard (200..<300).contains(response.status) else { throw Self.failure(response, endpoint: endpoint) }
        return try Self.decode(T.self, response, endpoint: endpoint)
    }

    /// POST a form; returns the raw answer, whatever its status, for the caller to interpret.
    func post(_ path: String, form: [(String, String)], idempotencyKey: String, endpoint: String) async throws(ProviderError) -> HTTPResponse {
        var headers = headers(idempotencyKey: idempotencyKey)
        headers.append((name: "Content-Type", value: "application/x-www-form-urlencoded"))
        return try await send(HTTPRequest(method: "POST", url: base + path, headers: headers, body: Array(Self.form(form).utf8)), endpoint: endpoint)
    }

    func headers(idempotencyKey: String?) -> [(name: String, value: String)] {
        var h: [(name: String, value: String)] = [
            (name: "Authorization", value: authorization),
            (name: "Stripe-Version", value: Self.apiVersion),
            (name: "Accept", value: "application/json"),
        ]
        if let idempotencyKey { h.append((name: "Idempotency-Key", value: idempotencyKey)) }
        return h
    }

    /// Sends after any shared backoff; records the request count and latency; maps transport errors.
    func send(_ request: HTTPRequest, endpoint: String) async throws(ProviderError) -> HTTPResponse {
        // The hold is checked again once the token is there: a 429 answered while this request waited
        // for its token holds it too (else it would go out a few milliseconds after the 429).
        while true {
            let hold = holdUntil.withLock { $0 } - Date().timeIntervalSince1970
            if hold > 0 {
                try? await Task.sleep(for: .milliseconds(Int64(min(hold, 300) * 1_000)))
            }
            await pacer.acquire()
            if Task.isCancelled || holdUntil.withLock({ $0 }) <= Date().timeIntervalSince1970 { break }
        }
        let started = ContinuousClock.now
        do {
            let response = try await transport.send(request)
            ProviderMetrics.record(endpoint: endpoint, status: String(response.status), since: started)
            if response.status == 429 || response.status >= 500 {
                let wait = Self.retryAfter(response)
                holdUntil.withLock { $0 = max($0, Date().timeIntervalSince1970 + wait) }
            }
            return response
        } catch {
            ProviderMetrics.record(endpoint: endpoint, status: "error", since: started)
            switch error.kind {
            case .timeout: throw ProviderError(.timeout, "\(endpoint): \(error.message)", retryAfter: 5)
            case .tooLarge: throw ProviderError(.malformed, "\(endpoint): answer larger than the response limit", retryAfter: 5)
            default: throw ProviderError(.transient, "\(endpoint): \(error.message)", retryAfter: 1)
            }
        }
    }

    /// `Retry-After` in seconds (capped at 10 minutes); a minute when `Stripe-Should-Retry: false`.
    static func retryAfter(_ response: HTTPResponse) -> Double {
        if response.header("Stripe-Should-Retry")?.lowercased() == "false" { return 60 }
        if let value = response.header("Retry-After").flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), value >= 0 {
            return min(value, 600)
        }
        return response.status == 429 ? 2 : 1
    }

    /// The error for a non-2xx answer that the caller does not handle itself.
    static func failure(_ response: HTTPResponse, endpoint: String) -> ProviderError {
        let message = (try? JSONDecoder.stripe.decode(StripeErrorEnvelope.self, from: Data(response.body)))?.error.message ?? "HTTP \(response.status)"
        switch response.status {
        case 401, 403: return ProviderError(.unauthorized, "\(endpoint): HTTP \(response.status): \(message)")
        case 429, 500...: return ProviderError(.transient, "\(endpoint): HTTP \(response.status): \(message)", retryAfter: retryAfter(response))
        default: return ProviderError(.malformed, "\(endpoint): HTTP \(response.status): \(message)", retryAfter: 5)
        }
    }

    /// Decodes a JSON answer; anything else (wrong content type, truncated, missing fields) is malformed.
    static func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, endpoint: String) throws(ProviderError) -> T {
        let contentType = response.header("Content-Type")?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw ProviderError(.malformed, "\(endpoint): expected application/json, got \(contentType.isEmpty ? "no content type" : contentType)", retryAfter: 5)
        }
        do {
            return try JSONDecoder.stripe.decode(T.self, from: Data(response.body))
        } catch {
            throw ProviderError(.malformed, "\(endpoint): undecodable answer (\(response.body.count) bytes): \(Self.describe(error))", retryAfter: 5)
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \(context.codingPath.map(\.stringValue).joined(separator: ".")).\(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let context):
            return "invalid JSON\(context.codingPath.isEmpty ? "" : " at " + context.codingPath.map(\.stringValue).joined(separator: "."))"
        default:
            return "\(error)"
        }
    }
}

extension JSONDecoder {
    static var stripe: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
