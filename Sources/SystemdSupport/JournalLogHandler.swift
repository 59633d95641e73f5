import CSystemd
package import Logging

/// A swift-log handler writing native journald entries through sd_journal_sendv(3).
///
/// Each entry carries `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`,
/// `CODE_FUNC`, `LOGGER` (the logger's label) and one field per metadata key (provider, handler
/// and call metadata merged, the call winning), named by `fieldName(forMetadataKey:)` and
/// flattened to its string form, so `journalctl CHARGE_ID=ch_123` finds a charge's lines.
/// Values may hold newlines or any bytes: sd_journal_sendv sends them length-prefixed.
///
/// Writing is a datagram to journald's local socket, synchronous like swift-log's stream handler.
package struct JournalLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var metadataProvider: Logger.MetadataProvider?
    package var logLevel: Logger.Level = .info
    let label: String
    let identifier: String

    /// A handler for the logger `label`, with entries tagged `SYSLOG_IDENTIFIER=identifier`.
    package init(label: String, identifier: String) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = LoggingSystem.metadataProvider
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        JournalEntry(fields: fields(for: event)).send()
    }

    /// The journal fields of one event: the handler's own first, then metadata sorted by field.
    ///
    /// Metadata is the provider's, then the handler's, then the call's, a later one winning on
    /// the same key. A metadata field that would shadow one of the handler's own (a key
    /// "message", say) is renamed `META_<FIELD>`; keys with no valid field name are dropped.
    func fields(for event: LogEvent) -> [(name: String, value: String)] {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { _, handler in handler }
        if let call = event.metadata { merged.merge(call) { _, call in call } }
        let fields: [(name: String, value: String)] = [
            ("MESSAGE", event.message.description),
            ("PRIORITY", String(Self.priority(event.level))),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
            ("LOGGER", label),
        ]
        let own = Set(fields.map(\.name))
        var extra: [(name: String, value: String)] = []
        for (key, value) in merged {
            guard let name = Self.fieldName(forMetadataKey: key) else { continue }
            extra.append((own.contains(name) ? "META_" + name : name, value.description))
        }
        extra.sort { $0.name < $1.name || ($0.name == $1.name && $0.value < $1.value) }
        return fields + extra
    }

    /// The syslog priority of a swift-log level.
    ///
    /// | level | priority |
    /// |---|---|
    /// | trace, debug | 7 (debug) |
    /// | info | 6 (info) |
    /// | notice | 5 (notice) |
    /// | warning | 4 (warning) |
    /// | error | 3 (err) |
    /// | critical | 2 (crit) |
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
