import Deliver
import Foundation
import RelanceConfig
import Testing

/// A `relance.notice.due` line as relanced writes it.
func noticeLine(id: String, customer: String = "cus_1", level: String = "reminder", index: Int = 1, template: String? = nil,
                locale: String = "en", email: String? = "ana@example.test", charges: [String], time: String = "2026-12-03T10:00:00Z") -> String {
    var data: [String: Any] = [
        "charge": charges[0], "customer": customer, "amount": 4_900, "currency": "EUR",
        "notice": ["level": level, "index": index, "tone": "friendly", "channel": "email", "template": template ?? level,
                   "locale": locale, "due_at": time, "after_exhausted": false] as [String: Any],
        "charges": charges.map { ["id": $0, "amount": 4_900, "currency": "EUR", "first_failed_at": "2026-12-01T09:00:00Z", "next_attempt_at": NSNull()] as [String: Any] },
        "totals": [["currency": "EUR", "amount": 4_900 * charges.count]], "segment": "default", "payment_url": "https://pay.example.test/i/\(charges[0])",
    ]
    if let email { data["contact"] = ["email": email, "name": "Ana"] }
    let event: [String: Any] = ["specversion": "1.0", "id": id, "source": "relance://test/relanced", "type": "relance.notice.due", "time": time,
                                "subject": charges[0], "datacontenttype": "application/json", "data": data]
    return String(decoding: try! JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]), as: UTF8.self)
}

@Suite("Composing emails")
struct ComposerTests {
    let composer = Composer(templates: try! TemplateSet(directory: repoRoot.appendingPathComponent("config/templates").path, defaultLocale: "en"),
                            from: "billing@example.test", replyTo: "", bccArchive: "archive@example.test")

    func events(_ lines: [String]) throws -> [SpoolEvent] { try lines.map { try SpoolEvent.parse($0) } }

    @Test func mergedNoticesMakeOneMessageUnderTheHighestLevel() throws {
        let notices = try events([noticeLine(id: "in_1:3", charges: ["in_1"]),
                                  noticeLine(id: "in_2:5", level: "second_reminder", index: 2, charges: ["in_2", "in_1"], time: "2026-12-04T10:00:00Z")])
        guard case .message(let message, let merged) = composer.compose(customer: "cus_1", kind: .dunning, notices: notices, dropped: [], now: 100) else {
            Issue.record("no message")
            return
        }
        #expect(merged == ["in_1:3", "in_2:5"])
        #expect(message.recipients == ["ana@example.test", "archive@example.test"])
        let text = MIMEMessage.readable(message.body)
        #expect(text.contains("Subject: Reminder: a payment is still due"))
        #expect(text.contains("Invoice in_1") && text.contains("Invoice in_2") && text.contains("€98.00"))
        #expect(message.id == MessageID.make(customer: "cus_1", level: "second_reminder", earliestEvent: "in_1:3", from: "billing@example.test"))
        // The same notices again (after a crash) make the same Message-ID, whatever their order.
        guard case .message(let again, _) = composer.compose(customer: "cus_1", kind: .dunning, notices: notices.reversed(), dropped: [], now: 200) else { return }
        #expect(again.id == message.id)
    }

    @Test func settledChargesAreDroppedAndAnEmptyMessageIsNotSent() throws {
        let notices = try events([noticeLine(id: "in_1:3", charges: ["in_1", "in_2"])])
        guard case .message(let message, _) = composer.compose(customer: "cus_1", kind: .dunning, notices: notices, dropped: ["in_2"], now: 1) else {
            Issue.record("no message")
            return
        }
        #expect(!MIMEMessage.readable(message.body).contains("in_2"))
        guard case .nothing(let skipped) = composer.compose(customer: "cus_1", kind: .dunning, notices: notices, dropped: ["in_1", "in_2"], now: 1) else {
            Issue.record("a message with no charge")
            return
        }
        #expect(skipped == ["in_1:3"])
    }

    @Test func aThankYouListsOnlyThePaidCharge() throws {
        let thanks = try events([noticeLine(id: "in_1:9", level: "thank_you", index: 5, charges: ["in_1", "in_2"])])
        guard case .message(let message, _) = composer.compose(customer: "cus_1", kind: .thanks, notices: thanks, dropped: [], now: 1) else {
            Issue.record("no thank-you")
            return
        }
        let text = MIMEMessage.readable(message.body)
        #expect(text.contains("Thank you") && text.contains("Invoice in_1") && !text.contains("in_2"))
    }

