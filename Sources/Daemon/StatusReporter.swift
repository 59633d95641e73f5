import RetryPlanner
import Foundation
import Metrics
import RelanceMetrics
import Providers
import Spool
import StatusServer
import Store
import Synchronization

/// What the status socket reports about the configuration in force.
package struct ConfigState: Sendable {
    package var path: String
    package var digest: String
    package var loadedAt: Int64
    package var lastReloadError: String?

    package init(path: String, digest: String, loadedAt: Int64, lastReloadError: String? = nil) {
        self.path = path
        self.digest = digest
        self.loadedAt = loadedAt
        self.lastReloadError = lastReloadError
    }
}

/// The `/status` document (schema: docs/status.schema.json) and the gauges of `/metrics`.
///
/// The store's figures (charges by state, attempts over the last hour and day, recovery by amount)
/// are read at most once every two seconds, so a busy scraper never loads the database.
package final class StatusReporter: Sendable {
    package static let version = "0.5.0"
    /// Amount bands of `recovery_rate_by_amount`, in minor units: [min, max).
    static let bands: [(name: String, min: Int64, max: Int64?)] = [
        ("under 10", 0, 1_000), ("10 to 50", 1_000, 5_000), ("50 to 200", 5_000, 20_000),
        ("200 to 1000", 20_000, 100_000), ("1000 and over", 100_000, nil),
    ]
    /// Wall seconds between two reads of the amount bands: a pass over every charge (about 0.3 s of
    /// CPU with a million), where the other figures are index searches read every 2 s.
    static let bandsInterval = 30.0
    static let states = ["scheduled", "in_flight", "waiting", "recovered", "exhausted", "closed", "held"]
    /// Age bands of `relance_open_amount`: each band's first day since the failure.
    package static let ages: [(name: String, from: Int)] = [("0-7d", 0), ("8-30d", 8), ("31-60d", 31), ("60d+", 61)]

    struct Figures: Sendable {
        var byState: [String: Int] = [:]
        var attemptsHour = 0, attemptsDay = 0, recoveriesHour = 0, recoveriesDay = 0
        var bands: [(charges: Int, recovered: Int)] = []
        var segments: [SegmentAmounts] = []
        var open: [(currency: String, band: Int, amount: Int64)] = []
        var bandsReadAt: Double = 0
        var outbox = 0
        var readAt: Double = 0
    }

    let store: any ChargeStore
    let signals: DaemonSignals
    let clock: VirtualClock
    let providerName: String
    let index: DueIndex
    let spool: SpoolWriter
    let startedAt = Date()
    let config: Mutex<ConfigState>
    let cache = Mutex(Figures())
    /// The segments' names in force (the store keeps their places).
    let segmentNames: @Sendable () -> [String]

    init(store: any ChargeStore, signals: DaemonSignals, clock: VirtualClock, providerName: String, index: DueIndex, spool: SpoolWriter, config: ConfigState,
         segmentNames: @escaping @Sendable () -> [String] = { [] }) {
        self.segmentNames = segmentNames
        self.store = store
        self.signals = signals
        self.clock = clock
        self.providerName = providerName
        self.index = index
        self.spool = spool
        self.config = Mutex(config)
    }

    package func updateConfig(_ body: (inout ConfigState) -> Void) { config.withLock { body(&$0) } }

    func figures() async throws -> Figures {
        let now = Date().timeIntervalSince1970
        let cached = cache.withLock { $0 }
        if now - cached.readAt < 2 { return cached }
        let virtual = clock.now()
        let stored = try await store.figures(now: virtual)
        var f = Figures()
        (f.byState, f.outbox) = (stored.byState, stored.outbox)
        (f.attemptsHour, f.attemptsDay, f.recoveriesHour, f.recoveriesDay) = (stored.attemptsHour, stored.attemptsDay, stored.recoveriesHour, stored.recoveriesDay)
        if now - cached.bandsReadAt < Self.bandsInterval {
            (f.bands, f.bandsReadAt, f.segments, f.open) = (cached.bands, cached.bandsReadAt, cached.segments, cached.open)
        } else {
            f.bands = try await store.bandFigures(Self.bands.map(\.min))
            f.segments = try await store.segmentAmounts()
            f.open = try await store.openAmounts(now: virtual, ages: Self.ages.map(\.from))
            f.bandsReadAt = now
        }
        f.readAt = now
        cache.withLock { $0 = f }
        for state in Self.states {
            Gauge(label: RelanceMetric.chargesTracked, dimensions: [("state", state)]).record(f.byState[state] ?? 0)
        }
        return f
    }

    /// Refreshes the gauges `/metrics` shows (called before each scrape).
    package func refreshGauges() async {
        _ = try? await figures()
        Gauge(label: RelanceMetric.dueBacklog).record(index.dueCount(now: clock.now()))
        Gauge(label: RelanceMetric.spoolPendingFiles).record(spool.pendingFiles())
        if let f = try? await figures() {
            var seen = Set<String>()
            for o in f.open {
                seen.insert("\(o.currency)|\(o.band)")
                Gauge(label: RelanceMetric.openAmount, dimensions: [("currency", o.currency), ("age", Self.ages[min(o.band, Self.ages.count - 1)].name)]).record(o.amount)
            }
            // A band that emptied shows 0, not its last amount.
            for currency in Set(f.open.map(\.currency) + f.segments.map(\.currency)) {
                for (band, age) in Self.ages.enumerated() where !seen.contains("\(currency)|\(band)") {
                    Gauge(label: RelanceMetric.openAmount, dimensions: [("currency", currency), ("age", age.name)]).record(0)
                }
            }
        }
    }

    /// Why the daemon is up but not doing its job (for `/healthz`), or nil.
    package func unhealthyReason() -> String? {
        if let paused = signals.pausedReason.withLock({ $0 }) { return paused }
        if let problem = store.problem { return problem }
        let health = signals.health.snapshot
        if health.state == .unauthorized { return "the provider rejects the credentials: \(health.lastError ?? "")" }
        let now = ContinuousClock.now
        let silent = signals.heartbeats.withLock { $0 }.filter { now - $0.value > .seconds(60) }.keys.sorted()
        if !silent.isEmpty { return "no progress for a minute: \(silent.joined(separator: ", "))" }
        return nil
    }

    /// systemd's one-line `STATUS=`.
    package func statusLine() async -> String {
        guard let f = try? await figures() else { return "state unreadable (see the log)" }
        let tracked = f.byState.values.reduce(0, +)
        let open = (f.byState["scheduled"] ?? 0) + (f.byState["in_flight"] ?? 0) + (f.byState["waiting"] ?? 0)
        let paused = signals.pausedReason.withLock { $0 }
        return "\(tracked) charges (\(open) open, \(f.byState["recovered"] ?? 0) recovered), due \(index.dueCount(now: clock.now())), "
            + "attempts last hour \(f.attemptsHour), provider \(signals.health.snapshot.state.rawValue)"
            + (paused.map { ", paused: \($0)" } ?? "")
    }

    /// The `/status` document, encoded (keys sorted, `null` for none).
    package func document() async throws -> [UInt8] {
        let f = try await figures()
        let now = clock.now()
        let health = signals.health.snapshot
        let config = self.config.withLock { $0 }
        let paused = signals.pausedReason.withLock { $0 }
        let count = { (state: String) in f.byState[state] ?? 0 }
        return try StatusDocument(
            version: Self.version,
            pid: Int(getpid()),
            startedAt: rfc3339(Int64(startedAt.timeIntervalSince1970)),
            uptimeSeconds: (Date().timeIntervalSince(startedAt) * 1_000).rounded() / 1_000,
            virtualTime: rfc3339(now),
            timeScale: Int(clock.scale),
            config: .init(path: config.path, digest: config.digest, loadedAt: rfc3339(config.loadedAt), lastReloadError: config.lastReloadError),
            provider: .init(name: providerName, state: health.state.rawValue, lastError: health.lastError,
                            lastSuccessAt: health.lastSuccessAt.map(rfc3339)),
            charges: .init(scheduled: count("scheduled"), inFlight: count("in_flight"), waiting: count("waiting"),
                           recovered: count("recovered"), exhausted: count("exhausted"), closed: count("closed"), held: count("held")),
            dueBacklog: index.dueCount(now: now),
            attempts: .init(lastHour: f.attemptsHour, lastDay: f.attemptsDay),
            recoveries: .init(lastHour: f.recoveriesHour, lastDay: f.recoveriesDay),
            recoveryRateByAmount: zip(Self.bands, f.bands).map { band, counts in
                .init(band: band.name, minMinor: Int(band.min), maxMinor: band.max.map { Int($0) }, charges: counts.charges,
                      recovered: counts.recovered, rate: counts.charges > 0 ? Double(counts.recovered) / Double(counts.charges) : 0)
            },
            spool: .init(pendingEvents: f.outbox, paused: paused != nil, reason: paused),
            // The signals keep them oldest first; the document lists them newest first.
            lastErrors: signals.recentErrors.withLock { $0 }.reversed().map { .init(time: rfc3339($0.time), message: $0.message) },
            holds: try await holds(),
            heldCustomers: try await heldCustomers(),
            recoveryBySegment: f.segments.map { s in
                let names = segmentNames()
                return .init(segment: s.segment < names.count ? names[s.segment] : "segment \(s.segment)", currency: s.currency, failedAmount: s.failed,
                             recoveredAmount: s.recovered, charges: s.charges, recovered: s.recoveredCharges)
            },
            store: try await placement()
        ).encode()
    }

    /// The store, this node and the others on its database, for `/status`.
    func placement() async throws -> StatusDocument.Store {
        let p = try await store.placement()
        return .init(kind: p.kind, node: p.node, leases: p.leases, nodes: p.nodes.map {
            .init(name: $0.name, host: $0.host, pid: Int($0.pid), role: $0.role, heartbeatAgeSeconds: (max(0, $0.heartbeatAge) * 10).rounded() / 10,
                  leases: $0.leases)
        })
    }

    /// The customers held as a whole, longest held first, for `/status`.
    func heldCustomers(limit: Int = 20) async throws -> [StatusDocument.CustomerHold] {
        try await store.read { tx in
            try tx.heldCustomers(limit: limit).map { StatusDocument.CustomerHold(customer: $0.customer, reason: $0.hold.reason, since: rfc3339($0.hold.since),
                                                                                  until: $0.hold.until.map(rfc3339)) }
        }
    }

    /// The longest-held charges, for `/status`.
    func holds(limit: Int = 20) async throws -> [StatusDocument.Hold] {
        try await store.read { tx in
            try tx.heldCharges(limit: limit).compactMap { rowid in
                guard let rec = try tx.charge(rowid: rowid), let hold = rec.hold else { return nil }
                return StatusDocument.Hold(charge: rec.id, customer: rec.customer, reason: hold.reason, since: rfc3339(hold.since),
                                           until: hold.until.map(rfc3339), scope: hold.customerWide ? "customer" : "charge")
            }
        }
    }
}
