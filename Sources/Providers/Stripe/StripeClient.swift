import Foundation
import HTTPTransport
import Synchronization

/// Stripe's HTTP conventions: bearer key, pinned version, form bodies, JSON answers, and errors
/// mapped to `ProviderError`.
///
/// Each request is retried in the client as Stripe's own libraries do (stripe-go, stripe-python):
/// up to `maxRetries` times, after 0.5 s doubling up to 5 s with jitter (or a shorter `Retry-After`),
/// with the same idempotency key for a POST.
///
/// | answer | what the client does | error kind when given up |
/// |---|---|---|
/// | `Stripe-Should-Retry: true` / `false` | retries / does not, whatever the status | |
/// | connection refused or reset, timeout | retries | `transient` / `timeout` |
/// | 409, 429 `lock_timeout`, 5xx | retries | `transient` |
/// | 429 rate limit | every later request waits `Retry-After` (else 2 s); not retried here | `transient`, holds the provider |
/// | 401, 403 | | `unauthorized` (Stripe's text is not kept: it quotes the key) |
/// | not JSON, truncated, too large, missing fields | | `malformed` |
final class StripeClient: Sendable {
    static let apiVersion = "2024-12-18.acacia"

    let transport: HTTPTransport
    let base: String
    let authorization: String
    let holdUntil = Mutex<Double>(0)
    /// `[provider] requests_per_second`, over every request (polls, guards, pays, and their retries).
    let pacer: RateWindow
    /// The account's limit kept with the other nodes of a shared database, when there are.
    let shared = Mutex<(any SharedRateLimit)?>(nil)
    /// `[provider] max_network_retries`.
    let maxRetries: Int
    /// The first retry's delay (seconds); doubled each time, capped at `maxRetryDelay`.
    let retryDelay: Double
    let maxRetryDelay: Double
    /// `[provider] max_response_bytes`.
    let maxResponseBytes: Int
    /// Page sizes of lists whose pages came back larger than `maxResponseBytes`, by endpoint, and how
    /// many pages were read at that size since (see `paged`).
    let pageSizes = Mutex<[String: (size: Int, pages: Int)]>([:])
    /// What a smaller page size has to tell the operator, taken by the poller.
    let notes = Mutex<[String]>([])

