import PropertyBased
import RetryPlanner
import Testing

/// Random sequences of inputs (wakes at random times, answers of every kind, settlements, methods
/// changed), run as the daemon runs them, with the invariants checked after each step.
@Suite("Charge machine invariants")
struct ChargeMachinePropertyTests {
    typealias Rng = PlannerPropertyTests.Rng

    static let outcomes: [RawDecline] = PlannerPropertyTests.declines.filter { $0.1 == .card }.map(\.0)

    @Test func randomInputSequencesKeepEveryInvariant() async {
        await propertyCheck(count: 1_000, input: Gen.uint64()) { seed in
            Self.run(seed: seed)
        }
    }

    /// The test ladder with a formal notice sent even after exhaustion and a thank-you on payment.
    static let machine = ChargeMachine(
        planner: ChargeMachineTests.machine.planner,
        notices: ChargeMachineTests.notices.map { var l = $0; l.afterExhausted = l.name == "formal"; return l }
            + [NoticeLevel(name: "thanks", after: 0, tone: "friendly", channel: "email", on: .paid)])

    static func run(seed: UInt64) {
        var rng = Rng(s: seed)
        let machine = Self.machine
        var methods = (0..<(1 + rng.below(3))).map { ChargeMachineTests.visa("pm_\($0)", isDefault: $0 == 0) }
        // The world's ledger, by credential, as the store would keep it.
        var ledger: [String: [LedgerEntry]] = [:]
        var rec = ChargeMachineTests.charge(outcomes[rng.below(outcomes.count)])
        var now = ChargeMachineTests.start
        ledger[methods[0].credential, default: []].append(LedgerEntry(time: now, amount: rec.amount, flags: [.declined]))
        func book() -> ChargeBook {
            rec.book(methods: methods, ledgers: methods.map { m in ledger[m.credential, default: []].filter { $0.time >= rec.ledgerSince(now: now) } })
        }
        _ = machine.ingested(&rec, method: methods[0], declineClass: rec.lastClass, book: book(), methods: methods, now: now)
        var reserved: Set<Int> = []
        var inFlight: ChargeMachine.Reservation? = nil
        for _ in 0..<60 {
            now += Int64(rng.below(4 * 86_400))
            let before = rec.state
            switch rng.below(10) {
            case 0:
                // Settled elsewhere: only an open charge closes, and nothing follows.
                guard rec.state.isOpen, inFlight == nil else { continue }
                _ = machine.settled(&rec, status: [.paid, .void, .customerCancelled, .uncollectible][rng.below(4)], now: now)
                #expect(rec.state == .closed)
            case 9 where rng.chance(50):
                // An admin holds the charge (for a while, or until released), or releases it.
                if rec.hold == nil {
                    _ = machine.hold(&rec, ChargeRecord.Hold(reason: "phone", until: rng.chance(50) ? now + Int64(rng.below(10 * 86_400)) : nil, since: now), now: now)
                } else if !machine.release(&rec, reason: "released", now: now).isEmpty && rec.state != .inFlight {
                    _ = machine.plan(&rec, book: book(), methods: methods, now: now)
                }
                continue
            case 1:
                // The customer changed their methods: a new card, or the default moved.
                if rng.chance(50) { methods.append(ChargeMachineTests.visa("pm_\(methods.count)", isDefault: false)) }
            case 2, 3:
                // A payment made elsewhere on one of the cards (another invoice, the hosted page) failed:
                // it counts against the card, and marks it as its decline says, as the runner stores it.
                let i = rng.below(methods.count)
                let d = DeclineTaxonomy.classify(outcomes[rng.below(outcomes.count)], rail: .card)
                ledger[methods[i].credential, default: []].append(LedgerEntry(
                    time: now, amount: 1_000, flags: [.declined, .reattempt], merchantAdviceCode: d.merchantAdviceCode, forbids: d.forbids,
                    visaCategory: d.visaCategory))
                if let marked = methods[i].marked(by: d) { methods[i] = marked }
            default:
                if let r = inFlight {
                    // The attempt's answer.
                    let answer: PayOutcome = rng.chance(30) ? .succeeded(paymentId: "ch_\(r.number)")
                        : rng.chance(10) ? .notMade("lost") : rng.chance(10) ? .busy("a debit under way") : .declined(outcomes[rng.below(outcomes.count)])
                    let index = methods.firstIndex { $0.token == r.method.token }!
                    let step = machine.outcome(&rec, number: r.number, method: r.method, methodIndex: index, reservedAt: now, answer, now: now)
                    if case .remove = step.ledger { ledger[r.method.credential]!.removeLast() }
                    if case .confirm(_, let d?, _) = step.ledger {
                        ledger[r.method.credential]![ledger[r.method.credential]!.count - 1] = LedgerEntry(
                            time: now, amount: rec.amount, flags: [.reattempt, .declined], merchantAdviceCode: d.merchantAdviceCode,
                            forbids: d.forbids, visaCategory: d.visaCategory)
                    }
                    if let change = step.method, let changed = methods[index].applying(change) { methods[index] = changed }
                    if step.replan { _ = machine.plan(&rec, book: book(), methods: methods, now: now) }
                    inFlight = nil
                    #expect(rec.state != .inFlight)
                    continue
                }
                let heldBefore = rec.hold.map { h in h.until.map { $0 > now } ?? true } ?? false
                // Now and then the wake did not read the guard (the credential was busy then).
                let guarded = !rng.chance(10)
                let (events, need) = machine.wake(&rec, now: now, guarded: guarded)
                // While held: no attempt and no notice (an attempt already in flight is resumed).
                if heldBefore && before != .inFlight {
                    #expect(events.allSatisfy { if case .noticeDue = $0 { false } else { true } })
                    #expect(need == .nothing)
                }
                // Once a charge is over, only what its end allows: a notice marked after_exhausted once
                // retries are over, a notice on payment once it ended paid; never a failure notice after
                // a settlement.
                for case .noticeDue(_, let level, _, _) in events where !before.isOpen {
                    if level.on == .paid {
                        #expect(before == .recovered || (before == .closed && rec.reason == "paid"))
                    } else {
                        #expect(before == .exhausted && level.afterExhausted)
                    }
                }
                switch need {
                case .attempt(let m):
                    // Never an attempt while in flight or over.
                    #expect(before == .scheduled)
                    let b = book()
                    let changed = rng.chance(10)
                    let step = machine.attempt(&rec, book: b, methods: methods, methodsChanged: changed, usedNumber: reserved.max() ?? 0, now: now)
                    if case .reserve(let r) = step {
                        // The network rules were checked again at this moment, and the number is new.
                        #expect(!changed && b.recheck(with: machine.planner, method: m, at: now) == nil)
                        #expect(reserved.insert(r.number).inserted)
                        #expect(rec.state == .inFlight && r.key == "rl_\(rec.id)_\(r.number)")
                        ledger[r.method.credential, default: []].append(LedgerEntry(time: now, amount: rec.amount, flags: [.reattempt]))
                        inFlight = r
                    }
                case .plan:
                    // A waiting charge at the end of its span, or any charge whose hold just ended.
                    _ = machine.plan(&rec, book: book(), methods: methods, now: now)
                case .keepPromise:
                    _ = machine.promised(&rec, book: book(), methods: methods, now: now)
                case .resume:
                    #expect(before == .inFlight)
                case .readGuard:
                    // Never an attempt without this wake's guard read.
                    #expect(!guarded && before == .scheduled)
                case .nothing:
                    break
                }
            }
            if !before.isOpen {
                // A charge that is over stays as it ended.
                #expect(rec.state == before)
            }
        }
    }
}
