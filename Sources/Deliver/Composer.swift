import Foundation
import RelanceConfig

/// Turns a customer's pending notices into one email: the pure step between the journal and SMTP.
///
/// The lead notice (highest level; the latest among equals) gives the template, locale, contact
/// and link to pay; `charges` and `totals` cover every notice merged, less the charges `relanced`
/// says are settled or held. A message left with no charge is not composed (its notices are
/// skipped); a missing template or an invalid address fails the notices, with the reason.
package struct Composer: Sendable {
    package let templates: TemplateSet
    package let from: String
    package let replyTo: String
    package let bccArchive: String

    package init(templates: TemplateSet, from: String, replyTo: String, bccArchive: String) {
        self.templates = templates
        self.from = from
        self.replyTo = replyTo
        self.bccArchive = bccArchive
    }

    package enum Outcome {
        case message(OutgoingMessage, merged: [String])
        /// Every charge settled or held: nothing to send.
        case nothing(skipped: [String])
        case failed(reason: String, notices: [SpoolEvent])
    }

    package func compose(customer: String, kind: NoticeKind, notices: [SpoolEvent], dropped: Set<String>, now: Int64) -> Outcome {
        // Each event's data decoded once.
        let decoded = notices.map { (event: $0, data: $0.data) }
        guard let lead = Self.lead(decoded) else { return .nothing(skipped: []) }
        let data = lead.data
        var seen = Set<String>()
        var charges: [[String: Any]] = []
        for (event, eventData) in [lead] + decoded.filter({ $0.event.id != lead.event.id }) {
            for charge in eventData["charges"] as? [[String: Any]] ?? [] {
                guard let id = charge["id"] as? String else { continue }
                // A thank-you is about the charge paid, not the customer's other open ones it also lists.
                if kind == .thanks && id != event.subject { continue }
                guard seen.insert(id).inserted else { continue }
                if kind == .dunning && dropped.contains(id) { continue }
                charges.append(charge)
            }
        }
        if charges.isEmpty { return .nothing(skipped: notices.map(\.id)) }
        let contact = data["contact"] as? [String: Any] ?? [:]
        guard let email = contact["email"] as? String, EmailAddress.isValid(email) else {
            return .failed(reason: "invalid address: data.contact.email is \((contact["email"] as? String).map { "\"\($0)\"" } ?? "absent")", notices: notices)
        }
        let notice = data["notice"] as? [String: Any] ?? [:]
        let template = notice["template"] as? String ?? ""
        let locale = notice["locale"] as? String ?? templates.defaultLocale
        guard let (pair, used) = templates.lookup(template, locale: locale) else {
            return .failed(reason: "missing template: no \(template).\(locale).txt.mustache (nor for the default locale \(templates.defaultLocale)) in the templates directory", notices: notices)
        }
        let context = TemplateContext.make(data: data, charges: charges, locale: used, replyTo: replyTo.isEmpty ? from : replyTo)
        let text = pair.text.render(context)
        let (subject, body) = Self.splitSubject(text)
        let level = notice["level"] as? String ?? template
        let earliest = notices.min { ($0.time, $0.id) < ($1.time, $1.id) }?.id ?? lead.event.id
        let id = MessageID.make(customer: customer, level: level, earliestEvent: earliest, from: from)
        let mime = MIMEMessage(from: from, to: email, replyTo: replyTo, subject: subject, messageID: id, date: now,
                               text: body, html: pair.html?.render(context), language: used)
        let message = OutgoingMessage(id: id, customer: customer, kind: kind, recipients: [email] + (bccArchive.isEmpty ? [] : [bccArchive]),
                                      body: mime.bytes(), created: now)
        return .message(message, merged: notices.map(\.id))
    }

    /// The notice that speaks for a merged message: the highest level, the latest among equals.
    static func lead(_ notices: [(event: SpoolEvent, data: [String: Any])]) -> (event: SpoolEvent, data: [String: Any])? {
        func index(_ data: [String: Any]) -> Int { (data["notice"] as? [String: Any])?["index"] as? Int ?? 0 }
        return notices.max { a, b in (index(a.data), a.event.time, a.event.id) < (index(b.data), b.event.time, b.event.id) }
    }

    /// A rendered text template: `Subject: ...` on its first non-empty line, then the body.
    static func splitSubject(_ text: String) -> (subject: String, body: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while let first = lines.first, first.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeFirst() }
        guard let first = lines.first, first.hasPrefix("Subject:") else { return ("", text) }
        lines.removeFirst()
        while let next = lines.first, next.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeFirst() }
        return (first.dropFirst("Subject:".count).trimmingCharacters(in: .whitespaces), lines.joined(separator: "\n"))
    }
}
