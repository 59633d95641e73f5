/// One reminder level for customer communications (`relance.notice.due`).
package struct NoticeLevel: Sendable, Hashable {
    /// What a level answers: a failure still open, or its end in payment.
    package enum Trigger: String, Sendable, Hashable {
        /// Due `after` the customer's oldest open failure, while it is open.
        case failure
        /// Due `after` a charge ended paid (by Relance or elsewhere), once, when a notice came before.
        case paid
    }

    package var name: String
    package var after: Int64
    package var tone: String
    package var channel: String
    /// The template a mailer renders (default: the level's name).
    package var template: String
    /// The level's locale; nil: the customer's, else `[notices] default_locale`.
    package var locale: String?
    /// Still due once retries are over (exhausted), unless the charge was settled.
    package var afterExhausted: Bool
    package var on: Trigger

    package init(name: String, after: Int64, tone: String, channel: String, template: String? = nil, locale: String? = nil,
                 afterExhausted: Bool = false, on: Trigger = .failure) {
        self.name = name
        self.after = after
        self.tone = tone
        self.channel = channel
        self.template = template ?? name
        self.locale = locale
        self.afterExhausted = afterExhausted
        self.on = on
    }
}

/// A customer's notice ladder, split by what each level answers.
package struct NoticeLadder: Sendable, Hashable {
    /// Levels due while a failure is open, in order of `after`.
    package var failure: [NoticeLevel]
    /// Levels due once a charge ended paid.
    package var paid: [NoticeLevel]

    package init(_ levels: [NoticeLevel]) {
        failure = levels.filter { $0.on == .failure }
        paid = levels.filter { $0.on == .paid }
    }

    package var all: [NoticeLevel] { failure + paid }
}