    init(base: String, apiKey: String, requestsPerSecond: Int, maxRetries: Int = 2, retryDelay: Double = 0.5,
         connectTimeout: Double, requestTimeout: Double, maxResponseBytes: Int, rateOpensAfter: Double = 0) throws(ProviderError) {
        pacer = RateWindow(rate: requestsPerSecond, opensAfter: rateOpensAfter)
        self.maxRetries = max(0, maxRetries)
        self.retryDelay = retryDelay
        self.maxRetryDelay = retryDelay * 10
        self.maxResponseBytes = maxResponseBytes
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

    /// GET that answers nil for 404, and for a 400 `resource_missing` (a list whose `ending_before`
    /// names an object Stripe no longer keeps, such as an event older than 30 days).
    func findOrMissing<T: Decodable>(_ path: String, query: [(String, String)] = [], endpoint: String, as type: T.Type) async throws(ProviderError) -> T? {
        let url = base + path + (query.isEmpty ? "" : "?" + Self.form(query))
        let response = try await send(HTTPRequest(method: "GET", url: url, headers: headers(idempotencyKey: nil)), endpoint: endpoint)
        if response.status == 404 { return nil }
        if response.status == 400, (try? JSONDecoder.stripe.decode(StripeErrorEnvelope.self, from: Data(response.body)))?.error.code == "resource_missing" {
            return nil
        }
        guard (200..<300).contains(response.status) else { throw Self.failure(response, endpoint: endpoint) }
        return try Self.decode(T.self, response, endpoint: endpoint)
    }

    /// POST a form; returns the raw answer, whatever its status, for the caller to interpret, and
    /// whether a try before it may have run at Stripe (a timeout, a 5xx, a 409).
    func post(_ path: String, form: [(String, String)], idempotencyKey: String, endpoint: String) async throws(ProviderError) -> (HTTPResponse, mayHaveRun: Bool) {
        var headers = headers(idempotencyKey: idempotencyKey)
        headers.append((name: "Content-Type", value: "application/x-www-form-urlencoded"))
        var mayHaveRun = false
        let response = try await send(HTTPRequest(method: "POST", url: base + path, headers: headers, body: Array(Self.form(form).utf8)), endpoint: endpoint,
                                      mayHaveRun: &mayHaveRun)
        return (response, mayHaveRun)
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

    /// Sends after any shared backoff and within the rate limit, retrying as the table above says;
    /// records each request's count and latency and each retry's reason.
    func send(_ request: HTTPRequest, endpoint: String) async throws(ProviderError) -> HTTPResponse {
        var mayHaveRun = false
        return try await send(request, endpoint: endpoint, mayHaveRun: &mayHaveRun)
    }

    /// `mayHaveRun`: set when a try that is sent again may have run at Stripe (an answer lost, a 5xx,
    /// a 409); a connection refused, a 429 (rate limit or lock timeout) did not.
    func send(_ request: HTTPRequest, endpoint: String, mayHaveRun: inout Bool) async throws(ProviderError) -> HTTPResponse {
        var retries = 0
        // A caller that took the slots itself (a read right before a POST, and the POST) sends each
        // first try at once; every other request takes its own.
        var admitted = RequestSlot.held?.spend() ?? false
        while true {
            // A 429 met since the slot was taken holds this request too. A POST is then not sent (waiting
            // would send it long after the reads that checked it); a read waits like any other.
            if admitted, holdUntil.withLock({ $0 }) > Date().timeIntervalSince1970 {
                if request.method == "POST" {
                    throw ProviderError(.transient, "\(endpoint): the provider asked to wait (a 429's Retry-After) since the checks; not sent",
                                        retryAfter: holdUntil.withLock { $0 } - Date().timeIntervalSince1970, unsent: true)
                }
                admitted = false
            }
            if !admitted { await admit() }
            admitted = false
            let started = ContinuousClock.now
            let result: Result<HTTPResponse, HTTPError>
            do {
                let response = try await transport.send(request)
                ProviderMetrics.record(endpoint: endpoint, status: String(response.status), since: started)
                result = .success(response)
            } catch {
                ProviderMetrics.record(endpoint: endpoint, status: "error", since: started)
                result = .failure(error)
            }
            if retries < maxRetries, !Task.isCancelled, RequestSlot.held?.mayRetry() ?? true, let (reason, after) = Self.retryReason(result) {
                retries += 1
                if reason != "lock_timeout" && !(reason == "network" && Self.neverConnected(result)) { mayHaveRun = true }
                ProviderMetrics.retried(endpoint: endpoint, reason: reason)
                let delay = backoff(retries, retryAfter: after)
                do { try await Task.sleep(for: .milliseconds(Int64(delay * 1_000))) } catch { break }
                continue
            }
            switch result {
            case .success(let response):
                if response.status == 429 && !Self.isLockTimeout(response) && response.header("Stripe-Should-Retry")?.lowercased() != "true" {
                    let wait = Self.retryAfter(response)
                    holdUntil.withLock { $0 = max($0, Date().timeIntervalSince1970 + wait) }
                }
                return response
            case .failure(let error):
                switch error.kind {
                case .timeout: throw ProviderError(.timeout, "\(endpoint): \(error.message)", retryAfter: 5)
                case .tooLarge:
                    throw ProviderError(.malformed, "\(endpoint): answer larger than the response limit ([provider] max_response_bytes = \(maxResponseBytes))",
                                        retryAfter: 5, oversized: true)
                default: throw ProviderError(.transient, "\(endpoint): \(error.message)", retryAfter: 1)
                }
            }
        }
        throw ProviderError(.transient, "\(endpoint): cancelled", retryAfter: 1)
    }

    /// Waits for any shared backoff (a rate-limit 429) and a slot in the rate limit. The hold is
    /// checked again once the slot is there: a 429 answered while this request waited holds it too.
    func admit(count: Int = 1) async {
        while true {
            let hold = holdUntil.withLock { $0 } - Date().timeIntervalSince1970
            if hold > 0 {
                try? await Task.sleep(for: .milliseconds(Int64(min(hold, 0.3) * 1_000)))
            }
            await pacer.acquire(shared: shared.withLock { $0 }, count: count)
            if Task.isCancelled || holdUntil.withLock({ $0 }) <= Date().timeIntervalSince1970 { return }
        }
    }

    /// Why a request is sent again, and the `Retry-After` it carried; nil when it is not.
    static func retryReason(_ result: Result<HTTPResponse, HTTPError>) -> (String, Double?)? {
        switch result {
        case .failure(let error):
            switch error.kind {
            case .timeout: return ("timeout", nil)
            case .connect, .transport: return ("network", nil)
            default: return nil
            }
        case .success(let response):
            // A saved answer replayed under its idempotency key comes back the same however often it is asked.
            if response.header("Idempotent-Replayed")?.lowercased() == "true" { return nil }
            let after = response.header("Retry-After").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            switch response.header("Stripe-Should-Retry")?.lowercased() {
            case "true": return ("should_retry", after)
            case "false": return nil
            default: break
            }
            if response.status == 409 { return ("conflict", after) }
            if response.status == 429 && isLockTimeout(response) { return ("lock_timeout", after) }
            if response.status >= 500 { return ("server_error", after) }
            return nil
        }
    }

    static func neverConnected(_ result: Result<HTTPResponse, HTTPError>) -> Bool {
        if case .failure(let error) = result { return error.kind == .connect }
        return false
    }

    static func isLockTimeout(_ response: HTTPResponse) -> Bool {
        (try? JSONDecoder.stripe.decode(StripeErrorEnvelope.self, from: Data(response.body)))?.error.code == "lock_timeout"
    }

    /// The delay before retry `n` (1-based): `retryDelay` doubling, capped, with up to 25 % jitter off;
    /// a `Retry-After` within the cap is honoured when longer.
    func backoff(_ n: Int, retryAfter: Double?) -> Double {
        var delay = min(retryDelay * Double(1 << min(n - 1, 16)), maxRetryDelay)
        delay *= 1 - Double.random(in: 0..<0.25)
        if let retryAfter, retryAfter <= maxRetryDelay { delay = max(delay, retryAfter) }
        return max(delay, retryDelay / 2)
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
        // Stripe's text for a rejected key quotes the key (masked, but with its last four characters): not kept.
        case 401: return ProviderError(.unauthorized, "\(endpoint): HTTP 401: the API key was rejected")
        case 403: return ProviderError(.unauthorized, "\(endpoint): HTTP 403: the API key lacks the permission for this request")
        case 429 where !isLockTimeout(response):
            return ProviderError(.transient, "\(endpoint): HTTP 429: rate limited", retryAfter: retryAfter(response), holdsProvider: true)
        case 409, 429, 500...: return ProviderError(.transient, "\(endpoint): HTTP \(response.status): \(message)", retryAfter: retryAfter(response))
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