    @Test func badInputFailsOnlyThatMessageWithAReason() throws {
        let noAddress = try events([noticeLine(id: "in_1:3", email: "not an address", charges: ["in_1"])])
        guard case .failed(let reason, _) = composer.compose(customer: "cus_1", kind: .dunning, notices: noAddress, dropped: [], now: 1) else {
            Issue.record("sent to an invalid address")
            return
        }
        #expect(reason.hasPrefix("invalid address"))
        let noTemplate = try events([noticeLine(id: "in_1:3", template: "nonexistent", charges: ["in_1"])])
        guard case .failed(let missing, _) = composer.compose(customer: "cus_1", kind: .dunning, notices: noTemplate, dropped: [], now: 1) else {
            Issue.record("rendered without a template")
            return
        }
        #expect(missing.hasPrefix("missing template"))
    }

    @Test func localeFallsBackToTheLanguageThenTheDefault() throws {
        let french = try events([noticeLine(id: "in_1:3", locale: "fr-CA", charges: ["in_1"])])
        guard case .message(let fr, _) = composer.compose(customer: "cus_1", kind: .dunning, notices: french, dropped: [], now: 1) else { return }
        #expect(MIMEMessage.readable(fr.body).contains("Content-Language: fr"))
        let german = try events([noticeLine(id: "in_1:3", locale: "de-DE", charges: ["in_1"])])
        guard case .message(let de, _) = composer.compose(customer: "cus_1", kind: .dunning, notices: german, dropped: [], now: 1) else { return }
        #expect(MIMEMessage.readable(de.body).contains("Content-Language: en"))
    }

    @Test func malformedEventsAreRefusedWithTheReason() {
        #expect(throws: DeliverError.self) { try SpoolEvent.parse("{not json") }
        #expect(throws: DeliverError.self) { try SpoolEvent.parse(#"{"specversion":"1.0","id":"a:1","type":"relance.notice.due","time":"yesterday","subject":"a","data":{"customer":"c"}}"#) }
        #expect(RFC3339.parse("2026-12-03T10:00:00Z") == 1_796_292_000)
        #expect(RFC3339.format(1_796_292_000) == "2026-12-03T10:00:00Z")
    }
}

@Suite("Webhook signatures and configuration")
struct SignatureTests {
    /// RFC 4231, test case 2.
    @Test func hmacMatchesTheRFCVector() {
        let mac = HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(MessageID.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func signatureIsStripesScheme() {
        let header = WebhookSender.signature(secret: Array("whsec_test".utf8), timestamp: 1_700_000_000, body: Array("{}".utf8))
        let expected = MessageID.hex(HMAC.sha256(key: Array("whsec_test".utf8), message: Array("1700000000.{}".utf8)))
        #expect(header == "t=1700000000,v1=\(expected)")
    }

    @Test func deliverSectionsAreValidated() {
        let bad = """
            [daemon]
            spool_copies = ["./var/deliver/spool", "./var/deliver/spool"]
            [deliver]
            spool_dir = "./var/spool"
            [email]
            server = "http://mail.example.test"
            password = "hunter2"
            from = "billing at example"
            [[webhook]]
            url = "http://crm.example.test/hook"
            types = ["relance.notice.sent"]
            """
        do {
            _ = try ConfigLoader.load(text: bad, file: "retry.toml", read: { _ in nil })
            Issue.record("accepted a broken [deliver]")
        } catch {
            let paths = Set(error.issues.map(\.path))
            #expect(paths.isSuperset(of: ["daemon.spool_copies", "deliver.spool_dir", "email.server", "email.password", "email.from",
                                          "webhook[0].url", "webhook[0].types[0]", "webhook[0].secret_file"]), "\(paths.sorted())")
        }
        let good = """
            [email]
            server = "smtp://127.0.0.1:2525"
            from = "billing@example.test"
            min_interval = "1h"
            [[webhook]]
            url = "https://crm.example.test/hook"
            types = ["relance.notice.due"]
            secret_file = "crm-secret"
            """
        let settings = try? ConfigLoader.load(text: good, file: "retry.toml", read: { _ in nil }).settings
        #expect(settings?.email.minInterval == 3_600 && settings?.email.isLoopback == true && settings?.webhooks.first?.retryFor == 3 * 86_400)
    }
}
