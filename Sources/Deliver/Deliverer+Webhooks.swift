import Foundation
import Logging
import RelanceConfig

extension Deliverer {
    /// Posts every delivery due, the oldest pending of each subject only (order per subject), side by side.
    func postDue(_ current: Live, now: Int64) async throws -> Bool {
        let due = try await journal.deliveriesDue(now: now, limit: 256)
        guard !due.isEmpty else { return false }
        let hooks = Dictionary(current.settings.webhooks.map { ($0.url, $0) }, uniquingKeysWith: { a, _ in a })
        let lanes = current.settings.deliver.concurrency
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                let mine = stride(from: lane, to: due.count, by: lanes).map { due[$0] }
                group.addTask {
                    for delivery in mine { try await self.post(delivery, hook: hooks[delivery.hook], secret: current.secrets[delivery.hook], now: now) }
                }
            }
            try await group.waitForAll()
        }
        return true
    }

    func post(_ delivery: Journal.Delivery, hook: WebhookSettings?, secret: [UInt8]?, now: Int64) async throws {
        guard let hook, let secret else {
            try await fail(delivery, reason: "webhook \(delivery.hook) is no longer configured")
            return
        }
        switch await webhooks.post(delivery.line, eventID: delivery.eventID, to: hook.url, secret: secret) {
        case .delivered:
            try await journal.finishDelivery(delivery.seq, state: "sent")
            metrics.count(channel: "webhook", outcome: "sent")
        case .refused(let reason):
            try await fail(delivery, reason: "\(hook.url) refused it: \(reason)")
        case .retry(let reason):
            if delivery.attempts > 0 && now - delivery.taken >= hook.retryFor {
                try await fail(delivery, reason: "\(hook.url) failed for \(DurationText.format(hook.retryFor)): \(reason)")
                return
            }
            // 1 s, 2 s, 4 s ... up to an hour, in event time.
            let wait = min(Int64(1) << min(delivery.attempts, 12), 3_600)
            try await journal.retryDelivery(delivery.seq, nextAt: now + wait, firstFailure: delivery.attempts == 0 ? now : nil)
            metrics.count(channel: "webhook", outcome: "retried")
            logger.warning("webhook post failed: retrying", metadata: ["event.id": "\(delivery.eventID)", "url": "\(hook.url)", "error": "\(reason)"])
        }
    }

    func fail(_ delivery: Journal.Delivery, reason: String) async throws {
        let host = delivery.hook.split(separator: "/").dropFirst().first.map(String.init) ?? "webhook"
        try inbox.fail(name: "\(delivery.eventID).\(host)", reason: reason, lines: [delivery.line])
        try await journal.finishDelivery(delivery.seq, state: "failed")
        metrics.count(channel: "webhook", outcome: "failed")
        logger.error("webhook delivery failed: written to failed/", metadata: ["event.id": "\(delivery.eventID)", "reason": "\(reason)"])
    }
}
