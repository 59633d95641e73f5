import RetryPlanner

/// A small, fast JSON object writer for events (the spool's hot path).
struct JSONWriter {
    private(set) var text: String
    private var first = true

    /// `capacity`: the expected length, reserved at once (events are a few hundred bytes).
    init(capacity: Int = 0) {
        text = "{"
        if capacity > 0 { text.reserveCapacity(capacity) }
    }

    static func escape(_ s: String, into out: inout String) {
        out.append("\"")
        // Most values (ids, codes, times) need no escaping: append them whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out.append(s)
            out.append("\"")
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out.append("\"")
    }

    /// Keys are the program's own literals: plain ASCII that needs no escaping.
    private mutating func key(_ k: StaticString) {
        text.append(first ? "\"" : ",\"")
        first = false
        k.withUTF8Buffer { text.append(String(decoding: $0, as: UTF8.self)) }
        text.append("\":")
    }

    mutating func string(_ k: StaticString, _ v: String?) {
        guard let v else { return }
        key(k)
        Self.escape(v, into: &text)
    }

    mutating func int(_ k: StaticString, _ v: Int64?) {
        guard let v else { return }
        key(k)
        text.append(String(v))
    }

    /// A nested object (already rendered).
    mutating func object(_ k: StaticString, _ v: JSONWriter?) {
        guard let v else { return }
        key(k)
        text.append(v.text)
        text.append("}")
    }

    /// Starts a nested object written in place; `close()` ends it.
    mutating func open(_ k: StaticString) {
        key(k)
        text.append("{")
        first = true
    }

    mutating func close() {
        text.append("}")
        first = false
    }

    var finished: String { text + "}" }

    /// The finished text, without a copy.
    consuming func finish() -> String {
        text.append("}")
        return text
    }
}

/// RFC 3339 UTC time of an epoch second.
func rfc3339(_ t: Int64) -> String { Civil.rfc3339(t) }
