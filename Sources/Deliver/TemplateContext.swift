import Foundation

/// What a template sees: the lead notice's `data` as the event has it (docs/events.schema.json),
/// its `charges` and `totals` covering every notice merged into the message, and a few values
/// derived for display. The derived keys are listed in `derivedKeys`; every other key a template
/// names must be in the event schema (the template tests check both).
package enum TemplateContext {
    /// Keys added to the event's data, by path (`charges.amount_text`: in each charge).
    package static let derivedKeys: Set<String> = [
        "charges.amount_text", "charges.first_failed_date", "totals.amount_text", "several", "reply_to",
    ]

    package static func make(data: [String: Any], charges: [[String: Any]], locale: String, replyTo: String) -> [String: Any] {
        var context = data
        var totals: [String: Int64] = [:]
        var order: [String] = []
        context["charges"] = charges.map { charge -> [String: Any] in
            var c = charge
            let amount = (charge["amount"] as? NSNumber)?.int64Value ?? 0
            let currency = charge["currency"] as? String ?? ""
            if totals[currency] == nil { order.append(currency) }
            totals[currency, default: 0] += amount
            c["amount_text"] = Money.format(amount, currency: currency, locale: locale)
            c["first_failed_date"] = (charge["first_failed_at"] as? String).flatMap(RFC3339.parse).map { Dates.format($0, locale: locale) } ?? ""
            return c
        }
        context["totals"] = order.map { currency -> [String: Any] in
            ["currency": currency, "amount": totals[currency] ?? 0,
             "amount_text": Money.format(totals[currency] ?? 0, currency: currency, locale: locale)]
        }
        context["several"] = charges.count > 1
        context["reply_to"] = replyTo
        return context
    }
}

/// Amounts for people: `49,00 €` in French, `€49.00` in English, exact from minor units.
package enum Money {
    static let zeroDecimal: Set<String> = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
    static let threeDecimal: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
    static let symbols = ["EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"]

    package static func format(_ minor: Int64, currency: String, locale: String) -> String {
        let code = currency.uppercased()
        let decimals = zeroDecimal.contains(code) ? 0 : threeDecimal.contains(code) ? 3 : 2
        var unit: Int64 = 1
        for _ in 0..<decimals { unit *= 10 }
        let whole = String(minor.magnitude / UInt64(unit))
        let fraction = String(minor.magnitude % UInt64(unit))
        let french = locale.hasPrefix("fr")
        var grouped = ""
        for (i, c) in whole.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { grouped.append(french ? "\u{202F}" : ",") }
            grouped.append(c)
        }
        var number = String(grouped.reversed())
        if decimals > 0 { number += (french ? "," : ".") + String(repeating: "0", count: decimals - fraction.count) + fraction }
        if minor < 0 { number = "-" + number }
        let symbol = symbols[code]
        if french { return "\(number)\u{00A0}\(symbol ?? code)" }
        return symbol.map { "\($0)\(number)" } ?? "\(code) \(number)"
    }
}

/// Dates for people: `3 décembre 2026`, `3 December 2026`; other languages get `2026-12-03`.
package enum Dates {
    static let french = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"]
    static let english = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

    package static func format(_ time: Int64, locale: String) -> String {
        let (y, m, d) = RFC3339.civil(time >= 0 ? time / 86_400 : (time - 86_399) / 86_400)
        if locale.hasPrefix("fr") { return "\(d) \(french[Int(m) - 1]) \(y)" }
        if locale.hasPrefix("en") { return "\(d) \(english[Int(m) - 1]) \(y)" }
        return String(format: "%04lld-%02lld-%02lld", y, m, d)
    }
}
