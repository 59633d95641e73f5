/// The plot area of a chart, its scales, axes and legend, as SVG text.
struct SVGFrame {
    static let width = 760.0, height = 320.0
    static let left = 60.0, right = 200.0, top = 20.0, bottom = 48.0
    /// Tableau 10: distinct in print and for the common colour blindnesses.
    static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

    var xMin: Double, xMax: Double
    var yMax: Double

    var plotWidth: Double { Self.width - Self.left - Self.right }
    var plotHeight: Double { Self.height - Self.top - Self.bottom }

    func px(_ x: Double) -> Double { Self.left + (x - xMin) / (xMax - xMin) * plotWidth }
    func py(_ y: Double) -> Double { Self.top + plotHeight - y / yMax * plotHeight }

    /// The smallest of 0.1, 0.2, ... 1.0 at or above `y` (shares), at least 0.1.
    static func niceShare(_ y: Double) -> Double {
        let tenths = (max(y, 0.0001) * 10).rounded(.up)
        return min(max(tenths, 1), 10) / 10
    }

    static func color(_ i: Int) -> String { palette[i % palette.count] }

    static func n(_ v: Double) -> String { Format.fixed(v, 1) }

    /// The opening `<svg>` with its accessible name.
    static func open(label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart-svg\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-label=\"\(Format.html(label))\">"
    }

    /// Steps of 10 % from 30 % up, of 5 % at 20 %, of 2 % at 10 %.
    var yTicks: [Double] {
        let tenths = Int((yMax * 10).rounded())
        let steps = tenths >= 3 ? tenths : tenths == 2 ? 4 : 5
        return (0...steps).map { Double($0) * yMax / Double(steps) }
    }

    /// Grid lines, both axes with ticks and labels, and the axis titles.
    func axes(xTicks: [Int], xTitle: String, yTitle: String) -> String {
        var s = "<g class=\"grid\">"
        for y in yTicks {
            s += "<line x1=\"\(Self.n(Self.left))\" x2=\"\(Self.n(Self.left + plotWidth))\" y1=\"\(Self.n(py(y)))\" y2=\"\(Self.n(py(y)))\"/>"
        }
        s += "</g><g class=\"axis y\">"
        s += "<line x1=\"\(Self.n(Self.left))\" x2=\"\(Self.n(Self.left))\" y1=\"\(Self.n(Self.top))\" y2=\"\(Self.n(Self.top + plotHeight))\"/>"
        for y in yTicks {
            s += "<text x=\"\(Self.n(Self.left - 8))\" y=\"\(Self.n(py(y) + 4))\" text-anchor=\"end\">\(Format.fixed(y * 100, 0)) %</text>"
        }
        s += "<text class=\"title\" transform=\"translate(14 \(Self.n(Self.top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(Format.html(yTitle))</text>"
        s += "</g><g class=\"axis x\">"
        let base = Self.top + plotHeight
        s += "<line x1=\"\(Self.n(Self.left))\" x2=\"\(Self.n(Self.left + plotWidth))\" y1=\"\(Self.n(base))\" y2=\"\(Self.n(base))\"/>"
        for t in xTicks {
            let x = px(Double(t))
            s += "<line x1=\"\(Self.n(x))\" x2=\"\(Self.n(x))\" y1=\"\(Self.n(base))\" y2=\"\(Self.n(base + 5))\"/>"
            s += "<text x=\"\(Self.n(x))\" y=\"\(Self.n(base + 18))\" text-anchor=\"middle\">\(t)</text>"
        }
        s += "<text class=\"title\" x=\"\(Self.n(Self.left + plotWidth / 2))\" y=\"\(Self.n(Self.height - 6))\" text-anchor=\"middle\">\(Format.html(xTitle))</text>"
        return s + "</g>"
    }

    /// A legend to the right of the plot: a swatch and a name per entry.
    func legend(_ entries: [(name: String, color: String)]) -> String {
        var s = "<g class=\"legend\">"
        let x = Self.left + plotWidth + 20
        for (i, e) in entries.enumerated() {
            let y = Self.top + 8 + Double(i) * 20
            s += "<g class=\"legend-item\" data-series=\"\(Format.html(e.name))\">"
            s += "<rect x=\"\(Self.n(x))\" y=\"\(Self.n(y - 9))\" width=\"14\" height=\"10\" rx=\"2\" fill=\"\(e.color)\"/>"
            s += "<text x=\"\(Self.n(x + 20))\" y=\"\(Self.n(y))\">\(Format.html(Self.shortened(e.name)))</text></g>"
        }
        return s + "</g>"
    }

    /// Names longer than the legend's width end with an ellipsis (the full name stays in data-series).
    static func shortened(_ name: String) -> String { name.count > 24 ? String(name.prefix(23)) + "…" : name }

    /// A line across the plot saying there is nothing to draw.
    func empty(_ text: String) -> String {
        "<text class=\"empty\" x=\"\(Self.n(Self.left + plotWidth / 2))\" y=\"\(Self.n(Self.top + plotHeight / 2))\" text-anchor=\"middle\">\(Format.html(text))</text>"
    }
}
