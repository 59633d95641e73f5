/// A failed charge as a replay starts it: its original failure, its customer's methods.
package struct ReplayCharge: Sendable {
    package var id: String
    package var amount: Int64
    package var failedAt: Int64
    package var methods: [MethodState]
    /// The method the original payment failed on.
    package var method: Int
    package var decline: Decline
    package var segment: Int
    package var zone: Int
    /// When it was settled elsewhere (paid on the hosted page, voided, cancelled), if it was: no attempt after.
    package var closedAt: Int64?
    /// Per method, its credential's key: the charges of one customer share their cards, each card's
    /// ledger and what its declines left on it (as the daemon's store does). Empty: the charge's own.
    package var credentials: [String] = []

    package init(id: String, amount: Int64, failedAt: Int64, methods: [MethodState], method: Int, decline: Decline, segment: Int, zone: Int, closedAt: Int64?) {
        self.id = id
        self.amount = amount
        self.failedAt = failedAt
        self.methods = methods
        self.method = method
        self.decline = decline
        self.segment = segment
        self.zone = zone
        self.closedAt = closedAt
    }
}

/// An attempt a replay is about to make, for its outcome model.
package struct ReplayQuery {
    /// The charge's place in the replay's list.
    package var charge: Int
    package var number: Int
    package var method: Int
    package var at: Int64
    package var book: ChargeBook
    package var bucket: UInt8
}

/// What a replay came to.
package struct ReplayResult: Sendable {
    package var failedAmount: Int64 = 0
    package var recoveredAmount: Int64 = 0
    package var recovered = 0
    package var charges = 0
    package var attempts = 0
    /// Days from failure to recovery, per recovered charge.
    package var daysToRecover: [Double] = []
    /// Attempts the network rules deferred, by rule.
    package var deferrals: [Rule: Int] = [:]
    /// Attempts made at a time a rule forbade (network rule, calendar, span, attempt cap): must be 0.
    package var violations = 0
    /// Violations by what was broken (a rule's key, `calendar`, `max_span`, `max_attempts`).
    package var violationKinds: [String: Int] = [:]
    /// Attempts by the policy that chose their time.
    package var byPolicy: [ChoicePolicy: Int] = [:]
    package var recoveredByPolicy: [ChoicePolicy: Int64] = [:]

    package init() {}

    package var attemptsPerRecovery: Double { recovered == 0 ? 0 : Double(attempts) / Double(recovered) }
}

