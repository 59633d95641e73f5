/// The report as plain-text tables: the HTML report's numbers, section by section, each section
/// headed `## <chart id>` so that scripts can find it. Shares have 4 decimals, amounts are integers
/// in minor units, `-` marks a day with no charge old enough.
package enum TextReport {
    package static func render(_ f: ReportFigures) -> String {
        var out: [String] = []
        out.append("Relance recovery report")
        out.append(contentsOf: header(f).map { "\($0.0): \($0.1)" })
        for (id, title, series) in ReportSections.curves(f) {
            out.append("")
            out.append("## \(id): \(title)")
            out.append(ReportSections.curveCaption)
            out.append(curveTable(series))
        }
        for (id, title, label, bars) in ReportSections.bars(f) {
            out.append("")
            out.append("## \(id): \(title)")
            out.append(Format.table([[label, "rate", "finished"]] + bars.map { ["\($0.x)", Format.fixed($0.y), "\($0.n)"] }))
        }
        out.append("")
        out.append("## aging: open amount by currency and age (minor units)")
        out.append(Format.table([["currency"] + ReportFigures.ageBands]
            + f.aging.map { [$0.currency] + $0.amounts.map { "\($0)" } }))
        out.append("")
        out.append("## lift: learned policy against the holdout (90 % intervals)")
        out.append(contentsOf: liftLines(f.lift))
        out.append("")
        out.append("## largest-open: the \(ReportSections.largestCount) largest open amounts")
        out.append(Format.table([["charge", "customer", "amount", "currency", "age_days", "class"]]
            + f.largestOpen.map { [$0.id, $0.customer, "\($0.amount)", $0.currency, "\($0.ageDays)", $0.declineClass] }))
        return out.joined(separator: "\n") + "\n"
    }

    /// The lines under the header: now, window, totals.
    static func header(_ f: ReportFigures) -> [(String, String)] {
        let share = f.failedAmount > 0 ? " (\(Format.fixed(Double(f.recoveredAmount) / Double(f.failedAmount))))" : ""
        return [
            ("now", "\(Format.utc(f.now)) (\(f.now))"),
            ("window", ReportSections.window(f)),
            ("charges", "\(f.chargeCount)"),
            ("failed amount", "\(f.failedAmount) minor units, currencies mixed"),
            ("recovered amount", "\(f.recoveredAmount)\(share)"),
        ]
    }

    static func curveTable(_ series: [ReportFigures.Series]) -> String {
        guard !series.isEmpty else { return "no charges" }
        let byDay = series.map { s in Dictionary(uniqueKeysWithValues: s.points.map { ($0.x, $0.y) }) }
        var rows = [["d"] + series.map(\.name)]
        for d in 0...ReportFigures.horizon {
            rows.append(["\(d)"] + byDay.map { $0[d].map { Format.fixed($0) } ?? "-" })
        }
        return Format.table(rows)
    }

    static func liftLines(_ lift: Lift) -> [String] {
        func share(_ name: String, _ s: Lift.Share?) -> String {
            guard let s else { return "\(name): not enough data" }
            return "\(name): share \(Format.fixed(s.value)) charges \(s.charges) amount \(s.amount) recovered \(s.recovered) n_eff \(Format.fixed(s.effectiveSize, 1))"
        }
        func estimate(_ name: String, _ e: Lift.Estimate?, _ unit: String) -> String {
            guard let e else { return "\(name): not enough data" }
            return "\(name): \(Format.fixed(e.value)) [\(Format.fixed(e.low)), \(Format.fixed(e.high))] over \(e.n) \(unit)"
        }
        return [
            share("learned", lift.learned),
            share("holdout", lift.holdout),
            estimate("lift", lift.difference, "charges"),
            estimate("shadow", lift.shadow, "attempts"),
        ]
    }
}
