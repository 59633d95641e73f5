import Foundation
import HTTPTransport
import Logging
import RelanceConfig

extension Deliverer {
    /// Composes a message for every customer whose notices may go now (the cap passed), after asking
    /// `relanced` which of their charges are settled or held.
    func composeDue(_ composer: Composer, settings: Settings, now: Int64) async throws -> Bool {
        var worked = false
        for kind in [NoticeKind.thanks, .dunning] {
            let customers = try await journal.dueCustomers(kind, now: now, minInterval: settings.email.minInterval, limit: 500)
            guard !customers.isEmpty else { continue }
            worked = true
            // Customers side by side (each asks relanced about its own charges), `concurrency` at a time.
            let lanes = settings.deliver.concurrency
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<lanes {
                    let mine = stride(from: lane, to: customers.count, by: lanes).map { customers[$0] }
                    group.addTask {
                        for customer in mine where try await self.compose(customer, kind: kind, composer: composer, now: now) == false { return }
                    }
                }
                try await group.waitForAll()
            }
        }
        return worked
    }

    /// Composes one customer's message; false when relanced cannot be asked (the round stops composing).
    func compose(_ customer: String, kind: NoticeKind, composer: Composer, now: Int64) async throws -> Bool {
        let notices = try await journal.pendingNotices(customer: customer, kind: kind)
        var dropped = Set<String>()
        if kind == .dunning {
            let ids = Array(Set(notices.flatMap { ($0.data["charges"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } })).sorted()
            do {
                dropped = try await states.settledOrHeld(ids)
                if daemonDown.exchange(false, ordering: .relaxed) { logger.notice("relanced answers again: reminders resume") }
            } catch {
                if !daemonDown.exchange(true, ordering: .relaxed) {
                    logger.warning("cannot ask relanced for charge states: reminders wait", metadata: ["error": "\(error)"])
                }
                return false
            }
        }
        switch composer.compose(customer: customer, kind: kind, notices: notices, dropped: dropped, now: now) {
        case .message(let message, let merged):
            try await journal.compose(message, notices: merged, skipped: [], capAt: kind == .dunning ? now : nil)
            if merged.count > 1 { metrics.count(channel: "email", outcome: "merged", by: merged.count - 1) }
        case .nothing(let skipped):
            try await journal.close(notices: skipped, state: "skipped")
            metrics.count(channel: "email", outcome: "skipped", by: max(1, skipped.count))
            logger.info("reminder not sent: every charge in it is settled or held", metadata: [
                "customer.id": "\(customer)", "charges": "\(dropped.sorted().joined(separator: ","))", "events": "\(skipped.joined(separator: ","))",
            ])
        case .failed(let reason, let failed):
            for notice in failed { try inbox.fail(name: "\(notice.id).email", reason: reason, lines: [notice.line]) }
            try await journal.close(notices: failed.map(\.id), state: "failed")
            metrics.count(channel: "email", outcome: "failed", by: failed.count)
            logger.error("notice not deliverable: written to failed/", metadata: ["customer.id": "\(customer)", "reason": "\(reason)"])
        }
        return true
    }

    /// Sends every message due (new, retried, or interrupted by a crash), `concurrency` at a time, one SMTP connection each.
    func sendDue(_ smtp: SMTPSender, settings: Settings, now: Int64) async throws -> Bool {
        let due = try await journal.messagesDue(now: now, limit: 64 * smtp.lanes)
        guard !due.isEmpty else { return false }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<smtp.lanes {
                let mine = stride(from: lane, to: due.count, by: smtp.lanes).map { due[$0] }
                group.addTask {
                    for message in mine { try await self.send(message, smtp: smtp, lane: lane, settings: settings, now: now) }
                }
            }
            try await group.waitForAll()
        }
        return true
    }

    func send(_ message: OutgoingMessage, smtp: SMTPSender, lane: Int, settings: Settings, now: Int64) async throws {
        do throws(SMTPError) {
            try await smtp.send(SMTPMessage(from: settings.email.from, recipients: message.recipients, data: message.body), lane: lane)
        } catch {
            if error.kind == .transient && now - message.created < settings.email.retryFor {
                let wait = min(Int64(60) << min(message.attempts, 6), 3_600)
                try await journal.markRetry(message.id, nextAt: now + wait)
                metrics.count(channel: "email", outcome: "retried")
                logger.warning("email not sent: retrying", metadata: ["message.id": "\(message.id)", "error": "\(error)", "retry.in": "\(wait)s"])
                return
            }
            let lines = try await journal.markFailed(message.id)
            let reason = error.kind == .transient ? "gave up after \(DurationText.format(settings.email.retryFor)): \(error)" : "\(error)"
            try inbox.fail(name: "\(message.id).email", reason: reason, lines: lines)
            metrics.count(channel: "email", outcome: "failed")
            logger.error("email refused: written to failed/", metadata: ["message.id": "\(message.id)", "error": "\(reason)"])
            return
        }
        try await journal.markSent(message.id, at: now)
        metrics.count(channel: "email", outcome: "sent")
        logger.debug("email sent", metadata: ["message.id": "\(message.id)", "customer.id": "\(message.customer)"])
    }
}
