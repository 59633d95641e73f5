package import RetryPlanner

/// `[daemon]`: where state lives and how the daemon runs.
package struct DaemonSettings: Sendable, Hashable {
    package var stateDir = "./var/state"
    package var spoolDir = "./var/spool"
    package var statusSocket = "./var/run/relanced.sock"
    /// Group owning the status socket (mode 0660); empty = the daemon's own group.
    package var statusSocketGroup = ""
    /// The admin socket (holds, releases, promises): mode 0600, or 0660 with `adminSocketGroup`.
    package var adminSocket = "./var/run/relanced-admin.sock"
    package var adminSocketGroup = ""
    /// Optional TCP address for Prometheus (`127.0.0.1:9464`); empty = off.
    package var metricsListen = ""
    package var pollInterval: Int64 = 30
    package var workers = 32
    /// Virtual time runs this many times faster than wall time (demos, staging). 1 = real time.
    package var timeScale = 1
    /// Events per spool file, and the longest an event waits for its file (milliseconds).
    package var spoolBatchEvents = 1_000
    package var spoolBatchMilliseconds = 200
    /// Stop taking new work when the spool's file system has less free space than this (bytes).
    package var spoolMinFreeBytes = 64 * 1_048_576
    /// More spool directories, one per consumer (`relance-deliver`, a CRM's): each gets every event.
    package var spoolCopies: [String] = []
    package var logLevel = "info"

    package init() {}
}

/// `[provider]`: which payment provider, and how hard to push it.
package struct ProviderSettings: Sendable, Hashable {
    package enum Kind: String, Sendable, CaseIterable { case sandbox, stripe }
    package var kind: Kind = .sandbox
    package var apiBase = "https://api.stripe.com"
    /// A path, or a systemd credential name (looked up in `$CREDENTIALS_DIRECTORY`). Never the key itself.
    package var apiKeyFile = ""
    package var requestsPerSecond = 25
    /// Retries of one request inside the client (network errors, 409, 429 `lock_timeout`, 5xx), as Stripe's own libraries do.
    package var maxNetworkRetries = 2
    package var connectTimeout: Int64 = 5
    package var requestTimeout: Int64 = 30
    package var maxResponseBytes = 8 * 1_048_576

    package init() {}
}

/// `[sandbox]`: the embedded, seeded provider.
package struct SandboxSettings: Sendable, Hashable {
    package var seed = 42
    package var customers = 2_000
    /// New failed charges per virtual day.
    package var failuresPerDay = 400
    /// Share (percent) of charges paid or voided out of band while retries are pending.
    package var outOfBandPercent = 4

    package init() {}
}

/// Everything `retry.toml` configures: an immutable snapshot, swapped whole on reload.
package struct Settings: Sendable, Hashable {
    package var daemon = DaemonSettings()
    /// `[store]`: SQLite or PostgreSQL; applied at start only.
    package var store = StoreSettings()
    package var provider = ProviderSettings()
    package var sandbox = SandboxSettings()
    /// The zone of customers whose provider data has none.
    package var defaultTimeZone = "UTC"
    package var notices: [NoticeLevel] = Settings.defaultNotices
    /// `[notices] default_locale`: a notice's locale when neither its level nor the customer names one.
    package var defaultLocale = "en"
    package var policy: Policy = .standard
    /// `[customer_action] retry_after_update`: a method the customer added or fixed is tried within this.
    package var retryAfterUpdate: Int64 = 300
    /// `[deliver]`, `[email]`, `[[webhook]]`: read by `relance-deliver`, validated by everyone.
    package var deliver = DeliverSettings()
    package var email = EmailSettings()
    package var webhooks: [WebhookSettings] = []

    package init() {}

    /// The reminder levels of the French practice the product follows: a friendly reminder, a
    /// second reminder, a firm one, a formal notice ("mise en demeure", sent even once retries are
    /// over, unless the charge was settled), then collections; and a thank-you once paid.
    package static let defaultNotices: [NoticeLevel] = [
        NoticeLevel(name: "reminder", after: 86_400, tone: "friendly", channel: "email"),
        NoticeLevel(name: "second_reminder", after: 7 * 86_400, tone: "helpful", channel: "email"),
        NoticeLevel(name: "firm_reminder", after: 15 * 86_400, tone: "firm", channel: "email"),
        NoticeLevel(name: "formal_notice", after: 25 * 86_400, tone: "formal", channel: "letter", afterExhausted: true),
        NoticeLevel(name: "thank_you", after: 0, tone: "friendly", channel: "email", on: .paid),
    ]
}
