/// One charge with its customer's methods and their ledgers: the single-charge form the daemon,
/// `relancectl plan` and the tests drive. Its mutations are the planner's state transitions.
package struct ChargeBook: Sendable, Hashable {
    package var state: ChargeState
    package var methods: [MethodState]
    /// Per method, its attempts in time order.
    package var ledgers: [[LedgerEntry]]

    /// A book from stored state.
    package init(state: ChargeState, methods: [MethodState], ledgers: [[LedgerEntry]]) {
        self.state = state
        self.methods = methods
        self.ledgers = ledgers
    }

    /// A charge whose original payment failed at `failedAt` on method `method` with `decline`.
    package init(id: String, amount: Int64, failedAt: Int64, methods: [MethodState], method: Int, decline: Decline, segment: Int = 0, zone: Int = 0, history: [[LedgerEntry]]? = nil) {
        precondition(!methods.isEmpty && methods.count <= Int(UInt8.max) && method < methods.count)
        self.state = ChargeState(
            idHash: ChargeState.hash(id: id), amount: amount, firstFailedAt: failedAt,
            methodCount: UInt8(methods.count), segment: UInt16(segment), zone: UInt16(zone),
            currentMethod: UInt8(method), lastClass: decline.declineClass, lastFlags: decline.flags
        )
        self.methods = methods
        self.ledgers = history ?? Array(repeating: [], count: methods.count)
        apply(decline, method: method, at: failedAt, reattempt: false)
    }

    /// Plans the next step.
    package func plan(with planner: Planner, now: Int64) -> Decision {
        let (methods, flat) = flattened()
        return planner.plan(state, methods: methods, ledger: flat, now: now)
    }

    /// The methods pointing into one contiguous ledger, as the planner reads them.
    func flattened() -> ([MethodState], [LedgerEntry]) {
        var methods: [MethodState] = [], flat: [LedgerEntry] = []
        layOut(methods: &methods, ledger: &flat)
        return (methods, flat)
    }

    /// Appends the book's methods to `methods`, each pointing at its ledger (its last 65,535 entries)
    /// appended to `ledger`: the planner's contiguous form, shared by one book and a batch. Through
    /// buffer pointers: no reference counting a method or an entry.
    @inline(__always)
    func layOut(methods: inout [MethodState], ledger: inout [LedgerEntry]) {
        self.methods.withUnsafeBufferPointer { bookMethods in
            ledgers.withUnsafeBufferPointer { ledgers in
                for i in 0..<bookMethods.count {
                    var m = bookMethods[i]
                    ledgers[i].withUnsafeBufferPointer { entries in
                        let kept = UnsafeBufferPointer(rebasing: entries.suffix(Int(UInt16.max)))
                        m.ledgerStart = UInt32(ledger.count)
                        m.ledgerCount = UInt16(kept.count)
                        ledger.append(contentsOf: kept)
                    }
                    methods.append(m)
                }
            }
        }
    }

    /// Records a declined retry on `method` at `time`.
    package mutating func recordDecline(_ decline: Decline, method: Int, at time: Int64) {
        state.attemptsOnMethod = method == Int(state.currentMethod) ? state.attemptsOnMethod &+ 1 : 1
        state.attempts &+= 1
        state.lastAttemptAt = time
        state.currentMethod = UInt8(method)
        state.lastClass = decline.declineClass
        state.lastFlags = decline.flags
        apply(decline, method: method, at: time, reattempt: true)
    }

    /// Records a successful retry (the charge is recovered).
    package mutating func recordSuccess(method: Int, at time: Int64) {
        state.attempts &+= 1
        state.lastAttemptAt = time
        state.currentMethod = UInt8(method)
        methods[method].lastSuccessAt = time
        ledgers[method].append(LedgerEntry(time: time, amount: state.amount, flags: .reattempt))
    }

    /// The customer updated a method (new card data, new authorization): it becomes usable again, with
    /// the expiry the updated method carries (year 0: none, as everywhere).
    package mutating func methodUpdated(_ method: Int, expiryYear: Int, expiryMonth: Int) {
        methods[method].flags.subtract(MethodState.Flags.skipped)
        if methods[method].forbids != .consentRevoked { methods[method].forbids = .none }
        methods[method].expiry = MethodState.expiry(year: expiryYear, month: expiryMonth)
    }

    mutating func apply(_ decline: Decline, method: Int, at time: Int64, reattempt: Bool) {
        var flags: LedgerEntry.Flags = .declined
        if reattempt { flags.insert(.reattempt) }
        ledgers[method].append(LedgerEntry(
            time: time, amount: state.amount, flags: flags, merchantAdviceCode: decline.merchantAdviceCode,
            forbids: decline.forbids, visaCategory: decline.visaCategory
        ))
        if decline.forbids != .none { methods[method].forbids = decline.forbids }
        methods[method].flags.formUnion(MethodState.mark(for: decline))
    }
}

extension Planner {
    /// Plans many books at once with ``planBatch(_:methods:ledger:now:days:into:)``: their states,
    /// methods and ledgers laid out in contiguous storage first. The decisions, in the books' order.
    package func planBatch(_ books: [ChargeBook], now: Int64) -> [Decision] {
        var states: [ChargeState] = [], methods: [MethodState] = [], ledger: [LedgerEntry] = []
        // One pass over the books (each one's arrays are elsewhere on the heap: a second pass to size
        // the storage would miss the cache as often as the copy), through buffer pointers (no
        // reference counting a method or an entry); the storage grows geometrically from a guess.
        states.reserveCapacity(books.count)
        methods.reserveCapacity(books.count * 3)
        ledger.reserveCapacity(books.count * 6)
        books.withUnsafeBufferPointer { books in
            for book in books {
                var state = book.state
                state.methodsStart = UInt32(methods.count)
                book.layOut(methods: &methods, ledger: &ledger)
                states.append(state)
            }
        }
        var decisions = [Decision](repeating: Decision(at: 0, kind: .stop), count: states.count)
        states.withUnsafeBufferPointer { c in
            methods.withUnsafeBufferPointer { m in
                ledger.withUnsafeBufferPointer { l in
                    decisions.withUnsafeMutableBufferPointer { d in planBatch(c, methods: m, ledger: l, now: now, into: d) }
                }
            }
        }
        return decisions
    }
}