/// Replays failed charges through the planner on a virtual clock, in time order: each planned
/// attempt gets its outcome from `outcome` (nil: it succeeded), and every attempt is checked against
/// the rules again at its time. With learning on, the learner is rebuilt from the replay's own
/// outcomes every `relearnEvery` seconds, as the daemon rebuilds it from its records.
package struct Replay {
    package var planner: Planner
    package var relearnEvery: Int64 = 86_400
    /// Outcomes known before the replay starts (a store's history).
    package var prior = PosteriorBuilder()

    package init(planner: Planner) {
        self.planner = planner
    }

    package func run(_ charges: [ReplayCharge], until end: Int64, outcome: (ReplayQuery) -> Decline?) -> ReplayResult {
        var result = ReplayResult()
        var planner = self.planner
        var builder = prior
        if builder.outcomes > 0 { planner = planner.with(posteriors: builder.build(minSamples: planner.policy.learning.minSamples)) }
        var books: [ChargeBook] = []
        var pending: [Decision] = []
        var queue = TimeQueue()
        books.reserveCapacity(charges.count)
        for (i, c) in charges.enumerated() {
            books.append(ChargeBook(id: c.id, amount: c.amount, failedAt: c.failedAt, methods: c.methods, method: c.method, decline: c.decline,
                                    segment: c.segment, zone: c.zone))
            pending.append(Decision(at: c.failedAt, kind: .stop))
            queue.push(c.failedAt, i)
            result.failedAmount += c.amount
            result.charges += 1
        }
        // Each credential's method state and ledger, shared by the charges that use it.
        var credentialIndex: [String: Int] = [:]
        var shared: [(method: MethodState, ledger: [LedgerEntry])] = []
        var links: [[Int]] = []
        for (i, c) in charges.enumerated() {
            links.append(c.methods.indices.map { m in
                let key = m < c.credentials.count ? c.credentials[m] : "\(c.id)#\(m)"
                if let k = credentialIndex[key] { return k }
                credentialIndex[key] = shared.count
                shared.append((books[i].methods[m], []))
                return shared.count - 1
            })
        }
        var joined = [Bool](repeating: false, count: charges.count)
        func load(_ i: Int) {
            for (m, k) in links[i].enumerated() {
                var method = shared[k].method
                var ledger = shared[k].ledger
                // At its failure, the charge brings what its original decline left on its method.
                if !joined[i] {
                    method.flags.formUnion(books[i].methods[m].flags)
                    if books[i].methods[m].forbids != .none { method.forbids = books[i].methods[m].forbids }
                    ledger.append(contentsOf: books[i].ledgers[m])
                    ledger.sort { $0.time < $1.time }
                }
                books[i].methods[m] = method
                books[i].ledgers[m] = ledger
            }
            joined[i] = true
        }
        func store(_ i: Int) {
            for (m, k) in links[i].enumerated() { shared[k] = (books[i].methods[m], books[i].ledgers[m]) }
        }
        var nextLearn = (charges.map(\.failedAt).min() ?? 0) + relearnEvery
        while let (t, i) = queue.pop(), t <= end {
            if relearnEvery > 0 && t >= nextLearn && planner.policy.learning.mode == .on {
                planner = planner.with(posteriors: builder.build(minSamples: planner.policy.learning.minSamples))
                while nextLearn <= t { nextLearn += relearnEvery }
            }
            let c = charges[i]
            if let closed = c.closedAt, closed <= t { continue }
            load(i)
            defer { store(i) }
            let due = pending[i]
            if due.kind == .attempt {
                let m = Int(due.method)
                let book = books[i]
                // As the daemon does at the reservation: a plan the rules no longer allow (a card
                // expired meanwhile) is planned again, not attempted.
                if books[i].recheck(with: planner, method: m, at: t) != nil {
                    pending[i] = books[i].plan(with: planner, now: t)
                    if pending[i].kind == .attempt { queue.push(max(pending[i].at, t + 1), i) }
                    continue
                }
                if let broken = broken(book, at: t, planner: planner) {
                    result.violations += 1
                    result.violationKinds[broken, default: 0] += 1
                }
                if due.adjustments.contains(.compliance) { result.deferrals[due.rule, default: 0] += 1 }
                result.attempts += 1
                result.byPolicy[due.policy, default: 0] += 1
                let bucket = planner.features(at: t, zone: c.zone, segment: c.segment).bucket
                let number = Int(book.state.attempts) + 1
                let decline = outcome(ReplayQuery(charge: i, number: number, method: m, at: t, book: book, bucket: bucket))
                let method = book.methods[m]
                builder.add(Observation(declineClass: book.state.lastClass, network: method.network, funding: method.funding, country: method.country,
                                        bucket: bucket, succeeded: decline == nil, byRules: due.policy == .rules || due.policy == .holdout))
                guard let decline else {
                    books[i].recordSuccess(method: m, at: t)
                    result.recovered += 1
                    result.recoveredAmount += c.amount
                    result.recoveredByPolicy[due.policy, default: 0] += c.amount
                    result.daysToRecover.append(Double(t - c.failedAt) / 86_400)
                    continue
                }
                books[i].recordDecline(decline, method: m, at: t)
            }
            let next = books[i].plan(with: planner, now: t)
            pending[i] = next
            if next.kind == .attempt { queue.push(max(next.at, t + 1), i) }
        }
        for book in books { audit(book, rules: planner.policy.rules, into: &result) }
        return result
    }

    /// The network rules counted again on each credential's ledger, apart from the planner: no
    /// attempt after a decline that forbids the credential; Visa's reattempts within its window and
    /// Mastercard's declines within 24 hours at most their limits.
    func audit(_ book: ChargeBook, rules: NetworkRules, into result: inout ReplayResult) {
        for (m, ledger) in book.ledgers.enumerated() {
            let network = book.methods[m].network
            var forbidden = false
            for (k, e) in ledger.enumerated() {
                if forbidden && e.flags.contains(.reattempt) { result.violations += 1; result.violationKinds["attempt_after_forbidding_decline", default: 0] += 1 }
                if e.forbids != .none { forbidden = true }
                let reattempts = ledger[...k].filter { $0.flags.contains(.reattempt) && $0.time > e.time - rules.visaWindow }.count
                if network == .visa && reattempts > rules.visaReattemptLimit { result.violations += 1; result.violationKinds["visa_reattempt_limit", default: 0] += 1 }
                let declines = ledger[...k].filter { $0.flags.contains(.declined) && $0.time > e.time - rules.mastercardDeclineWindow }.count
                if network == .mastercard && declines > rules.mastercardDeclineLimit { result.violations += 1; result.violationKinds["mastercard_decline_limit", default: 0] += 1 }
            }
        }
    }

    /// What of the calendar, the span and the attempt cap an attempt at `t` breaks (checked apart
    /// from the planner's own path); nil when nothing.
    func broken(_ book: ChargeBook, at t: Int64, planner: Planner) -> String? {
        let s = book.state
        let segment = planner.policy.segments[min(Int(s.segment), planner.policy.segments.count - 1)]
        if t >= s.firstFailedAt + segment.maxSpan { return "max_span" }
        if Int(s.attempts) >= segment.maxAttempts { return "max_attempts" }
        return planner.calendarTime(t, zone: Int(s.zone), segment: Int(s.segment), spread: 0) == t ? nil : "calendar"
    }
}

/// A binary min-heap of (time, charge).
struct TimeQueue {
    var items: [(Int64, Int)] = []

    mutating func push(_ t: Int64, _ i: Int) {
        items.append((t, i))
        var k = items.count - 1
        while k > 0 {
            let parent = (k - 1) / 2
            guard items[k] < items[parent] else { break }
            items.swapAt(k, parent)
            k = parent
        }
    }

    mutating func pop() -> (Int64, Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == k { break }
                items.swapAt(k, m)
                k = m
            }
        }
        return top
    }
}
