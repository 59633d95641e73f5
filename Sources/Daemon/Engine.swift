import Foundation
import GRDB
import Metrics
package import Logging
package import Providers
package import RelanceConfig
package import RetryPlanner
package import Store
package import Synchronization

/// Counters for the progress line and the final summary.
package struct EngineStats: Sendable {
    package var ingested = 0
    package var attempts = 0
    package var recovered = 0
    package var declined = 0
    package var closed = 0
    package var exhausted = 0
    package var waiting = 0
    package var providerErrors = 0
}

/// The charge state machine over the store: ingest, plan, reserve, guard, pay, record, re-plan.
/// Every state change and its events are written in one transaction.
package final class Engine: Sendable {
    package let store: Store
    package let provider: any PaymentProvider
    package let clock: VirtualClock
    /// The configuration in force and the planner compiled from it, swapped whole on reload.
    let active: Mutex<(settings: Settings, planner: Planner)>
    let zoneIndex: [String: Int]
    let logger: Logger
    let events: EventBuilder
    package let stats = Mutex(EngineStats())
    /// Dispatch lag samples (wall seconds from due time to request).
    package let lags = LagSamples()
    /// Why new work is paused (spool disk full, provider credentials rejected), or nil.
    package let pausedReason = Mutex<String?>(nil)
    /// How the provider is answering (backoff, rejected credentials).
    package let health = ProviderHealth()
    let meters = Meters()
    /// The last errors, newest last, for `/status`.
    package let recentErrors = Mutex<[(time: Int64, message: String)]>([])

    package init(store: Store, provider: any PaymentProvider, clock: VirtualClock, settings: Settings, zones: ZoneTable, logger: Logger) {
        self.store = store
        self.provider = provider
        self.clock = clock
        self.active = Mutex((settings, Planner(policy: settings.policy, zones: zones)))
        var index: [String: Int] = [:]
        for (i, name) in zones.names.enumerated() { index[name] = i }
        self.zoneIndex = index
        self.logger = logger
        self.events = EventBuilder(source: "relance://\(ProcessInfo.processInfo.hostName)/relanced")
    }

    package var settings: Settings { active.withLock { $0.settings } }
    var planner: Planner { active.withLock { $0.planner } }
    var defaultZone: Int { zoneIndex[settings.defaultTimeZone] ?? 0 }

    /// Settings a reload applies at once; every other difference needs a restart.
    static func reloadable(_ old: Settings, _ new: Settings) -> (applied: Settings, needsRestart: [String]) {
        var applied = old
        applied.policy = new.policy
        applied.notices = new.notices
        applied.defaultTimeZone = new.defaultTimeZone
        applied.daemon.pollInterval = new.daemon.pollInterval
        applied.daemon.spoolBatchEvents = new.daemon.spoolBatchEvents
        applied.daemon.spoolBatchMilliseconds = new.daemon.spoolBatchMilliseconds
        applied.daemon.spoolMinFreeBytes = new.daemon.spoolMinFreeBytes
        var restart: [String] = []
        if applied.daemon != new.daemon { restart.append("[daemon]") }
        if applied.provider != new.provider { restart.append("[provider]") }
        if applied.sandbox != new.sandbox { restart.append("[sandbox]") }
        return (applied, restart)
    }

    /// Swaps in a validated configuration: policy, notices and timings at once; sections listed in the
    /// result keep their old values until a restart. Charges already planned keep their next time.
    package func reload(_ new: Settings) -> [String] {
        active.withLock { current in
            let (applied, restart) = Self.reloadable(current.settings, new)
            current = (applied, Planner(policy: applied.policy, zones: current.planner.zones))
            return restart
        }
    }

    package var isPaused: Bool { pausedReason.withLock { $0 != nil } }

    func count(_ update: (inout EngineStats) -> Void) { stats.withLock { update(&$0) } }

    /// Wall time of the last store error: the dispatcher is not making progress while they recur.
    package let lastStoreError = Mutex<ContinuousClock.Instant?>(nil)

    func storeFailed(_ message: String) {
        lastStoreError.withLock { $0 = .now }
        noteError(message)
    }

    /// Whether a store error happened within `window`.
    package func storeFailing(within window: Duration) -> Bool {
        lastStoreError.withLock { $0.map { ContinuousClock.now - $0 < window } ?? false }
    }

    /// When each loop (poller, dispatcher) last showed progress, for the systemd watchdog.
    package let heartbeats = Mutex<[String: ContinuousClock.Instant]>([:])

    package func beat(_ component: String) {
        let now = ContinuousClock.now
        heartbeats.withLock { $0[component] = now }
    }

    /// Keeps an error for `/status` (the last 20).
    package func noteError(_ message: String) {
        let now = clock.now()
        recentErrors.withLock { list in
            list.append((now, message))
            if list.count > 20 { list.removeFirst(list.count - 20) }
        }
    }

    // MARK: Ingest

    /// Stores new failures (idempotent: a failure seen twice is stored once), plans each, and
    /// returns the due entries (rowid, wake time). The cursor is saved in the same transaction.
    package func ingest(_ charges: [FailedCharge], cursor: String?) async throws -> [(Int64, Int64)] {
        let now = clock.now()
        let (due, added) = try await store.write { [self] db in
            var due: [(Int64, Int64)] = []
            var added = 0
            for fc in charges {
                if try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM charges WHERE id = ?"), arguments: [fc.id]) != nil { continue }
                try self.upsertCustomer(db, fc)
                let methods = try ChargeRecord.methods(db, customer: fc.customer.id)
                // A customer with no stored method is still stored: the planner waits for the customer.
                let m = methods.firstIndex { $0.token == fc.methodToken } ?? 0
                let method = m < methods.count ? methods[m] : nil
                let rail = method?.rail ?? .card
                let decline = DeclineTaxonomy.classify(fc.decline, rail: rail)
                let attributes = ChargeAttributes(
                    amount: fc.amount, currency: fc.currency, tier: fc.customer.tier, tags: Set(fc.customer.tags),
                    rail: rail, country: fc.customer.country
                )
                let segment = self.planner.policy.segmentIndex(for: attributes) ?? (self.planner.policy.segments.count - 1)
                let json = String(decoding: try JSONEncoder().encode(fc.decline), as: UTF8.self)
                try db.cachedStatement(sql: """
                    INSERT INTO charges(id, customer, amount, currency, state, segment, zone, first_failed_at, current_method,
                        last_class, last_flags, decline)
                    VALUES (?, ?, ?, ?, 'scheduled', ?, 0, ?, ?, ?, ?, ?)
                    """).execute(arguments: [fc.id, fc.customer.id, fc.amount, fc.currency, segment, fc.failedAt, m,
                                     Int(decline.declineClass.rawValue), Int(decline.flags.rawValue), json])
                var marked = false
                if let method {
                    marked = try self.recordLedger(db, method: method, time: fc.failedAt, amount: fc.amount, decline: decline, reattempt: false, key: nil)
                }
                var rec = try ChargeRecord.fetch(db, id: fc.id)!
                try self.events.append(db, .chargeIngested, charge: &rec, at: now, method: method, decline: fc.decline, declineClass: decline.declineClass)
                // Re-read the methods only when the decline just marked one.
                let refreshed = marked ? try ChargeRecord.methods(db, customer: fc.customer.id) : methods
                let wake = try self.replan(db, &rec, methods: refreshed, now: now)
                try self.save(db, rec, wake: wake)
                if let wake, let rowid = try Int64.fetchOne(db.cachedStatement(sql: "SELECT rowid FROM charges WHERE id = ?"), arguments: [fc.id]) {
                    due.append((rowid, wake))
                }
                added += 1
            }
            if let cursor { try Store.setMeta(db, "poll.cursor", cursor) }
            return (due, added)
        }
        count { $0.ingested += added }
        return due
    }

    func upsertCustomer(_ db: Database, _ fc: FailedCharge) throws {
        let c = fc.customer
        try db.cachedStatement(sql: """
            INSERT INTO customers(id, zone, tier, tags, country) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET zone = excluded.zone, tier = excluded.tier, tags = excluded.tags, country = excluded.country
            """).execute(arguments: [c.id, c.zone, c.tier, c.tags.joined(separator: ","), c.country])
        for (i, m) in fc.methods.enumerated() {
            // New card data (another expiry) makes an unusable method usable again; rule-forbidden stays forbidden.
            try db.cachedStatement(sql: """
                INSERT INTO methods(token, customer, idx, brand, last4, exp_year, exp_month, rail, is_default, credential)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(token) DO UPDATE SET idx = excluded.idx, is_default = excluded.is_default,
                    unusable = CASE WHEN exp_year != excluded.exp_year OR exp_month != excluded.exp_month THEN 0 ELSE unusable END,
                    exp_year = excluded.exp_year, exp_month = excluded.exp_month, brand = excluded.brand, last4 = excluded.last4
                """).execute(arguments: [m.token, c.id, i, m.brand, m.last4, m.expYear, m.expMonth, Int(m.rail.rawValue), m.isDefault ? 1 : 0, m.credential])
        }
    }

    /// Adds an attempt to the compliance ledger and marks the method when the decline forbids it;
    /// returns whether the method was marked.
    @discardableResult
    func recordLedger(_ db: Database, method: MethodRecord, time: Int64, amount: Int64, decline: Decline?, reattempt: Bool, key: String?) throws -> Bool {
        var flags: LedgerEntry.Flags = []
        if reattempt { flags.insert(.reattempt) }
        if decline != nil { flags.insert(.declined) }
        try db.cachedStatement(sql: "INSERT INTO ledger(credential, time, amount, flags, mac, forbids, visa_category, attempt_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)").execute(
                       arguments: [method.credential, time, amount, Int(flags.rawValue), Int(decline?.merchantAdviceCode ?? 0),
                                   Int(decline?.forbids.rawValue ?? 0), Int(decline?.visaCategory ?? 0), key])
        return try markMethod(db, method: method, decline: decline)
    }

    /// Marks a method forbidden or unusable when the decline says so; returns whether it did.
    @discardableResult
    func markMethod(_ db: Database, method: MethodRecord, decline: Decline?) throws -> Bool {
        guard let decline else { return false }
        var marked = false
        if decline.forbids != .none {
            marked = true
            try db.cachedStatement(sql: "UPDATE methods SET forbids = ? WHERE token = ?").execute(arguments: [Int(decline.forbids.rawValue), method.token])
        }
        if decline.declineClass == .useAnotherMethod || decline.flags.contains(.dataQuality) {
            marked = true
            try db.cachedStatement(sql: "UPDATE methods SET unusable = 1 WHERE token = ?").execute(arguments: [method.token])
        }
        return marked
    }

    // MARK: Planning

    func zone(_ db: Database, customer: String) throws -> Int {
        let name = try String.fetchOne(db.cachedStatement(sql: "SELECT zone FROM customers WHERE id = ?"), arguments: [customer]) ?? ""
        return zoneIndex[name] ?? defaultZone
    }

    /// Plans the charge's next step, writes its events, and returns when it next needs waking.
    func replan(_ db: Database, _ rec: inout ChargeRecord, methods: [MethodRecord], now: Int64) throws -> Int64? {
        var book = try rec.book(db, methods: methods, now: now)
        book.state.zone = UInt16(try zone(db, customer: rec.customer))
        let planner = self.planner
        let decision = book.plan(with: planner, now: now)
        meters.decisions.increment()
        if decision.rule != .none {
            Counter(label: "relance_compliance_blocks_total", dimensions: [("rule", decision.rule.key)]).increment()
        }
        let segment = planner.policy.segments[min(rec.segment, planner.policy.segments.count - 1)]
        let previous = rec.state
        switch decision.kind {
        case .attempt:
            rec.state = .scheduled
            rec.nextAt = decision.at
            rec.nextMethod = Int(decision.method)
            let explanation = decision.explain(book: book, planner: planner, methodNames: methods.map { "\($0.brand) •\($0.last4)" })
            try events.append(db, .attemptScheduled, charge: &rec, at: now, attempt: rec.attempts + 1, method: methods[Int(decision.method)]) { d in
                d.string("scheduled_at", rfc3339(decision.at))
                d.string("reason", explanation)
                if decision.rule != .none { d.string("rule", decision.rule.key) }
            }
        case .waitForCustomer:
            rec.state = .waiting
            rec.nextAt = nil
            if previous != .waiting || rec.attempts == 0 {
                count { $0.waiting += 1 }
                let action = rec.lastClass == .customerMustAct ? "authenticate_or_update" : "add_payment_method"
                try events.append(db, .customerActionRequired, charge: &rec, at: now, attempt: rec.attempts > 0 ? rec.attempts : nil) { d in
                    d.string("action", action)
                    d.string("reason", decision.reason.key)
                    if decision.rule != .none { d.string("rule", decision.rule.key) }
                }
            }
        case .stop:
            rec.state = .exhausted
            rec.nextAt = nil
            rec.reason = decision.reason.key
            count { $0.exhausted += 1 }
            try events.append(db, .chargeExhausted, charge: &rec, at: now, attempt: rec.attempts > 0 ? rec.attempts : nil) { d in
                d.string("reason", decision.reason.key)
                if decision.rule != .none { d.string("rule", decision.rule.key) }
                d.string("end_action", segment.endAction)
            }
        }
        return wakeTime(rec, segment: segment)
    }

    /// The earliest of: the next attempt, the next notice, the end of the span (to exhaust a waiting charge).
    func wakeTime(_ rec: ChargeRecord, segment: SegmentPolicy) -> Int64? {
        guard rec.state.isOpen else { return nil }
        var wake: Int64 = .max
        if rec.state == .scheduled, let next = rec.nextAt { wake = min(wake, next) }
        if rec.state == .inFlight { wake = min(wake, clock.now()) }
        if rec.nextNotice < settings.notices.count { wake = min(wake, rec.firstFailedAt + settings.notices[rec.nextNotice].after) }
        if rec.state == .waiting { wake = min(wake, rec.firstFailedAt + segment.maxSpan) }
        return wake == .max ? nil : wake
    }

    func save(_ db: Database, _ rec: ChargeRecord, wake: Int64?) throws {
        try db.cachedStatement(sql: """
            UPDATE charges SET state = ?, last_attempt_at = ?, attempts = ?, current_method = ?, attempts_on_method = ?,
                last_class = ?, last_flags = ?, decline = ?, next_at = ?, next_method = ?, next_notice = ?, wake_at = ?,
                events = ?, reason = ?
            WHERE id = ?
            """).execute(arguments: [rec.state.rawValue, rec.lastAttemptAt, rec.attempts, rec.currentMethod, rec.attemptsOnMethod,
                             Int(rec.lastClass.rawValue), Int(rec.lastFlags.rawValue), rec.decline, rec.nextAt, rec.nextMethod,
                             rec.nextNotice, wake, rec.events, rec.reason, rec.id])
    }
}

