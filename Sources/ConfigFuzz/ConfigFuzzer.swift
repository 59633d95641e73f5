import RelanceConfig

/// Feeds random and mutated `retry.toml` texts to the loader: it must always return either a
/// config or errors, never crash or hang. Deterministic for a seed.
package struct ConfigFuzzer {
    package struct Report: Sendable, CustomStringConvertible {
        package var inputs = 0
        package var configs = 0
        package var errors = 0
        /// Error reports with no issue, or issues with an empty message: a loader bug.
        package var emptyErrors = 0
        package init() {}
        package var description: String {
            "inputs=\(inputs) configs=\(configs) errors=\(errors) empty_errors=\(emptyErrors)"
        }
    }

    var state: UInt64
    let seedTexts: [String]
    let vocabulary: [String]
    let values: [String]

    package init(seed: UInt64, seedTexts: [String]) {
        self.state = seed
        self.seedTexts = seedTexts.isEmpty ? [""] : seedTexts
        self.vocabulary = [
            "daemon", "provider", "sandbox", "network_rules", "calendar", "segment", "notices", "level", "match",
            "retry_later", "use_another_method", "customer_must_act", "never_retry", "check_first", "consent_revoked",
            "state_dir", "workers", "time_scale", "poll_interval", "kind", "api_key_file", "api_key", "visa_reattempt_limit",
            "mac_retry_after", "quiet_hours", "preferred_hours", "weekend", "paydays", "payday_weekdays", "time_zone",
            "name", "priority", "ladder", "max_attempts", "max_span", "rotate", "amount_min", "amount_max", "currencies",
            "include", "after", "tone", "jitter", "store", "url", "password_file", "password", "node_name", "lease",
        ]
        self.values = [
            "0", "-1", "1", "20", "21", "99999999999999999999", "3.5", "true", "false", "\"\"", "\"3d\"", "\"1h30m\"",
            "\"22:00-07:00\"", "\"07:00-07:00\"", "\"Europe/Paris\"", "\"../../etc/passwd\"", "\"sk_live_x\"", "[]",
            "[\"1d\", \"2d\"]", "[1, 15, 31]", "[[]]", "{}", "{ a = 1 }", "1979-05-27T07:32:00Z", "\"stripe\"",
            "\"\\u0000\"", "'''\nmulti\n'''", "nan", "inf", "[\"mon\", \"fri\"]",
            "\"postgresql\"", "\"postgresql://relance@db:5432/relance?sslmode=require\"", "\"postgres://u:pw@h/d\"",
            "\"postgresql://%2Frun%2Fpg/x?host=/y&port=0\"",
        ]
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    /// One input: a mutated seed file, a generated document, or noise.
    package mutating func input() -> String {
        switch below(10) {
        case 0..<6: return mutate(seedTexts[below(seedTexts.count)])
        case 6..<9: return generate()
        default: return noise()
        }
    }

    mutating func mutate(_ text: String) -> String {
        var bytes = Array(text.utf8)
        let specials: [UInt8] = Array("[]{}=\"'#.,\n\\ 0123456789-:".utf8)
        for _ in 0..<(1 + below(8)) {
            guard !bytes.isEmpty else { bytes = Array("x".utf8); continue }
            let at = below(bytes.count)
            switch below(7) {
            case 0: bytes[at] = specials[below(specials.count)]
            case 1: bytes.remove(at: at)
            case 2: bytes.insert(specials[below(specials.count)], at: at)
            case 3: bytes[at] = UInt8(truncatingIfNeeded: next())
            case 4:
                // Duplicate a line.
                let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                let line = lines[below(lines.count)]
                bytes.insert(contentsOf: Array((line + "\n").utf8), at: at)
            case 5:
                // Replace a value after '='.
                if let eq = bytes[at...].firstIndex(of: UInt8(ascii: "=")), let end = bytes[eq...].firstIndex(of: 10) {
                    bytes.replaceSubrange((eq + 1)..<end, with: Array((" " + values[below(values.count)]).utf8))
                }
            default:
                // Truncate.
                bytes.removeSubrange(at..<bytes.count)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func generate() -> String {
        var out = ""
        for _ in 0..<(1 + below(12)) {
            switch below(4) {
            case 0: out += "[\(vocabulary[below(vocabulary.count)])]\n"
            case 1: out += "[[\(vocabulary[below(vocabulary.count)])]]\n"
            case 2: out += "[\(vocabulary[below(vocabulary.count)]).\(vocabulary[below(vocabulary.count)])]\n"
            default: break
            }
            for _ in 0..<below(6) {
                out += "\(vocabulary[below(vocabulary.count)]) = \(values[below(values.count)])\n"
            }
        }
        return out
    }

    mutating func noise() -> String {
        let count = below(400)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for _ in 0..<count { bytes.append(UInt8(truncatingIfNeeded: next())) }
        if below(2) == 0 { bytes = bytes.map { $0 & 0x7f } }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs `count` inputs through the loader.
    package mutating func run(count: Int, before: (String) -> Void = { _ in }) -> Report {
        var report = Report()
        for _ in 0..<count {
            let text = input()
            before(text)
            report.inputs += 1
            do {
                _ = try ConfigLoader.load(text: text, file: "fuzz.toml", read: { _ in nil })
                report.configs += 1
            } catch {
                report.errors += 1
                if error.issues.isEmpty || error.issues.contains(where: { $0.message.isEmpty }) { report.emptyErrors += 1 }
            }
        }
        return report
    }
}
