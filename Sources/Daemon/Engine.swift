import Foundation
import GRDB
import Metrics
import RelanceMetrics
package import Logging
package import Providers
package import RelanceConfig
package import RetryPlanner
package import Store
package import Synchronization

/// Counters for the progress line and the final summary.
package struct EngineStats: Sendable {
    package var ingested = 0
    /// Charges woken (by the dispatcher or directly).
    package var wakes = 0
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
        // The outbox left by an earlier run: its events wait for the spool. An empty one has had
        // everything up to the last sequence number handed out spooled (without that, the first new
        // event would look like a backlog of every event ever written, and hold new work).
        if let (first, last, issued) = try? store.readNow({ db in
            try Row.fetchOne(db, sql: """
                SELECT (SELECT min(seq) FROM outbox), (SELECT max(seq) FROM outbox),
                       (SELECT seq FROM sqlite_sequence WHERE name = 'outbox')
                """).map { ($0[0] as Int64?, $0[1] as Int64?, $0[2] as Int64?) }
        }) {
            if let first, let last {
                events.progress.didSpool(through: first - 1)
                events.progress.didAppend(last)
            } else if let issued {
                events.progress.didSpool(through: issued)
                events.progress.didAppend(issued)
            }
        }
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

    /// Events appended to the outbox and not yet written to the spool.
    package var outboxPending: Int64 { events.progress.pending }

    /// The spool writer is far behind: new work waits (backpressure) until it catches up.
    package var spoolBehind: Bool {
        events.progress.pending > Int64(max(10_000, 20 * settings.daemon.spoolBatchEvents))
    }

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
    ///
    /// The hot path of a large backlog: the configuration is read once per page, the charge row is
    /// written once with its plan, and statements run with positional parameters.
    package func ingest(_ charges: [FailedCharge], cursor: String?, parked: String? = nil) async throws -> [(Int64, Int64)] {
        let now = clock.now()
        let (settings, planner) = active.withLock { ($0.settings, $0.planner) }
        let defaultZone = zoneIndex[settings.defaultTimeZone] ?? 0
        let (due, added) = try await store.write { [self] db in
            // Stored and read here in order (a failure's ledger entry counts for the next charge on
            // the same card); planned and rendered beside, on the planning queue; written here after.
            let page = PlannedPage(count: charges.count) { [self] input in
                var rec = input.record
                rec.decline = Self.json(input.decline)
                let ingested = events.render(.chargeIngested, charge: &rec, at: now, method: input.method, decline: input.decline, declineClass: input.declineClass)
                let (planned, wake) = decide(&rec, book: input.book, methods: input.methods, now: now, planner: planner, settings: settings)
                return .init(record: rec, events: [ingested] + planned, wake: wake)
            }
            var batch: [PlannedPage.Input] = []
            var added = 0
            // Charges stored already, and those of this page as they are stored (a page may repeat one).
            var seen = try Self.stored(db, ids: charges.map(\.id))
            for fc in charges {
                if !seen.insert(fc.id).inserted {
                    try self.ledgerElsewhere(db, fc)
                    continue
                }
                var methods = try self.storeCustomer(db, fc)
                // A customer with no stored method is still stored: the planner waits for the customer.
                let m = methods.firstIndex { $0.token == fc.methodToken } ?? 0
                let method = m < methods.count ? methods[m] : nil
                let rail = method?.rail ?? .card
                let decline = DeclineTaxonomy.classify(fc.decline, rail: rail)
                let attributes = ChargeAttributes(
                    amount: fc.amount, currency: fc.currency, tier: fc.customer.tier, tags: Set(fc.customer.tags),
                    rail: rail, country: fc.customer.country
                )
                let segment = planner.policy.segmentIndex(for: attributes) ?? (planner.policy.segments.count - 1)
                if let method, let marked = try self.recordLedger(db, method: method, time: fc.failedAt, amount: fc.amount, decline: decline,
                                                                   reattempt: try self.isReattempt(db, method, at: fc.failedAt),
                                                                   key: nil, payment: fc.paymentId) {
                    // The decline just marked the method: the list as reading it back would give.
                    methods[m] = marked
                }
                // The raw decline's text is rendered with the plan.
                let rec = ChargeRecord(
                    id: fc.id, customer: fc.customer.id, amount: fc.amount, currency: fc.currency, segment: segment,
                    firstFailedAt: fc.failedAt, currentMethod: m, lastClass: decline.declineClass, lastFlags: decline.flags, decline: ""
                )
                var book = try rec.book(db, methods: methods, now: now)
                book.state.zone = UInt16(self.zoneIndex[fc.customer.zone] ?? defaultZone)
                batch.append(.init(
                    index: added, record: rec, book: book, methods: methods, method: method, decline: fc.decline, declineClass: decline.declineClass))
                added += 1
                if batch.count == 32 {
                    page.plan(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            page.plan(batch)
            var due: [(Int64, Int64)] = []
            due.reserveCapacity(added)
            for planned in page.finish() {
                for event in planned.events { try self.events.insert(db, event) }
                let rowid = try self.insert(db, planned.record, wake: planned.wake)
                if let wake = planned.wake { due.append((rowid, wake)) }
            }
            if let cursor { try Store.setMeta(db, "poll.cursor", cursor) }
            if let parked { try Store.setMeta(db, "poll.parked", parked) }
            return (due, added)
        }
        count { $0.ingested += added }
        return due
    }

    /// Which of `ids` are stored charges: index searches of a fixed-size batch each, not a statement per id.
    static func stored(_ db: Database, ids: [String]) throws -> Set<String> {
        let batch = 64
        let s = try RawStatement(db, "SELECT id FROM charges WHERE id IN (\(Array(repeating: "?", count: batch).joined(separator: ", ")))")
        var found = Set<String>()
        for start in stride(from: 0, to: ids.count, by: batch) {
            for i in 0..<batch {
                // The unused places of the last batch stay NULL, which matches nothing.
                s.bind(Int32(i + 1), start + i < ids.count ? ids[start + i] : nil)
            }
            while try s.step() { found.insert(s.string(0)) }
            s.reset()
        }
        return found
    }

    /// A raw decline as stored in `charges.decline` (the keys of its Codable form).
    static func json(_ d: RawDecline) -> String {
        var w = JSONWriter()
        w.string("code", d.code)
        w.string("declineCode", d.declineCode)
        w.string("adviceCode", d.adviceCode)
        w.string("networkAdviceCode", d.networkAdviceCode)
        w.string("networkDeclineCode", d.networkDeclineCode)
        w.string("achReturnCode", d.achReturnCode)
        w.string("sepaReasonCode", d.sepaReasonCode)
        w.string("payment", d.payment)
        return w.finished
    }

    /// Writes a new charge row with its plan; returns its rowid.
    func insert(_ db: Database, _ rec: ChargeRecord, wake: Int64?) throws -> Int64 {
        let s = try RawStatement(db, """
            INSERT INTO charges(id, customer, amount, currency, state, segment, zone, first_failed_at, last_attempt_at, attempts,
                current_method, attempts_on_method, last_class, last_flags, decline, next_at, next_method, next_notice, wake_at, events, reason)
            VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        s.bind(1, rec.id)
        s.bind(2, rec.customer)
        s.bind(3, rec.amount)
        s.bind(4, rec.currency)
        s.bind(5, rec.state.rawValue)
        s.bind(6, rec.segment)
        s.bind(7, rec.firstFailedAt)
        s.bind(8, rec.lastAttemptAt)
        s.bind(9, rec.attempts)
        s.bind(10, rec.currentMethod)
        s.bind(11, rec.attemptsOnMethod)
        s.bind(12, Int(rec.lastClass.rawValue))
        s.bind(13, Int(rec.lastFlags.rawValue))
        s.bind(14, rec.decline)
        s.bind(15, rec.nextAt)
        s.bind(16, rec.nextMethod)
        s.bind(17, rec.nextNotice)
        s.bind(18, wake)
        s.bind(19, rec.events)
        s.bind(20, rec.reason)
        try s.run()
        return s.lastInsertedRowID
    }

    /// Adds an attempt to the compliance ledger and marks the method when the decline forbids it;
    /// returns the method as marked, or nil when the decline left it as it was.
    @discardableResult
    func recordLedger(_ db: Database, method: MethodRecord, time: Int64, amount: Int64, decline: Decline?, reattempt: Bool, key: String?,
                      payment: String? = nil) throws -> MethodRecord? {
        var flags: LedgerEntry.Flags = []
        if reattempt { flags.insert(.reattempt) }
        if decline != nil { flags.insert(.declined) }
        let s = try RawStatement(db, "INSERT INTO ledger(credential, time, amount, flags, mac, forbids, visa_category, attempt_key, payment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        s.bind(1, method.credential)
        s.bind(2, time)
        s.bind(3, amount)
        s.bind(4, Int(flags.rawValue))
        s.bind(5, Int(decline?.merchantAdviceCode ?? 0))
        s.bind(6, Int(decline?.forbids.rawValue ?? 0))
        s.bind(7, Int(decline?.visaCategory ?? 0))
        s.bind(8, key)
        s.bind(9, payment)
        try s.run()
        return try markMethod(db, method: method, decline: decline)
    }

    /// Marks a method forbidden or unusable when the decline says so; returns the method as it is
    /// stored then (what reading it back would give), or nil when the decline left it as it was.
    @discardableResult
    func markMethod(_ db: Database, method: MethodRecord, decline: Decline?) throws -> MethodRecord? {
        guard let decline else { return nil }
        var marked: MethodRecord? = nil
        if decline.forbids != .none {
            let s = try RawStatement(db, "UPDATE methods SET forbids = ? WHERE token = ?")
            s.bind(1, Int(decline.forbids.rawValue))
            s.bind(2, method.token)
            try s.run()
            marked = method
            marked?.forbids = decline.forbids
        }
        // What the method answered stays on the method: it needs the customer (authentication, card
        // data) or is unusable, and rotation never comes back to it until the customer acts.
        let mark = MethodState.mark(for: decline)
        if !mark.isEmpty {
            let value = mark.contains(.needsCustomer) ? MethodRecord.storedNeedsCustomer : MethodRecord.storedUnusable
            let s = try RawStatement(db, "UPDATE methods SET unusable = ? WHERE token = ? AND unusable != 2")
            s.bind(1, value)
            s.bind(2, method.token)
            try s.run()
            if marked == nil { marked = method }
            marked?.unusable = value == MethodRecord.storedUnusable
            marked?.needsCustomer = value == MethodRecord.storedNeedsCustomer
        }
        return marked
    }

    // MARK: Planning

    func zone(_ db: Database, customer: String) throws -> Int {
        let name = try String.fetchOne(db.cachedStatement(sql: "SELECT zone FROM customers WHERE id = ?"), arguments: [customer]) ?? ""
        return zoneIndex[name] ?? defaultZone
    }

    /// Plans the charge's next step, writes its events, and returns when it next needs waking.
    /// `zone`, `planner` and `settings` may be passed by a caller that already has them (ingest).
    func replan(
        _ db: Database, _ rec: inout ChargeRecord, methods: [MethodRecord], now: Int64,
        zone: Int? = nil, planner: Planner? = nil, settings: Settings? = nil
    ) throws -> Int64? {
        var book = try rec.book(db, methods: methods, now: now)
        book.state.zone = UInt16(try zone ?? self.zone(db, customer: rec.customer))
        let (events, wake) = decide(&rec, book: book, methods: methods, now: now, planner: planner ?? self.planner, settings: settings ?? self.settings)
        for event in events { try self.events.insert(db, event) }
        return wake
    }

    /// The charge's next step planned from its book, the events that says, and when it next needs
    /// waking. No store access: ingest runs it beside the writer.
    func decide(
        _ rec: inout ChargeRecord, book: ChargeBook, methods: [MethodRecord], now: Int64, planner: Planner, settings: Settings
    ) -> (events: [RenderedEvent], wake: Int64?) {
        let decision = book.plan(with: planner, now: now)
        meters.decisions.increment()
        if decision.rule != .none { meters.complianceBlock(decision.rule) }
        let segment = planner.policy.segments[min(rec.segment, planner.policy.segments.count - 1)]
        let previous = rec.state
        var rendered: [RenderedEvent] = []
        switch decision.kind {
        case .attempt:
            rec.state = .scheduled
            rec.nextAt = decision.at
            rec.nextMethod = Int(decision.method)
            let explanation = decision.explain(book: book, planner: planner, methodNames: methods.map { "\($0.brand) •\($0.last4)" })
            rendered.append(events.render(.attemptScheduled, charge: &rec, at: now, attempt: rec.attempts + 1, method: methods[Int(decision.method)]) { d in
                d.time("scheduled_at", decision.at)
                d.string("reason", explanation)
                if decision.rule != .none { d.string("rule", decision.rule.key) }
            })
        case .waitForCustomer:
            rec.state = .waiting
            rec.nextAt = nil
            if previous != .waiting || rec.attempts == 0 {
                count { $0.waiting += 1 }
                let action = rec.lastClass == .customerMustAct ? "authenticate_or_update" : "add_payment_method"
                rendered.append(events.render(.customerActionRequired, charge: &rec, at: now, attempt: rec.attempts > 0 ? rec.attempts : nil) { d in
                    d.string("action", action)
                    d.string("reason", decision.reason.key)
                    if decision.rule != .none { d.string("rule", decision.rule.key) }
                })
            }
        case .stop:
            rec.state = .exhausted
            rec.nextAt = nil
            rec.reason = decision.reason.key
            count { $0.exhausted += 1 }
            rendered.append(events.render(.chargeExhausted, charge: &rec, at: now, attempt: rec.attempts > 0 ? rec.attempts : nil) { d in
                d.string("reason", decision.reason.key)
                if decision.rule != .none { d.string("rule", decision.rule.key) }
                d.string("end_action", segment.endAction)
            })
        }
        return (rendered, wakeTime(rec, segment: segment, notices: settings.notices))
    }

    /// The earliest of: the next attempt, the next notice, the end of the span (to exhaust a waiting charge).
    func wakeTime(_ rec: ChargeRecord, segment: SegmentPolicy, notices: [NoticeLevel]) -> Int64? {
        guard rec.state.isOpen else { return nil }
        var wake: Int64 = .max
        if rec.state == .scheduled, let next = rec.nextAt { wake = min(wake, next) }
        if rec.state == .inFlight { wake = min(wake, clock.now()) }
        if rec.nextNotice < notices.count { wake = min(wake, rec.firstFailedAt + notices[rec.nextNotice].after) }
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

    /// The share of the samples at most `seconds`.
    package func fraction(atMost seconds: Double) -> Double {
        state.withLock { s in s.samples.isEmpty ? 0 : Double(s.samples.count { $0 <= seconds }) / Double(s.samples.count) }
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
final class Meters: Sendable {
    let decisions = Counter(label: RelanceMetric.plannerDecisionsTotal)
    let dispatchLag = Timer(label: RelanceMetric.dispatchLagSeconds)
    /// One counter per rule, made on first use.
    let blocks = Mutex<[Rule: Counter]>([:])

    func complianceBlock(_ rule: Rule) {
        let counter = blocks.withLock { made in
            if let c = made[rule] { return c }
            let c = Counter(label: RelanceMetric.complianceBlocksTotal, dimensions: [("rule", rule.key)])
            made[rule] = c
            return c
        }
        counter.increment()
    }
}
