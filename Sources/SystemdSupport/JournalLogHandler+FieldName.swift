extension JournalLogHandler {
    /// Metadata keys whose journal field is not the mechanical mapping.
    static let specialFields: [String: String] = [
        "charge.id": "CHARGE_ID",
        "attempt.number": "ATTEMPT",
    ]

    /// journald's longest field name.
    static let maximumFieldLength = 64

    /// The journal field for a metadata key.
    ///
    /// Uppercased, every character outside `[A-Z0-9]` becomes `_`, then leading `_` and digits are
    /// dropped (journald reserves `_` fields for itself and fields start with a letter), and the
    /// result is cut to 64 characters. Special cases: `charge.id` → `CHARGE_ID`, `attempt.number`
    /// → `ATTEMPT`. Nil when nothing valid remains (`""`, `"_"`, `"42"`).
    package static func fieldName(forMetadataKey key: String) -> String? {
        if let special = specialFields[key] { return special }
        var mapped = ""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "A"..."Z", "0"..."9": mapped.unicodeScalars.append(scalar)
            case "a"..."z": mapped.unicodeScalars.append(Unicode.Scalar(UInt8(scalar.value) - 32))
            default: mapped.unicodeScalars.append("_")
            }
        }
        let name = mapped.drop { $0 == "_" || $0.isASCII && $0.isNumber }
        guard !name.isEmpty else { return nil }
        return String(name.prefix(maximumFieldLength))
    }
}
