import Foundation
import RelanceConfig
import RetryPlanner
import Testing

/// Loads text and returns every issue's full message (file:line:col: path: message).
func issues(_ text: String, file: String = "retry.toml") -> [String] {
    do {
        _ = try ConfigLoader.load(text: text, file: file, read: { _ in nil })
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

func load(_ text: String) throws -> ConfigSnapshot {
    try ConfigLoader.load(text: text, file: "retry.toml", read: { _ in nil })
}

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("retry.toml")
struct ConfigTests {
    @Test func shippedFileValidatesAndEqualsTheEmbeddedDefaults() throws {
        let snapshot = try ConfigLoader.load(path: repoRoot.appendingPathComponent("config/retry.toml").path)
        #expect(snapshot.settings == Settings())
        #expect(snapshot.settings.policy == Policy.standard)
    }

    @Test func emptyFileIsTheEmbeddedDefaults() throws {
        #expect(try load("").settings == Settings())
    }

    @Test func syntaxErrorHasLineAndColumn() {
        let found = issues("[daemon]\nworkers = = 4\n")
        #expect(found.count == 1)
        #expect(found[0].hasPrefix("retry.toml:2:11: TOML syntax error: "))
    }

    @Test func unknownKeysAreErrorsWithSuggestions() {
        #expect(issues("[daemon]\nworkerz = 4\n") == [#"retry.toml:2:1: daemon.workerz: unknown key "workerz"; did you mean "workers"?"#])
        #expect(issues("[deamon]\nworkers = 4\n") == [#"retry.toml:1:1: deamon: unknown key "deamon"; did you mean "daemon"?"#])
        #expect(issues("[network_rules]\nfrobnicate = 1\n") == [#"retry.toml:2:1: network_rules.frobnicate: unknown key "frobnicate""#])
    }

    @Test func wrongTypes() {
        #expect(issues("[daemon]\nworkers = \"four\"\n") == [#"retry.toml:2:1: daemon.workers: expected an integer, found a string"#])
        #expect(issues("[network_rules]\nvisa_limit_for_other_networks = 1\n") == [#"retry.toml:2:1: network_rules.visa_limit_for_other_networks: expected a boolean (true or false), found an integer"#])
        #expect(issues("daemon = 3\n") == [#"retry.toml:1:1: daemon: expected a table, found an integer"#])
        #expect(issues("[[segment]]\nname = \"a\"\n[segment.retry_later]\nladder = [\"1d\", 2.5]\n") == [#"retry.toml:4:1: segment[0].retry_later.ladder[1]: expected a duration string such as "3d", found a floating-point number"#])
    }

    @Test func outOfRangeValuesNameTheRule() throws {
        #expect(issues("[network_rules]\nvisa_reattempt_limit = 25\n") == [#"retry.toml:2:1: network_rules.visa_reattempt_limit: must be between 1 and 20 (Visa allows at most 20), got 25"#])
        #expect(issues("[network_rules]\ncustomer_reserve = 6\n") == [#"retry.toml:2:1: network_rules.customer_reserve: must be between 0 and 5 (headroom under each card limit; more than 5 wastes most of Mastercard's 10), got 6"#])
        #expect(try load("[network_rules]\ncustomer_reserve = 0\n").policy.rules.customerReserve == 0)
        #expect(issues("[network_rules]\nmastercard_decline_limit = 11\n") == [#"retry.toml:2:1: network_rules.mastercard_decline_limit: must be between 1 and 10 (Mastercard allows at most 10 declines in 24 hours), got 11"#])
        #expect(issues("[network_rules]\nach_reinitiation_limit = 3\n") == [#"retry.toml:2:1: network_rules.ach_reinitiation_limit: must be between 0 and 2 (Nacha allows at most 2 reinitiations), got 3"#])
        #expect(issues("[network_rules]\nmac_retry_after = [\"1h\", \"24h\", \"1d\", \"4d\", \"6d\", \"8d\", \"10d\"]\n") == [#"retry.toml:2:1: network_rules.mac_retry_after[2]: MAC 26 asks to wait at least 2d, got 1d"#])
        #expect(issues("[network_rules]\nmac_retry_after = [\"1h\"]\n") == [#"retry.toml:2:1: network_rules.mac_retry_after: needs exactly 7 waits, for MAC 24, 25, 26, 27, 28, 29 and 30; got 1"#])
        #expect(issues("[daemon]\nworkers = 0\n") == [#"retry.toml:2:1: daemon.workers: must be between 1 and 256, got 0"#])
        #expect(issues("[daemon]\npoll_interval = \"3x\"\n") == [#"retry.toml:2:1: daemon.poll_interval: "3x" is not a duration (use 90s, 15m, 72h, 3d, 2w or 1h30m)"#])
    }

    @Test func impossibleCalendars() {
        #expect(issues("[calendar]\nquiet_hours = \"07:00-07:00\"\n") == [#"retry.toml:2:1: calendar.quiet_hours: "07:00-07:00" covers the whole day"#])
        #expect(issues("[calendar]\nquiet_hours = \"22:00-07:00\"\npreferred_hours = \"23:00-06:00\"\n") == [#"retry.toml:3:1: calendar.preferred_hours: quiet_hours and preferred_hours leave no time of day for an attempt"#])
        #expect(issues("[calendar]\nquiet_hours = \"25:00-07:00\"\n") == [#"retry.toml:2:1: calendar.quiet_hours: expected a local time window HH:MM-HH:MM such as "22:00-07:00" (or "" for none), got "25:00-07:00""#])
        #expect(issues("[calendar]\ntime_zone = \"Mars/Olympus\"\n") == [#"retry.toml:2:1: calendar.time_zone: unknown time zone "Mars/Olympus" (not in the system tz database)"#])
        #expect(issues("[calendar]\npayday_weekdays = [\"friday\"]\n") == [#"retry.toml:2:1: calendar.payday_weekdays[0]: must be one of "mon", "tue", "wed", "thu", "fri", "sat", "sun", got "friday""#])
    }

    @Test func ladderLongerThanMaxSpan() {
        let text = """
        [[segment]]
        name = "short"
        max_span = "10d"
        [segment.retry_later]
        ladder = ["3d", "4d", "5d"]
        """
        #expect(issues(text) == [#"retry.toml:5:1: segment[0].retry_later.ladder: adds up to 12d, longer than the segment's max_span 10d"#])
    }

    @Test func overlappingSegmentsNeedAnOrder() {
        let text = """
        [[segment]]
        name = "eu"
        [segment.match]
        currencies = ["EUR"]

        [[segment]]
        name = "small"
        [segment.match]
        amount_max = 1999
        """
        #expect(issues(text) == [#"retry.toml:6:1: segment[1]: segments "eu" and "small" overlap (a charge can match both) and have the same priority 0; give one a higher priority"#])
        // Distinct priorities order them; disjoint matches need none.
        let ordered = try? load(text.replacingOccurrences(of: "name = \"small\"", with: "name = \"small\"\npriority = 5"))
        #expect(ordered?.policy.segments.map(\.name) == ["small", "eu", "default"])
        let disjoint = try? load(text.replacingOccurrences(of: "amount_max = 1999", with: "currencies = [\"USD\"]"))
        #expect(disjoint?.policy.segments.map(\.name) == ["eu", "small", "default"])
    }

    @Test func segmentMistakes() {
        #expect(issues("[[segment]]\npriority = 1\n") == [#"retry.toml:1:1: segment[0]: missing key "name""#])
        #expect(issues("[[segment]]\nname = \"a\"\n[[segment]]\nname = \"a\"\n[segment.match]\ntiers = [\"x\"]\n") == [#"retry.toml:4:1: segment[1].name: duplicate segment name "a" (also segment[0])"#])
        #expect(issues("[[segment]]\nname = \"a\"\n[[segment]]\nname = \"b\"\n") == [#"retry.toml:3:1: segment[1]: segments "a" and "b" both match every charge; give one a [match]"#])
        #expect(issues("[[segment]]\nname = \"a\"\n[segment.consent_revoked]\nladder = [\"1d\"]\n") == [#"retry.toml:3:1: segment[0].consent_revoked: consent-revoked declines are never retried; remove this table"#])
        #expect(issues("[[segment]]\nname = \"a\"\n[segment.match]\namount_min = 500\namount_max = 100\ncurrencies = [\"EURO\"]\n") == [
            #"retry.toml:5:1: segment[0].match.amount_max: must not be below amount_min (500), got 100"#,
            #"retry.toml:6:1: segment[0].match.currencies[0]: expected an ISO 4217 code such as "EUR", got "EURO""#,
        ])
        #expect(issues("[[segment]]\nname = \"a\"\n[segment.retry_later]\nladder = []\n") == [#"retry.toml:4:1: segment[0].retry_later.ladder: must have at least one step (set retry = false to never retry this class)"#])
    }

    @Test func secretsNeverInline() {
        #expect(issues("[provider]\nkind = \"stripe\"\napi_key_file = \"/etc/relance/key\"\napi_key = \"sk_test_123\"\n") == [#"retry.toml:4:1: provider.api_key: secrets are never accepted inline: put the key in a file and set api_key_file"#])
        #expect(issues("[provider]\nkind = \"stripe\"\napi_key_file = \"sk_live_abc\"\n") == [#"retry.toml:3:1: provider.api_key_file: looks like an API key: give the path of a file holding it (or a systemd credential name), never the key itself"#])
        #expect(issues("[provider]\nkind = \"stripe\"\n") == [#"retry.toml:1:1: provider.api_key_file: is required when kind = "stripe" (a path, or a LoadCredential= name)"#])
        #expect(issues("[provider]\napi_base = \"http://api.example.com\"\n") == [#"retry.toml:2:1: provider.api_base: must be an https:// URL (plain http only on loopback), got "http://api.example.com""#])
        #expect(issues("[provider]\nkind = \"paypal\"\n") == [#"retry.toml:2:1: provider.kind: must be one of "sandbox", "stripe", got "paypal""#])
    }

    @Test func noticesMustEscalate() {
        let text = """
        [[notices.level]]
        name = "first"
        after = "7d"
        [[notices.level]]
        name = "second"
        after = "3d"
        tone = "shouty"
        """
        #expect(issues(text) == [
            #"retry.toml:7:1: notices.level[1].tone: must be one of "friendly", "helpful", "firm", "formal", "final", got "shouty""#,
            #"retry.toml:6:1: notices.level[1].after: must come after the previous level "first" (7d), got 3d"#,
        ])
    }

    @Test func everyErrorIsReportedAtOnce() {
        let text = """
        [daemon]
        workers = 0
        time_scale = -1
        [network_rules]
        visa_reattempt_limit = 99
        [calendar]
        weekend = "never"
        """
        #expect(issues(text).count == 4)
    }

    @Test func includesAddSegmentsFromOtherFiles() throws {
        let fixture = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let snapshot = try ConfigLoader.load(path: fixture.appendingPathComponent("split.toml").path)
        #expect(snapshot.files.count == 3)
        #expect(snapshot.policy.segments.map(\.name) == ["vip", "small", "fallback"])
        #expect(snapshot.policy.segments[0].maxAttempts == 12)
        #expect(snapshot.policy.segments[0].calendar.preferredHours == TimeWindow(start: 9 * 60, end: 18 * 60))
        #expect(snapshot.policy.segments[1].classes[.retryLater]?.ladder == [172_800])
        #expect(snapshot.settings.defaultTimeZone == "Europe/Paris")
        // A gold customer's small EUR charge goes to "vip" (higher priority).
        #expect(snapshot.policy.segmentIndex(for: ChargeAttributes(amount: 500, currency: "EUR", tier: "gold")) == 0)
        #expect(snapshot.policy.segmentIndex(for: ChargeAttributes(amount: 500, currency: "EUR")) == 1)
        #expect(snapshot.policy.segmentIndex(for: ChargeAttributes(amount: 5_000, currency: "EUR")) == 2)
    }

    @Test func includeMistakes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relance-include-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "include = [\"b.toml\"]\n".write(to: dir.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
        try "include = [\"a.toml\"]\n[daemon]\nworkers = 2\n".write(to: dir.appendingPathComponent("b.toml"), atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader.load(path: dir.appendingPathComponent("a.toml").path)
            Issue.record("expected errors")
        } catch {
            let a = dir.appendingPathComponent("a.toml").path, b = dir.appendingPathComponent("b.toml").path
            #expect(error.issues.map(\.description) == [
                "\(b):1:1: include[0]: \"a.toml\" includes \"\(a)\" again (include cycle)",
                "\(b):2:1: daemon: an included file may only add [[segment]] tables (and include others)",
            ])
        }
        #expect(issues("include = [\"missing.toml\"]\n") == [#"retry.toml:1:1: include[0]: cannot read included file "missing.toml""#])
    }

    @Test func missingFile() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/retry.toml") }
    }

    @Test func summaryAndDiff() throws {
        let a = try load("")
        let b = try load("[network_rules]\nvisa_reattempt_limit = 20\n[[segment]]\nname = \"default\"\n[segment.retry_later]\nladder = [\"2d\"]\n")
        #expect(ConfigSummary.render(a).contains("1. default: every charge; at most 8 retries over 30d; then collections"))
        let diff = ConfigSummary.diff(old: a, new: b)
        #expect(diff.contains { $0.hasPrefix("~ network rule: Visa categories 2-4: at most 15") && $0.contains("→ Visa categories 2-4: at most 20") })
        #expect(diff.contains("~ segment default retry_later: retry_later: ladder 1d, 2d, 3d, 3d, 4d, 5d, at most 8, rotate after 2 on one method, payday-aligned → retry_later: ladder 2d, at most 8, rotate after 2 on one method, payday-aligned"))
        #expect(ConfigSummary.diff(old: a, new: a).isEmpty)
    }

    @Test("Durations", arguments: [("90s", Int64(90)), ("15m", 900), ("72h", 259_200), ("3d", 259_200), ("2w", 1_209_600), ("1h30m", 5_400)])
    func durations(text: String, seconds: Int64) {
        #expect(DurationText.parse(text) == seconds)
    }

    @Test func badDurations() {
        for bad in ["", "3", "h", "3x", "-1d", "1.5h", "99999999999999999999d", "3d ", "٣d"] {
            #expect(DurationText.parse(bad) == nil, "\(bad)")
        }
    }
}
