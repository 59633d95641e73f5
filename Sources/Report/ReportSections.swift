/// The report's charts and tables, by id and title, shared by the HTML and the text renderings.
enum ReportSections {
    static let largestCount = 20

    static let curveCaption = "Share of the failed amount recovered within d days of the first failure, over the charges at least d days old (faint dots: fewer than 30 charges). Amounts are minor units (cents, yen...) summed across currencies without conversion."

    static func curves(_ f: ReportFigures) -> [(id: String, title: String, series: [ReportFigures.Series])] {
        [
            ("recovery-by-class", "Recovery by decline class", f.byClass),
            ("recovery-by-segment", "Recovery by segment", f.bySegment),
            ("recovery-by-policy", "Recovery by policy", f.byPolicy),
        ]
    }

    static func bars(_ f: ReportFigures) -> [(id: String, title: String, label: String, bars: [ReportFigures.Bar])] {
        [
            ("success-by-hour", "Attempt success rate by the customer's local hour", "hour", f.byHour),
            ("success-by-payday", "Attempt success rate by days from the nearest payday", "day", f.byPayday),
        ]
    }

    static func window(_ f: ReportFigures) -> String {
        switch (f.from, f.to) {
        case (nil, nil): "every charge and attempt"
        case let (from?, nil): "from \(Format.day(from))"
        case let (nil, to?): "to \(Format.day(to))"
        case let (from?, to?): "\(Format.day(from)) to \(Format.day(to))"
        }
    }
}
