import RetryPlanner

/// Reads the sections of `retry.toml` into ``Settings``, recording every mistake.
struct ConfigReader {
    let diagnostics: Diagnostics
    let zoneExists: (String) -> Bool
    static let day: Int64 = 86_400

    // MARK: Top level

    func read(root: Section, segments: [Section]) -> Settings {
        var s = Settings()
        if let t = root.table("daemon") { s.daemon = daemon(t) }
        if let t = root.table("store") { s.store = store(t) }
        if let t = root.table("provider") { s.provider = provider(t) }
        if let t = root.table("sandbox") { s.sandbox = sandbox(t) }
        if let t = root.table("network_rules") { s.policy.rules = networkRules(t) }
        var calendar = Policy.standard.segments[0].calendar
        if let t = root.table("calendar") {
            s.defaultTimeZone = t.string("time_zone", default: s.defaultTimeZone)
            if !zoneExists(s.defaultTimeZone) { t.error("time_zone", "unknown time zone \"\(s.defaultTimeZone)\" (not in the system tz database)") }
            calendar = self.calendar(t, base: calendar)
            t.finish()
        }
        if let t = root.table("notices") { notices(t, into: &s) }
        if let t = root.table("customer_action") {
            s.retryAfterUpdate = t.duration("retry_after_update", default: s.retryAfterUpdate, in: 0...7 * Self.day)
            t.finish()
        }
        if let t = root.table("learning") { s.policy.learning = learning(t) }
        deliverSections(root, into: &s)
        _ = root.strings("include")
        root.finish()
        if !segments.isEmpty {
            s.policy.segments = orderSegments(segments.map { segment($0, calendar: calendar) }, calendar: calendar)
        } else {
            s.policy.segments[0].calendar = calendar
        }
        return s
    }

    /// `[learning]`: the learned timing policy and its guardrails (docs/LEARNING.md).
    func learning(_ t: Section) -> LearningSettings {
        var l = LearningSettings()
        let mode = t.choice("mode", default: l.mode.rawValue, LearningMode.allCases.map(\.rawValue))
        l.mode = LearningMode(rawValue: mode) ?? l.mode
        l.exploration = t.share("exploration", default: l.exploration, in: 0...0.5)
        l.holdout = t.share("holdout", default: l.holdout, in: 0...0.5)
        if l.mode == .on && l.holdout == 0 {
            t.error("holdout", "must be above 0 when mode = \"on\": without a holdout the lift cannot be measured")
        }
        l.minSamples = t.int("min_samples", default: l.minSamples, in: 1...100_000)
        l.history = t.duration("history", default: l.history, in: 7 * Self.day...3_650 * Self.day)
        t.finish()
        return l
    }

