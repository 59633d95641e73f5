import Logging
@testable import SystemdSupport
import Testing

/// Journal field names, priorities and the fields of an entry.
@Suite struct JournalLogHandlerTests {
    @Test(arguments: [
        ("charge.id", "CHARGE_ID"),
        ("attempt.number", "ATTEMPT"),
        ("customer.id", "CUSTOMER_ID"),
        ("count", "COUNT"),
        ("decline-code", "DECLINE_CODE"),
        ("Provider Name", "PROVIDER_NAME"),
        ("http.status_code", "HTTP_STATUS_CODE"),
        ("_private", "PRIVATE"),
        ("__x", "X"),
        ("2fa.method", "FA_METHOD"),
        ("._9lives", "LIVES"),
        ("v2", "V2"),
        ("café", "CAF_"),
        ("attempt", "ATTEMPT"),
        (String(repeating: "a", count: 80), String(repeating: "A", count: 64)),
    ])
    func fieldName(key: String, field: String) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == field)
    }

    @Test(arguments: ["", "_", "___", "42", "_1.2", "..", "é"])
    func noFieldName(key: String) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == nil)
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func priority(level: Logger.Level, priority: Int) {
        let handler = JournalLogHandler(label: "test", identifier: "relanced")
        let fields = handler.fields(for: LogEvent(level: level, message: "m", metadata: nil, source: "S", file: "f", function: "g", line: 1))
        #expect(fields.first { $0.name == "PRIORITY" }?.value == String(priority))
    }

    @Test func entryCarriesTheCallSiteAndMergedMetadata() {
        var handler = JournalLogHandler(label: "relance.dispatcher", identifier: "relanced")
        handler.metadataProvider = Logger.MetadataProvider { ["provider": "stripe", "charge.id": "from-provider"] }
        handler[metadataKey: "charge.id"] = "from-handler"
        handler[metadataKey: "worker"] = "3"
        let event = LogEvent(
            level: .warning, message: "attempt failed\nretrying later",
            metadata: ["charge.id": "ch_123", "attempt.number": "2", "message": "shadow", "": "dropped",
                       "methods": ["pm_1", "pm_2"]],
            source: "Daemon", file: "Daemon/Engine.swift", function: "attempt(_:)", line: 42
        )
        let fields = handler.fields(for: event)
        let expected: [(String, String)] = [
            ("MESSAGE", "attempt failed\nretrying later"),
            ("PRIORITY", "4"),
            ("SYSLOG_IDENTIFIER", "relanced"),
            ("CODE_FILE", "Daemon/Engine.swift"),
            ("CODE_LINE", "42"),
            ("CODE_FUNC", "attempt(_:)"),
            ("LOGGER", "relance.dispatcher"),
            ("ATTEMPT", "2"),
            ("CHARGE_ID", "ch_123"),
            ("META_MESSAGE", "shadow"),
            ("METHODS", #"["pm_1", "pm_2"]"#),
            ("PROVIDER", "stripe"),
            ("WORKER", "3"),
        ]
        #expect(fields.map(\.name) == expected.map(\.0))
        #expect(fields.map(\.value) == expected.map(\.1))
    }

    @Test func entryBytesAreOneItemPerField() {
        let entry = JournalEntry(fields: [("MESSAGE", "two\nlines"), ("CHARGE_ID", "ch_é")])
        let items = entry.items.map { String(decoding: entry.bytes[$0.offset..<($0.offset + $0.count)], as: UTF8.self) }
        #expect(items == ["MESSAGE=two\nlines", "CHARGE_ID=ch_é"])
        #expect(entry.bytes.count == items.reduce(0) { $0 + $1.utf8.count })
    }
}