/// A bounded reservoir of dispatch-lag samples, for percentiles in the summary (and later the metrics).
package final class LagSamples: Sendable {
    struct State {
        var samples: [Double] = []
        var seen = 0
    }
    let state = Mutex(State())
    static let capacity = 100_000

    func record(_ seconds: Double) {
        state.withLock { s in
            s.seen += 1
            if s.samples.count < Self.capacity {
                s.samples.append(seconds)
            } else {
                // Reservoir sampling keeps a uniform sample of everything seen.
                let j = Int.random(in: 0..<s.seen)
                if j < Self.capacity { s.samples[j] = seconds }
            }
        }
    }

    /// (count, p50, p99, max) in milliseconds.
    package func percentiles() -> (count: Int, p50: Double, p99: Double, max: Double) {
        let (sorted, seen) = state.withLock { ($0.samples.sorted(), $0.seen) }
        guard !sorted.isEmpty else { return (0, 0, 0, 0) }
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))] * 1_000 }
        return (seen, at(0.5), at(0.99), sorted.last! * 1_000)
    }
}

/// Metrics created once (the hot path increments them without a factory lookup).
struct Meters: Sendable {
    let decisions = Counter(label: "relance_planner_decisions_total")
    let dispatchLag = Timer(label: "relance_dispatch_lag_seconds")
}
