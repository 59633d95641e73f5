import RetryPlanner

/// Human-readable descriptions of a configuration, for `relancectl check-config` and `config-diff`.
package enum ConfigSummary {
    static func d(_ s: Int64) -> String { DurationText.format(s) }

    static func window(_ w: TimeWindow?) -> String {
        guard let w else { return "none" }
        return "\(ClockText.format(minutes: Int(w.start)))-\(ClockText.format(minutes: Int(w.end)))"
    }

    static func calendar(_ c: CalendarRules) -> String {
        var paydays: [String] = []
        for day in 1...31 where c.payday.daysOfMonth & (1 << UInt32(day)) != 0 { paydays.append("\(day)") }
        if c.payday.lastBusinessDay { paydays.append("last business day") }
        for (i, name) in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].enumerated() where c.payday.weekdays & (1 << UInt8(i + 1)) != 0 {
            paydays.append("every \(name)")
        }
        let payday = paydays.isEmpty ? "none" : "\(paydays.joined(separator: ", ")) at \(ClockText.format(minutes: Int(c.payday.minuteOfDay))), at most \(d(c.payday.maxDelay)) later"
        return "quiet \(window(c.quietHours)), preferred \(window(c.preferredHours)), weekend \(c.weekend.key), paydays \(payday), jitter 0-\(d(c.jitter))"
    }

    static func match(_ m: SegmentMatch) -> String {
        if m.isCatchAll { return "every charge" }
        var parts: [String] = []
        if m.minAmount != nil || m.maxAmount != nil {
            parts.append("amount \(m.minAmount.map(String.init) ?? "0")..\(m.maxAmount.map(String.init) ?? "∞")")
        }
        if !m.currencies.isEmpty { parts.append("currency \(m.currencies.sorted().joined(separator: "|"))") }
        if !m.tiers.isEmpty { parts.append("tier \(m.tiers.sorted().joined(separator: "|"))") }
        if !m.tags.isEmpty { parts.append("tag \(m.tags.sorted().joined(separator: "|"))") }
        if !m.rails.isEmpty { parts.append("method \(m.rails.map(\.key).sorted().joined(separator: "|"))") }
        if !m.countries.isEmpty { parts.append("country \(m.countries.sorted().joined(separator: "|"))") }
        return parts.joined(separator: ", ")
    }

    static func classLine(_ cls: DeclineClass, _ p: ClassPolicy?) -> String {
        guard let p else { return "\(cls.key): never retried" }
        var text = "\(cls.key): ladder \(p.ladder.map(d).joined(separator: ", ")), at most \(p.maxAttempts)"
        if p.rotate { text += ", rotate at once" } else if p.rotateAfter > 0 { text += ", rotate after \(p.rotateAfter) on one method" }
        if p.alignToPayday { text += ", payday-aligned" }
        return text
    }

    static func rules(_ r: NetworkRules) -> [String] {
        [
            "Visa categories 2-4: at most \(r.visaReattemptLimit) reattempts per card in \(d(r.visaWindow))\(r.visaLimitForOtherNetworks ? " (also Amex, Discover, other brands)" : ""); never after category 1",
            "Mastercard: at most \(r.mastercardDeclineLimit) declines in \(d(r.mastercardDeclineWindow)), \(r.mastercardSameAmountLimit) same-amount attempts in \(d(r.mastercardSameAmountWindow)); never after MAC 03/21",
            "Mastercard waits: MAC 02 \(d(r.mac02Wait)); MAC 24-30 \(r.macRetryAfter.map(d).joined(separator: ", "))",
            "ACH: R01/R09 reinitiated at most \(r.achReinitiationLimit) times within \(d(r.achWindow)); R07/R08/R10 never",
            "SEPA: AM04/MS03 at most \(r.sepaRetryLimit) times within \(d(r.sepaWindow)); other reasons never",
            "Relance's own card attempts stop \(r.customerReserve) short of each card limit, for the customer's own attempts it has not seen yet",
            "Consent revoked (Visa R0/R1/R3, MAC 21, stop payment, ACH R07/R08/R10): stop every method of the customer",
        ]
    }

    /// `[store]` on one line (SQLite's file with `stateDir`); the URL never holds a password.
    static func store(_ s: StoreSettings, stateDir: String? = nil) -> String {
        var text = s.kind.rawValue
        if s.kind == .sqlite, let stateDir { text += " in \(stateDir)" }
        if let url = s.url { text += " at \(url)" + (s.passwordFile.isEmpty ? ", no password" : ", password from \(s.passwordFile)") }
        return "\(text); node \(s.nodeName), lease \(d(s.leaseSeconds))"
    }

    /// The readable summary `relancectl check-config` prints.
    package static func render(_ snapshot: ConfigSnapshot) -> String {
        let s = snapshot.settings
        var out: [String] = []
        out.append("configuration OK: \(snapshot.files.joined(separator: ", ")) (digest \(snapshot.digest))")
        out.append("daemon: state \(s.daemon.stateDir), spool \(s.daemon.spoolDir), socket \(s.daemon.statusSocket), poll every \(d(s.daemon.pollInterval)), \(s.daemon.workers) workers, time scale \(s.daemon.timeScale)x")
        out.append("store: " + store(s.store, stateDir: s.daemon.stateDir))
        var provider = "provider: \(s.provider.kind.rawValue)"
        if s.provider.kind == .stripe { provider += " at \(s.provider.apiBase), key from \(s.provider.apiKeyFile)" }
        provider += ", \(s.provider.requestsPerSecond) requests/s, timeouts \(d(s.provider.connectTimeout)) connect / \(d(s.provider.requestTimeout)) total"
        out.append(provider)
        out.append("time zones: customers' own, else \(s.defaultTimeZone)")
        out.append("network rules:")
        out += rules(s.policy.rules).map { "  - " + $0 }
        out.append("segments (first match wins):")
        for (i, seg) in s.policy.segments.enumerated() {
            out.append("  \(i + 1). \(seg.name): \(match(seg.match)); at most \(seg.maxAttempts) retries over \(d(seg.maxSpan)); then \(seg.endAction)")
            out.append("     calendar: \(calendar(seg.calendar))")
            for cls in DeclineClass.allCases where cls != .consentRevoked {
                out.append("     " + classLine(cls, seg.classes[cls]))
            }
        }
        out.append("notices: " + (s.notices.isEmpty ? "none" : s.notices.map { "\($0.name) after \(d($0.after)) (\($0.tone), \($0.channel))" }.joined(separator: "; ")))
        return out.joined(separator: "\n")
    }

    /// What would change in behaviour if `new` replaced `old`: one line per difference.
    package static func diff(old: ConfigSnapshot, new: ConfigSnapshot) -> [String] {
        var lines: [String] = []
        func cmp(_ what: String, _ a: String, _ b: String) { if a != b { lines.append("~ \(what): \(a) → \(b)") } }
        let o = old.settings, n = new.settings
        cmp("daemon", "\(o.daemon)", "\(n.daemon)")
        cmp("store (applied at restart)", store(o.store), store(n.store))
        cmp("provider", "\(o.provider.kind.rawValue) \(o.provider.apiBase) \(o.provider.requestsPerSecond)/s", "\(n.provider.kind.rawValue) \(n.provider.apiBase) \(n.provider.requestsPerSecond)/s")
        cmp("default time zone", o.defaultTimeZone, n.defaultTimeZone)
        for (a, b) in zip(rules(o.policy.rules), rules(n.policy.rules)) { cmp("network rule", a, b) }
        let oldNames = o.policy.segments.map(\.name), newNames = n.policy.segments.map(\.name)
        for name in oldNames where !newNames.contains(name) { lines.append("- segment \(name) removed") }
        for name in newNames where !oldNames.contains(name) {
            let seg = n.policy.segments.first { $0.name == name }!
            lines.append("+ segment \(name) added: \(match(seg.match)); at most \(seg.maxAttempts) retries over \(d(seg.maxSpan))")
        }
        if oldNames.filter(newNames.contains) != newNames.filter(oldNames.contains) {
            lines.append("~ segment order: \(oldNames.joined(separator: ", ")) → \(newNames.joined(separator: ", "))")
        }
        for a in o.policy.segments {
            guard let b = n.policy.segments.first(where: { $0.name == a.name }) else { continue }
            cmp("segment \(a.name) match", match(a.match), match(b.match))
            cmp("segment \(a.name) limits", "\(a.maxAttempts) retries over \(d(a.maxSpan)), then \(a.endAction)", "\(b.maxAttempts) retries over \(d(b.maxSpan)), then \(b.endAction)")
            cmp("segment \(a.name) calendar", calendar(a.calendar), calendar(b.calendar))
            for cls in DeclineClass.allCases where cls != .consentRevoked {
                cmp("segment \(a.name) \(cls.key)", classLine(cls, a.classes[cls]), classLine(cls, b.classes[cls]))
            }
        }
        cmp("notices", o.notices.map { "\($0.name)@\(d($0.after))" }.joined(separator: ","), n.notices.map { "\($0.name)@\(d($0.after))" }.joined(separator: ","))
        return lines
    }
}
