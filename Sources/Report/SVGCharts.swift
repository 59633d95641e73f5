/// The report's two kinds of chart as inline SVG. Every plotted value is also in data attributes
/// (`data-series`, `data-x`, `data-y` with 4 decimals, `data-n`), so a reader can check the drawing
/// against the store without parsing geometry.
enum SVGCharts {
    /// Points resting on fewer charges are drawn faint: the end of a curve, where few charges are old enough.
    static let fewCharges = 30

    /// Recovery curves: one line with a dot per day per series, days 0...horizon.
    static func line(id: String, title: String, series: [ReportFigures.Series]) -> String {
        let maxY = series.flatMap(\.points).map(\.y).max() ?? 0
        let frame = SVGFrame(xMin: 0, xMax: Double(ReportFigures.horizon), yMax: SVGFrame.niceShare(maxY))
        var s = SVGFrame.open(label: title)
        s += "<g class=\"chart\" id=\"\(id)\" data-kind=\"line\">"
        s += frame.axes(xTicks: Array(stride(from: 0, through: ReportFigures.horizon, by: 10)),
                        xTitle: "days since the first failure", yTitle: "share of amount recovered")
        if series.isEmpty { s += frame.empty("no charges") }
        for (i, line) in series.enumerated() {
            let color = SVGFrame.color(i)
            let name = Format.html(line.name)
            s += "<g class=\"series\" data-series=\"\(name)\" stroke=\"\(color)\" fill=\"\(color)\">"
            let points = line.points.map { "\(SVGFrame.n(frame.px(Double($0.x)))),\(SVGFrame.n(frame.py($0.y)))" }
            s += "<polyline fill=\"none\" points=\"\(points.joined(separator: " "))\"/>"
            for p in line.points {
                s += "<circle data-series=\"\(name)\" data-x=\"\(p.x)\" data-y=\"\(Format.fixed(p.y))\" data-n=\"\(p.n)\""
                s += p.n < fewCharges ? " class=\"few\"" : ""
                s += " cx=\"\(SVGFrame.n(frame.px(Double(p.x))))\" cy=\"\(SVGFrame.n(frame.py(p.y)))\" r=\"2.2\">"
                s += "<title>\(name), day \(p.x): \(Format.percent(p.y)) of the amount of \(p.n) charges</title></circle>"
            }
            s += "</g>"
        }
        s += frame.legend(series.enumerated().map { ($1.name, SVGFrame.color($0)) })
        return s + "</g></svg>"
    }

    /// Success rates: a bar per hour or payday offset, its height the rate, `data-n` the attempts finished.
    static func bars(id: String, title: String, label: String, bars: [ReportFigures.Bar]) -> String {
        guard let first = bars.first?.x, let last = bars.last?.x else { return "" }
        let maxY = bars.map(\.y).max() ?? 0
        let frame = SVGFrame(xMin: Double(first) - 0.5, xMax: Double(last) + 0.5, yMax: SVGFrame.niceShare(maxY))
        let color = SVGFrame.color(0)
        var s = SVGFrame.open(label: title)
        s += "<g class=\"chart\" id=\"\(id)\" data-kind=\"bar\">"
        let step = bars.count > 24 ? 5 : 3
        let ticks = bars.map(\.x).filter { $0 % step == 0 }
        s += frame.axes(xTicks: ticks, xTitle: label, yTitle: "succeeded / finished attempts")
        let total = bars.reduce(0) { $0 + $1.n }
        if total == 0 { s += frame.empty("no finished attempts") }
        let width = frame.plotWidth / Double(bars.count) * 0.78
        s += "<g class=\"series\" data-series=\"success\" fill=\"\(color)\">"
        for b in bars {
            let top = frame.py(b.y), base = frame.py(0)
            s += "<rect data-x=\"\(b.x)\" data-y=\"\(Format.fixed(b.y))\" data-n=\"\(b.n)\""
            s += " x=\"\(SVGFrame.n(frame.px(Double(b.x)) - width / 2))\" y=\"\(SVGFrame.n(top))\""
            s += " width=\"\(SVGFrame.n(width))\" height=\"\(SVGFrame.n(base - top))\">"
            s += "<title>\(label) \(b.x): \(Format.percent(b.y)) of \(b.n) finished attempts</title></rect>"
        }
        s += "</g>"
        s += frame.legend([("success rate", color)])
        return s + "</g></svg>"
    }
}