    func daemon(_ t: Section) -> DaemonSettings {
        var d = DaemonSettings()
        d.stateDir = path(t, "state_dir", d.stateDir)
        d.spoolDir = path(t, "spool_dir", d.spoolDir)
        d.statusSocket = path(t, "status_socket", d.statusSocket)
        if d.statusSocket.utf8.count > 107 { t.error("status_socket", "a Unix socket path must be at most 107 bytes, got \(d.statusSocket.utf8.count)") }
        d.statusSocketGroup = t.string("status_socket_group", default: "")
        d.adminSocket = path(t, "admin_socket", d.adminSocket)
        if d.adminSocket.utf8.count > 107 { t.error("admin_socket", "a Unix socket path must be at most 107 bytes, got \(d.adminSocket.utf8.count)") }
        if d.adminSocket == d.statusSocket { t.error("admin_socket", "must differ from status_socket (the status socket stays read-only)") }
        d.adminSocketGroup = t.string("admin_socket_group", default: "")
        d.metricsListen = t.string("metrics_listen", default: "")
        if !d.metricsListen.isEmpty && !Self.isHostPort(d.metricsListen) {
            t.error("metrics_listen", "expected HOST:PORT such as \"127.0.0.1:9464\", got \"\(d.metricsListen)\"")
        }
        d.pollInterval = t.duration("poll_interval", default: d.pollInterval, in: 1...86_400)
        d.workers = t.int("workers", default: d.workers, in: 1...256)
        d.timeScale = t.int("time_scale", default: d.timeScale, in: 1...1_000_000)
        d.spoolBatchEvents = t.int("spool_batch_events", default: d.spoolBatchEvents, in: 1...100_000)
        d.spoolBatchMilliseconds = t.int("spool_batch_ms", default: d.spoolBatchMilliseconds, in: 1...60_000)
        d.spoolMinFreeBytes = t.int("spool_min_free_mb", default: d.spoolMinFreeBytes / 1_048_576, in: 0...1_048_576) * 1_048_576
        d.spoolCopies = spoolCopies(t, main: d.spoolDir)
        d.logLevel = t.choice("log_level", default: d.logLevel, ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        t.finish()
        return d
    }

    func path(_ t: Section, _ key: String, _ fallback: String) -> String {
        let p = t.string(key, default: fallback)
        if p.isEmpty { t.error(key, "must not be empty") }
        if p.contains("\0") { t.error(key, "must not contain a NUL byte") }
        return p
    }

    static func isHostPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return false }
        return (1...65_535).contains(port) && colon != text.startIndex
    }

    func provider(_ t: Section) -> ProviderSettings {
        var p = ProviderSettings()
        let kind = t.choice("kind", default: p.kind.rawValue, ProviderSettings.Kind.allCases.map(\.rawValue))
        p.kind = ProviderSettings.Kind(rawValue: kind) ?? .sandbox
        p.apiBase = t.string("api_base", default: p.apiBase)
        if !(p.apiBase.hasPrefix("https://") || Self.isLoopbackHTTP(p.apiBase)) {
            t.error("api_base", "must be an https:// URL (plain http only on loopback), got \"\(p.apiBase)\"")
        }
        p.apiKeyFile = t.string("api_key_file", default: "")
        if p.apiKeyFile.hasPrefix("sk_") || p.apiKeyFile.hasPrefix("rk_") {
            t.error("api_key_file", "looks like an API key: give the path of a file holding it (or a systemd credential name), never the key itself")
        } else if p.kind == .stripe && p.apiKeyFile.isEmpty {
            t.error("api_key_file", "is required when kind = \"stripe\" (a path, or a LoadCredential= name)")
        }
        if t.has("api_key") || t.has("secret_key") {
            t.error(t.has("api_key") ? "api_key" : "secret_key", "secrets are never accepted inline: put the key in a file and set api_key_file")
            _ = t.string("api_key", default: "")
            _ = t.string("secret_key", default: "")
        }
        p.requestsPerSecond = t.int("requests_per_second", default: p.requestsPerSecond, in: 1...10_000)
        p.maxNetworkRetries = t.int("max_network_retries", default: p.maxNetworkRetries, in: 0...10)
        p.connectTimeout = t.duration("connect_timeout", default: p.connectTimeout, in: 1...300)
        p.requestTimeout = t.duration("request_timeout", default: p.requestTimeout, in: 1...600)
        p.maxResponseBytes = t.int("max_response_bytes", default: p.maxResponseBytes, in: 1_024...1_073_741_824)
        t.finish()
        return p
    }

    static func isLoopbackHTTP(_ url: String) -> Bool {
        ["http://127.", "http://localhost:", "http://localhost/", "http://[::1]"].contains { url.hasPrefix($0) } || url == "http://localhost"
    }

    func sandbox(_ t: Section) -> SandboxSettings {
        var s = SandboxSettings()
        s.seed = t.int("seed", default: s.seed, in: 0...Int(Int32.max))
        s.customers = t.int("customers", default: s.customers, in: 1...10_000_000)
        s.failuresPerDay = t.int("failures_per_day", default: s.failuresPerDay, in: 0...10_000_000)
        s.outOfBandPercent = t.int("out_of_band_percent", default: s.outOfBandPercent, in: 0...100)
        t.finish()
        return s
    }

    // MARK: Network rules

    func networkRules(_ t: Section) -> NetworkRules {
        var r = NetworkRules()
        let d = Self.day
        r.visaReattemptLimit = t.int("visa_reattempt_limit", default: r.visaReattemptLimit, in: 1...20, why: "Visa allows at most 20")
        r.visaWindow = t.duration("visa_window", default: r.visaWindow, in: 30 * d...365 * d, why: "Visa counts over at least 30 days")
        r.visaLimitForOtherNetworks = t.bool("visa_limit_for_other_networks", default: r.visaLimitForOtherNetworks)
        r.mastercardDeclineLimit = t.int("mastercard_decline_limit", default: r.mastercardDeclineLimit, in: 1...10, why: "Mastercard allows at most 10 declines in 24 hours")
        r.mastercardDeclineWindow = t.duration("mastercard_decline_window", default: r.mastercardDeclineWindow, in: d...30 * d, why: "Mastercard counts over at least 24 hours")
        r.mastercardSameAmountLimit = t.int("mastercard_same_amount_limit", default: r.mastercardSameAmountLimit, in: 1...35, why: "Mastercard allows at most 35")
        r.mastercardSameAmountWindow = t.duration("mastercard_same_amount_window", default: r.mastercardSameAmountWindow, in: 30 * d...365 * d, why: "Mastercard counts over at least 30 days")
        r.mac02Wait = t.duration("mac02_wait", default: r.mac02Wait, in: d...30 * d, why: "MAC 02 means try again later; acquirers advise 72h")
        let minimums: [Int64] = [3_600, d, 2 * d, 4 * d, 6 * d, 8 * d, 10 * d]
        let waits = t.durations("mac_retry_after", default: r.macRetryAfter, in: 0...60 * d)
        if waits.count != 7 {
            t.error("mac_retry_after", "needs exactly 7 waits, for MAC 24, 25, 26, 27, 28, 29 and 30; got \(waits.count)")
        } else {
            var ok = true
            for (i, w) in waits.enumerated() where w < minimums[i] {
                t.error("mac_retry_after[\(i)]", "MAC \(24 + i) asks to wait at least \(DurationText.format(minimums[i])), got \(DurationText.format(w))")
                ok = false
            }
            if ok { r.macRetryAfter = waits }
        }
        r.achReinitiationLimit = t.int("ach_reinitiation_limit", default: r.achReinitiationLimit, in: 0...2, why: "Nacha allows at most 2 reinitiations")
        r.achWindow = t.duration("ach_window", default: r.achWindow, in: d...180 * d, why: "Nacha allows reinitiation within 180 days")
        r.sepaRetryLimit = t.int("sepa_retry_limit", default: r.sepaRetryLimit, in: 0...2, why: "at most 2 SEPA re-presentations")
        r.sepaWindow = t.duration("sepa_window", default: r.sepaWindow, in: d...42 * d, why: "SEPA re-presentation within 42 days")
        r.customerReserve = t.int("customer_reserve", default: r.customerReserve, in: 0...5, why: "headroom under each card limit; more than 5 wastes most of Mastercard's 10")
        t.finish()
        return r
    }

    // MARK: Calendar

    static let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// Reads calendar keys over `base` (the global `[calendar]` for a segment's override).
    func calendar(_ t: Section, base: CalendarRules) -> CalendarRules {
        var c = base
        c.quietHours = window(t, "quiet_hours", base.quietHours)
        c.preferredHours = window(t, "preferred_hours", base.preferredHours)
        let weekend = t.choice("weekend", default: base.weekend.key, WeekendRule.allCases.map(\.key))
        c.weekend = WeekendRule(key: weekend) ?? base.weekend
        if t.has("paydays") {
            c.payday.daysOfMonth = PaydayRule.days(t.ints("paydays", in: 1...31))
        } else {
            _ = t.ints("paydays", in: 1...31)
        }
        c.payday.lastBusinessDay = t.bool("payday_last_business_day", default: base.payday.lastBusinessDay)
        if t.has("payday_weekdays") {
            var mask: UInt8 = 0
            for (i, name) in t.strings("payday_weekdays").enumerated() {
                if let w = Self.weekdays.firstIndex(of: name.lowercased()) {
                    mask |= 1 << UInt8(w + 1)
                } else {
                    t.error("payday_weekdays[\(i)]", "must be one of \(Self.weekdays.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(name)\"")
                }
            }
            c.payday.weekdays = mask
        } else {
            _ = t.strings("payday_weekdays")
        }
        c.payday.maxDelay = t.duration("payday_max_delay", default: base.payday.maxDelay, in: 3_600...14 * Self.day)
        let time = t.string("payday_time", default: ClockText.format(minutes: Int(base.payday.minuteOfDay)))
        if let m = ClockText.minutes(time) {
            c.payday.minuteOfDay = UInt16(m)
        } else {
            t.error("payday_time", "expected a local time HH:MM such as \"07:00\", got \"\(time)\"")
        }
        c.jitter = t.duration("jitter", default: base.jitter, in: 0...6 * 3_600)
        validate(c, t)
        return c
    }

    func window(_ t: Section, _ key: String, _ fallback: TimeWindow?) -> TimeWindow? {
        let fallbackText = fallback.map { "\(ClockText.format(minutes: Int($0.start)))-\(ClockText.format(minutes: Int($0.end)))" } ?? ""
        let text = t.string(key, default: fallbackText)
        if text.isEmpty { return nil }
        guard let w = ClockText.window(text) else {
            t.error(key, "expected a local time window HH:MM-HH:MM such as \"22:00-07:00\" (or \"\" for none), got \"\(text)\"")
            return fallback
        }
        if w.start == w.end {
            t.error(key, "\"\(text)\" covers the whole day")
            return fallback
        }
        return TimeWindow(start: w.start, end: w.end)
    }

    /// Quiet and preferred hours must leave some minute of the day for attempts.
    func validate(_ c: CalendarRules, _ t: Section) {
        var open = 0
        for minute in 0..<1_440 {
            let quiet = c.quietHours?.contains(minute) ?? false
            let preferred = c.preferredHours?.contains(minute) ?? true
            if !quiet && preferred { open += 1 }
        }
        if open == 0 {
            t.error(t.has("preferred_hours") ? "preferred_hours" : "quiet_hours", "quiet_hours and preferred_hours leave no time of day for an attempt")
        }
    }

    // MARK: Notices

    /// `[notices]`: the global ladder and the default locale.
    func notices(_ t: Section, into s: inout Settings) {
        s.defaultLocale = t.string("default_locale", default: s.defaultLocale)
        if s.defaultLocale.isEmpty { t.error("default_locale", "must not be empty (a BCP 47 tag such as \"fr-FR\")") }
        s.notices = noticeLevels(t)
    }

    /// The `[[level]]` tables of a notices table (global or a segment's), each checked.
    func noticeLevels(_ t: Section) -> [NoticeLevel] {
        let levels = t.tables("level")
        t.finish()
        if levels.isEmpty { return [] }
        var result: [NoticeLevel] = []
        var names = Set<String>()
        for level in levels {
            let name = level.string("name", default: "")
            if name.isEmpty { level.error("name", "missing key \"name\"") }
            if !names.insert(name).inserted { level.error("name", "duplicate notice level \"\(name)\"") }
            let after = level.duration("after", default: 0, in: 0...400 * Self.day)
            if !level.has("after") { level.error("after", "missing key \"after\"") }
            let tone = level.choice("tone", default: "friendly", ["friendly", "helpful", "firm", "formal", "final"])
            let channel = level.choice("channel", default: "email", ["email", "sms", "letter", "phone", "in_app"])
            let template = level.string("template", default: name)
            let given = level.string("locale", default: "")
            let locale: String? = given.isEmpty ? nil : given
            if given.isEmpty && level.has("locale") { level.error("locale", "must not be empty (leave it out for the customer's locale)") }
            let on = NoticeLevel.Trigger(rawValue: level.choice("on", default: "failure", ["failure", "paid"])) ?? .failure
            let afterExhausted = level.bool("after_exhausted", default: false)
            if on == .paid && afterExhausted { level.error("after_exhausted", "a level on \"paid\" is not about retries; remove after_exhausted") }
            if let previous = result.last(where: { $0.on == on }), after <= previous.after {
                level.error("after", "must come after the previous level \"\(previous.name)\" (\(DurationText.format(previous.after))), got \(DurationText.format(after))")
            }
            level.finish()
            result.append(NoticeLevel(name: name, after: after, tone: tone, channel: channel, template: template, locale: locale,
                                      afterExhausted: afterExhausted, on: on))
        }
        return result
    }
}
