import RelanceConfig
import RetryPlanner
import Store

/// What a customer notice carries beyond the machine's event: how to reach the customer, every
/// charge it covers, the link to pay. Read in the transaction that writes the notice.
struct NoticeContext: Sendable {
    struct Covered: Sendable {
        var id: String
        var amount: Int64
        var currency: String
        var firstFailedAt: Int64
        var nextAttemptAt: Int64?
    }

    var contact: Contact
    /// The level's locale, else the customer's, else `[notices] default_locale`.
    var locale: String
    var charges: [Covered]
    var segment: String
    var paymentURL: String
}

extension Engine {
    /// The context of a notice or an action required about `charge`; nil for other events. A failure
    /// notice of the customer's lead covers their other open charges: each records that level as sent.
    func noticeContext(_ tx: any ChargeTransaction, _ event: ChargeEvent, charge: ChargeRecord, at now: Int64) throws -> NoticeContext? {
        let level: NoticeLevel?
        switch event {
        case .noticeDue(_, let l, _, _): level = l
        case .actionRequired: level = nil
        default: return nil
        }
        let (settings, machine) = active.withLock { ($0.settings, $0.machine) }
        let contact = try tx.contact(customer: charge.customer) ?? Contact()
        var covered = [NoticeContext.Covered(id: charge.id, amount: charge.amount, currency: charge.currency,
                                             firstFailedAt: charge.firstFailedAt, nextAttemptAt: charge.state == .scheduled ? charge.nextAt : nil)]
        if level?.on != .paid {
            // Its open charges, and an exhausted one that handed the lead over and still owes its
            // formal notice (this one covers it: the customer gets one of each level).
            for rowid in try tx.openCharges(customer: charge.customer) + tx.exhaustedLeads(customer: charge.customer) {
                guard var other = try tx.charge(rowid: rowid), other.id != charge.id else { continue }
                covered.append(.init(id: other.id, amount: other.amount, currency: other.currency, firstFailedAt: other.firstFailedAt,
                                     nextAttemptAt: other.state == .scheduled ? other.nextAt : nil))
                if case .noticeDue(_, let l, let index, _) = event, l.on == .failure, charge.lead {
                    let before = other.nextNotice
                    machine.covered(&other, byNotice: index)
                    if other.nextNotice != before {
                        other.zone = try zone(tx, customer: other.customer)
                        if other.state == .inFlight { try tx.saveKeepingWake(other) } else { try tx.save(other, wake: machine.wakeTime(other, now: now)) }
                    }
                }
            }
        }
        let locale = level?.locale ?? (contact.locale.isEmpty ? settings.defaultLocale : contact.locale)
        return NoticeContext(contact: contact, locale: locale, charges: covered, segment: machine.segment(of: charge).name,
                             paymentURL: charge.paymentURL)
    }

    /// After a transition of `charge` in this transaction: when it spoke for its customer's notices
    /// and is open no more (ended, or its retries are over), their next open charge takes over, woken
    /// at its time (an attempt in flight keeps its wake: its answer plans it).
    func handOver(_ tx: any ChargeTransaction, from charge: ChargeRecord, wasOpen: Bool, machine: ChargeMachine, now: Int64) throws {
        guard wasOpen, !charge.state.isOpen, charge.lead else { return }
        for rowid in try tx.openCharges(customer: charge.customer) {
            guard var next = try tx.charge(rowid: rowid), next.id != charge.id else { continue }
            next.zone = try zone(tx, customer: next.customer)
            guard let wake = machine.takeOver(&next, now: now) else { return }
            if next.state == .inFlight {
                try tx.saveKeepingWake(next)
            } else {
                try tx.save(next, wake: wake)
                woken.withLock { $0.append((rowid, wake)) }
            }
            return
        }
    }
}
