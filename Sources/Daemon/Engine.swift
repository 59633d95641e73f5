import Foundation
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

/// The runner of the charge lifecycle: it takes a configuration snapshot, reads what an input of
/// ``ChargeMachine`` needs, asks the machine, carries out its actions in one store transaction, calls
/// the provider outside it, and feeds the answer back (`+Ingest`, `+Wake`, `+Attempt`, `+Outcome`).
package final class Engine: Sendable {
    package let store: any ChargeStore
    package let provider: any PaymentProvider
    package let clock: VirtualClock
    /// The configuration in force and the machine compiled from it, swapped whole on reload.
    let active: Mutex<(settings: Settings, machine: ChargeMachine)>
    let zoneIndex: [String: Int]
    let logger: Logger
    let events: EventBuilder
    package let stats = Mutex(EngineStats())
    /// Dispatch lag samples (wall seconds from due time to request).
    package let lags = LagSamples()
    /// Held work, provider health, spool progress, heartbeats, the last errors: shared with the services.
    package let signals: DaemonSignals
    let meters = Meters()
    /// Per idempotency key in doubt: the daemon time by which no request sent under it can still be
    /// running at the provider (``ChargeMachine/resumed(number:found:reservedAt:idempotencyWindow:requestsSettleAt:now:)``).
    let settling = Mutex<[String: Int64]>([:])
    /// Other charges a transaction gave a new wake time (``ChargeRunner/takeWoken()``).
    let woken = Mutex<[(Int64, Int64)]>([])
    /// For keys sent before this process started (a crash): a request may have left just before it,
    /// or, on a shared database, from a node cut off whose work this one took over, until its lease ran out.
    package let startSettles: Int64
    /// For the buckets taken over since: the same, from the moment they were.
    let leaseSettles = Mutex<[Int: Int64]>([:])

    package init(store: any ChargeStore, provider: any PaymentProvider, clock: VirtualClock, settings: Settings, zones: ZoneTable, logger: Logger) {
        self.store = store
        self.provider = provider
        self.clock = clock
        self.active = Mutex((settings, ChargeMachine(planner: Planner(policy: settings.policy, zones: zones), notices: settings.notices, retryAfterUpdate: settings.retryAfterUpdate)))
        var index: [String: Int] = [:]
        for (i, name) in zones.names.enumerated() { index[name] = i }
        self.zoneIndex = index
        self.logger = logger
        self.signals = DaemonSignals(clock: clock)
        self.startSettles = clock.virtual(afterWall: Engine.settleWall(settings))
        self.events = EventBuilder(source: "relance://\(ProcessInfo.processInfo.hostName)/relanced", progress: signals.outbox)
        // The outbox left by an earlier run: its events wait for the spool. An empty one has had
        // everything up to the last sequence number handed out spooled (without that, the first new
        // event would look like a backlog of every event ever written, and hold new work).
        if let (first, last, issued) = try? store.outboxBounds() {
            if let first, let last {
                events.progress.didSpool(through: first - 1)
                events.progress.didAppend(last)
            } else if let issued {
                events.progress.didSpool(through: issued)
                events.progress.didAppend(issued)
            }
        }
    }

    /// Wall seconds after a request under a key returned (answered, failed or timed out) by which the
    /// provider has surely finished with it: twice the request timeout (a provider may go on after
    /// the client gave up; Stripe's own requests end within its timeouts).
    static func settleWall(_ settings: Settings) -> Double { Double(2 * max(1, settings.provider.requestTimeout)) }

    package var settings: Settings { active.withLock { $0.settings } }
    var machine: ChargeMachine { active.withLock { $0.machine } }
    var defaultZone: Int { zoneIndex[settings.defaultTimeZone] ?? 0 }

    /// Buckets of customers this node took (on a shared database): their attempts in flight may still
    /// be running at the provider, sent by the node that leased them before, until their timeout (and,
    /// for a lease that expired in another node's hands, the lease) have passed.
    package func tookOver(_ handovers: [Handover]) {
        let wall = Engine.settleWall(settings)
        leaseSettles.withLock { for h in handovers { $0[h.bucket] = clock.virtual(afterWall: wall + h.seconds) } }
    }

    /// Settings a reload applies at once; every other difference needs a restart.
    static func reloadable(_ old: Settings, _ new: Settings) -> (applied: Settings, needsRestart: [String]) {
        var applied = old
        applied.policy = new.policy
        applied.notices = new.notices
        applied.defaultLocale = new.defaultLocale
        applied.retryAfterUpdate = new.retryAfterUpdate
        applied.defaultTimeZone = new.defaultTimeZone
        applied.daemon.pollInterval = new.daemon.pollInterval
        applied.daemon.spoolBatchEvents = new.daemon.spoolBatchEvents
        applied.daemon.spoolBatchMilliseconds = new.daemon.spoolBatchMilliseconds
        applied.daemon.spoolMinFreeBytes = new.daemon.spoolMinFreeBytes
        var restart: [String] = []
        if applied.daemon != new.daemon { restart.append("[daemon]") }
        if applied.provider != new.provider { restart.append("[provider]") }
        if applied.sandbox != new.sandbox { restart.append("[sandbox]") }
        if applied.store != new.store { restart.append("[store]") }
        return (applied, restart)
    }

    /// Swaps in a validated configuration: policy, notices and timings at once; sections listed in the
    /// result keep their old values until a restart. Whether the policy or the notices changed (the
    /// open charges are then planned again: ``replanAll(index:)``) is in `replan`.
    package func reload(_ new: Settings) -> [String] { reloading(new).restart }

    package func reloading(_ new: Settings) -> (restart: [String], replan: Bool) {
        active.withLock { current in
            let (applied, restart) = Self.reloadable(current.settings, new)
            let replan = applied.policy != current.settings.policy || applied.notices != current.settings.notices
                || applied.defaultTimeZone != current.settings.defaultTimeZone
            current = (applied, ChargeMachine(planner: Planner(policy: applied.policy, zones: current.machine.planner.zones,
                                                               posteriors: current.machine.planner.posteriors), notices: applied.notices,
                                              retryAfterUpdate: applied.retryAfterUpdate))
            return (restart, replan)
        }
    }

    /// Events appended to the outbox and not yet written to the spool.
    package var outboxPending: Int64 { signals.outbox.pending }

    /// The spool writer is far behind: new work waits (backpressure) until it catches up.
    package var spoolBehind: Bool { signals.spoolBehind(batchEvents: settings.daemon.spoolBatchEvents) }

    func count(_ update: (inout EngineStats) -> Void) { stats.withLock { update(&$0) } }

    // MARK: Carrying out the machine's actions

    /// Writes the events, in order, and counts what they say.
    func emit(_ tx: any ChargeTransaction, _ list: [ChargeEvent], charge: inout ChargeRecord, at now: Int64) throws {
        for event in list {
            let context = try noticeContext(tx, event, charge: charge, at: now)
            try events.insert(tx, events.render(event, charge: &charge, at: now, context: context))
        }
        counted(list)
    }

    package func takeWoken() -> [(Int64, Int64)] { woken.withLock { w in defer { w.removeAll() }; return w } }

    /// The statistics an event list moves.
    func counted(_ list: [ChargeEvent]) {
        for event in list {
            switch event {
            case .actionRequired: count { $0.waiting += 1 }
            case .exhausted: count { $0.exhausted += 1 }
            case .closed: count { $0.closed += 1 }
            default: break
            }
        }
    }

    /// Plans a charge's next step from the store's view of it, writes what that says, and returns its wake time.
    func replan(_ tx: any ChargeTransaction, _ charge: inout ChargeRecord, machine: ChargeMachine, now: Int64) throws -> Int64? {
        let methods = try tx.methods(customer: charge.customer)
        charge.zone = try zone(tx, customer: charge.customer)
        let plan = machine.plan(&charge, book: try tx.book(charge, methods: methods, now: now), methods: methods, now: now)
        planned(plan)
        try emit(tx, plan.events, charge: &charge, at: now)
        return plan.wake
    }

    /// The metrics a plan moves: a decision, and the rule that blocked it.
    func planned(_ plan: ChargeMachine.Plan) {
        meters.decisions.increment()
        if plan.rule != .none { meters.complianceBlock(plan.rule) }
    }

    func zone(_ tx: any ChargeTransaction, customer: String) throws -> Int {
        zoneIndex[try tx.zone(ofCustomer: customer) ?? ""] ?? defaultZone
    }
}
