import Foundation
import RetryPlanner
import StatusServer

/// The admin socket's routes (`[daemon] admin_socket`, mode 0600 or 0660 with its group; the status
/// socket stays read-only). Each command is written to the store before it is answered, and is
/// idempotent: the same command again changes nothing.
///
/// | route | body | does |
/// |---|---|---|
/// | `POST /hold` | `{"charge": ID}` or `{"customer": ID}`, `"reason"`, `"until"` (RFC 3339, optional) | holds |
/// | `POST /release` | `{"charge": ID}` or `{"customer": ID}` | ends the hold, plans again |
/// | `POST /promise` | `{"charge": ID, "on": "YYYY-MM-DD"}` | holds until that day, then attempts |
/// | `GET /holds` | | the held charges |
///
/// Answers are JSON: `{"changed": [...], "unchanged": [...]}`, or `{"error": "..."}` with 400 (a bad
/// command) or 404 (nothing to act on).
enum AdminAPI {
    static func route(_ request: StatusRequest, engine: Engine, index: DueIndex) async -> StatusResponse {
        do {
            switch (request.method, request.path) {
            case ("GET", "/holds"), ("HEAD", "/holds"):
                let holds = try await engine.holds()
                return json(["holds": holds.map { h in
                    ["charge": h.charge, "customer": h.customer, "reason": h.reason, "since": rfc3339(h.since),
                     "until": h.until.map(rfc3339) as Any, "scope": h.scope] as [String: Any]
                }])
            case ("POST", "/hold"), ("POST", "/release"), ("POST", "/promise"):
                let body = try command(request.body)
                let outcome: AdminOutcome
                switch request.path {
                case "/hold":
                    let reason = (body["reason"] as? String) ?? ""
                    guard !reason.isEmpty else { return failure("a hold needs a reason", 400) }
                    var until: Int64? = nil
                    if let text = body["until"] as? String {
                        guard let t = parseTime(text) else { return failure("until: \"\(text)\" is not an RFC 3339 time such as 2026-12-24T09:00:00Z", 400) }
                        until = t
                    }
                    outcome = try await engine.hold(try target(body), reason: reason, until: until)
                case "/release":
                    outcome = try await engine.release(try target(body))
                default:
                    guard let charge = body["charge"] as? String, !charge.isEmpty else { return failure("a promise names a charge", 400) }
                    guard let text = body["on"] as? String, let date = parseDate(text) else {
                        return failure("on: expected a date YYYY-MM-DD, got \(body["on"].map { "\($0)" } ?? "nothing")", 400)
                    }
                    outcome = try await engine.promise(charge: charge, on: date)
                }
                if let invalid = outcome.invalid { return failure(invalid, 400) }
                index.push(contentsOf: outcome.due)
                if let refusal = outcome.refusal, outcome.changed.isEmpty && outcome.unchanged.isEmpty { return failure(refusal, 404) }
                return json(["changed": outcome.changed, "unchanged": outcome.unchanged])
            default:
                return failure("not found: POST /hold, /release or /promise; GET /holds", 404)
            }
        } catch let bad as BadCommand {
            return failure(bad.message, 400)
        } catch {
            return failure("store error: \(error)", 503)
        }
    }

    struct BadCommand: Error { var message: String }

    static func command(_ body: [UInt8]) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw BadCommand(message: "the body must be a JSON object")
        }
        return object
    }

    static func target(_ body: [String: Any]) throws -> HoldTarget {
        switch (body["charge"] as? String, body["customer"] as? String) {
        case (let c?, nil) where !c.isEmpty: return .charge(c)
        case (nil, let c?) where !c.isEmpty: return .customer(c)
        default: throw BadCommand(message: "name either a charge or a customer")
        }
    }

    /// `2026-12-24T09:00:00Z` or with an offset (`+01:00`), as an epoch second.
    static func parseTime(_ text: String) -> Int64? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970) }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text).map { Int64($0.timeIntervalSince1970) }
    }

    static func parseDate(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), d >= 1, d <= Civil.daysInMonth(year: y, month: m) else { return nil }
        return (y, m, d)
    }

    static func json(_ object: [String: Any]) -> StatusResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return StatusResponse(status: 200, contentType: "application/json", body: Array(data) + [10])
    }

    static func failure(_ message: String, _ status: Int) -> StatusResponse {
        var r = json(["error": message])
        r.status = status
        return r
    }
}
