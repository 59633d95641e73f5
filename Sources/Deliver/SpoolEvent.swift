import Foundation

/// One event read from the spool: the CloudEvents envelope's fields Relance routes on, and the line as written.
package struct SpoolEvent: Sendable {
    package let id: String
    package let type: String
    package let subject: String
    /// `time`, in epoch seconds: the deliverer's clock.
    package let time: Int64
    package let customer: String
    /// The JSON line exactly as read (what a webhook receives).
    package let line: String

    /// The event's `data` object (decoded again on each call: events are kept as text).
    package var data: [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["data"] as? [String: Any] ?? [:]
    }

    /// `data.notice` of a notice or action_required event.
    package var notice: [String: Any]? { data["notice"] as? [String: Any] }

    /// Parses one spool line; a line that is not a Relance CloudEvent is refused with the reason.
    package static func parse(_ line: String) throws(DeliverError) -> SpoolEvent {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw DeliverError(.malformedEvent, "not a JSON object")
        }
        guard object["specversion"] as? String == "1.0" else { throw DeliverError(.malformedEvent, "specversion is not \"1.0\"") }
        guard let id = object["id"] as? String, !id.isEmpty else { throw DeliverError(.malformedEvent, "no id") }
        guard let type = object["type"] as? String, type.hasPrefix("relance.") else { throw DeliverError(.malformedEvent, "no relance.* type") }
        guard let timeText = object["time"] as? String, let time = RFC3339.parse(timeText) else {
            throw DeliverError(.malformedEvent, "time is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)")
        }
        guard let subject = object["subject"] as? String, !subject.isEmpty else { throw DeliverError(.malformedEvent, "no subject") }
        guard let data = object["data"] as? [String: Any], let customer = data["customer"] as? String, !customer.isEmpty else {
            throw DeliverError(.malformedEvent, "data.customer missing")
        }
        return SpoolEvent(id: id, type: type, subject: subject, time: time, customer: customer, line: line)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form every Relance event time takes.
package enum RFC3339 {
    package static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "Z") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard let y = number(0, 4), let m = number(5, 2), let d = number(8, 2), let hh = number(11, 2), let mm = number(14, 2),
              let ss = number(17, 2), (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 61 else { return nil }
        return days(year: y, month: m, day: d) * 86_400 + hh * 3_600 + mm * 60 + ss
    }

    package static func format(_ t: Int64) -> String {
        let (y, m, d) = civil(t >= 0 ? t / 86_400 : (t - 86_399) / 86_400)
        let s = ((t % 86_400) + 86_400) % 86_400
        return String(format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", y, m, d, s / 3_600, s / 60 % 60, s % 60)
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Year, month, day of a day number (`civil_from_days`).
    package static func civil(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
