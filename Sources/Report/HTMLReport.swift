/// The report as one self-contained HTML page: inline CSS and SVG, no script, no external resource.
///
/// Tables carry their values in data attributes too: `#aging td[data-currency][data-band][data-amount]`,
/// `#lift [data-estimate]` (`data-value`, `data-low`, `data-high`, `data-n`, or `data-missing`),
/// `#largest-open tr[data-charge][data-amount]`.
package enum HTMLReport {
    package static func render(_ f: ReportFigures) -> String {
        var s = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Relance recovery report, \(Format.day(f.now))</title>
            <style>\(style)</style></head>
            <body data-now="\(f.now)"><header><h1>Relance recovery report</h1><dl>
            """
        for (name, value) in TextReport.header(f) {
            s += "<dt>\(Format.html(name))</dt><dd>\(Format.html(value))</dd>"
        }
        s += "</dl></header><main>"
        for (id, title, series) in ReportSections.curves(f) {
            s += figure(title, caption: ReportSections.curveCaption, SVGCharts.line(id: id, title: title, series: series))
        }
        for (id, title, label, bars) in ReportSections.bars(f) {
            let finished = bars.reduce(0) { $0 + $1.n }
            s += figure(title, caption: "Succeeded over finished attempts: the \(finished) attempts in the window that succeeded or declined (pending ones are left out).",
                        SVGCharts.bars(id: id, title: title, label: label == "hour" ? "local hour" : "days from the nearest payday", bars: bars))
        }
        s += section("Open amount by currency and age", aging(f))
        s += section("Learned policy against the holdout", lift(f.lift))
        s += section("The \(ReportSections.largestCount) largest open amounts", largest(f))
        return s + "</main></body></html>\n"
    }

    static func figure(_ title: String, caption: String, _ svg: String) -> String {
        "<section class=\"card\"><h2>\(Format.html(title))</h2><figure>\(svg)<figcaption>\(Format.html(caption))</figcaption></figure></section>"
    }

    static func section(_ title: String, _ body: String) -> String {
        "<section class=\"card\"><h2>\(Format.html(title))</h2>\(body)</section>"
    }

    static func aging(_ f: ReportFigures) -> String {
        guard !f.aging.isEmpty else { return "<p class=\"empty\" id=\"aging\">No open charge.</p>" }
        var s = "<table id=\"aging\"><thead><tr><th>currency</th>"
        s += ReportFigures.ageBands.map { "<th class=\"num\">\($0)</th>" }.joined() + "</tr></thead><tbody>"
        for row in f.aging {
            let currency = Format.html(row.currency)
            s += "<tr><th>\(currency)</th>"
            for (band, amount) in zip(ReportFigures.ageBands, row.amounts) {
                s += "<td class=\"num\" data-currency=\"\(currency)\" data-band=\"\(band)\" data-amount=\"\(amount)\">\(Format.grouped(amount))</td>"
            }
            s += "</tr>"
        }
        return s + "</tbody></table><p class=\"note\">Open charges (scheduled, in flight, waiting) by whole days since the first failure; amounts in minor units.</p>"
    }

    static func lift(_ lift: Lift) -> String {
        func share(_ name: String, _ id: String, _ v: Lift.Share?) -> String {
            guard let v else { return "<tr data-estimate=\"\(id)\" data-missing=\"1\"><th>\(name)</th><td colspan=\"4\">not enough data</td></tr>" }
            return "<tr data-estimate=\"\(id)\" data-value=\"\(Format.fixed(v.value))\" data-n=\"\(v.charges)\"><th>\(name)</th>"
                + "<td class=\"num\">\(Format.percent(v.value))</td><td class=\"num\">\(v.charges)</td>"
                + "<td class=\"num\">\(Format.grouped(v.recovered)) / \(Format.grouped(v.amount))</td><td class=\"num\">\(Format.fixed(v.effectiveSize, 1))</td></tr>"
        }
        func estimate(_ name: String, _ id: String, _ e: Lift.Estimate?) -> String {
            guard let e else { return "<tr data-estimate=\"\(id)\" data-missing=\"1\"><th>\(name)</th><td colspan=\"2\">not enough data</td></tr>" }
            return "<tr data-estimate=\"\(id)\" data-value=\"\(Format.fixed(e.value))\" data-low=\"\(Format.fixed(e.low))\" data-high=\"\(Format.fixed(e.high))\" data-n=\"\(e.n)\">"
                + "<th>\(name)</th><td class=\"num\">\(signed(e.value))</td><td class=\"num\">[\(signed(e.low)), \(signed(e.high))] over \(e.n)</td></tr>"
        }
        var s = "<div id=\"lift\"><table><thead><tr><th>charges with attempts by</th><th class=\"num\">recovered share</th><th class=\"num\">charges</th>"
        s += "<th class=\"num\">recovered / failed amount</th><th class=\"num\">effective n</th></tr></thead><tbody>"
        s += share("learned policy or exploration", "learned", lift.learned) + share("holdout", "holdout", lift.holdout)
        s += "</tbody></table><table><thead><tr><th>estimate</th><th class=\"num\">value</th><th class=\"num\">90 % interval</th></tr></thead><tbody>"
        s += estimate("lift (learned − holdout, recovered share)", "lift", lift.difference)
        s += estimate("shadow: mean of learned_p − rules_p", "shadow", lift.shadow)
        return s + """
            </tbody></table><p class="note">Shares are weighted by amount; the interval of the lift is the normal \
            approximation of a difference of two proportions with Kish's effective sample sizes \
            ((Σ amount)² / Σ amount²). The shadow estimate is the model's own expected gain of its choice over \
            the rules' choice, on the attempts where it scored both.</p></div>
            """
    }

    /// A difference of shares in percentage points: `+1.4 pts`.
    static func signed(_ x: Double) -> String { (x > 0 ? "+" : "") + Format.fixed(x * 100, 1) + " pts" }

    static func largest(_ f: ReportFigures) -> String {
        guard !f.largestOpen.isEmpty else { return "<p class=\"empty\" id=\"largest-open\">No open charge.</p>" }
        var s = "<table id=\"largest-open\"><thead><tr><th>charge</th><th>customer</th><th class=\"num\">amount</th><th>currency</th>"
        s += "<th class=\"num\">age (days)</th><th>decline class</th></tr></thead><tbody>"
        for c in f.largestOpen {
            s += "<tr data-charge=\"\(Format.html(c.id))\" data-amount=\"\(c.amount)\" data-age=\"\(c.ageDays)\"><td><code>\(Format.html(c.id))</code></td>"
            s += "<td><code>\(Format.html(c.customer))</code></td><td class=\"num\">\(Format.grouped(c.amount))</td>"
            s += "<td>\(Format.html(c.currency))</td><td class=\"num\">\(c.ageDays)</td><td>\(Format.html(c.declineClass))</td></tr>"
        }
        return s + "</tbody></table>"
    }
}
