import Foundation
@testable import Report
import Testing

/// The HTML and text renderings: self-contained, every value in the data attributes, the same numbers.
@Suite struct RenderingTests {
    typealias C = ReportFiguresTests

    static var figures: ReportFigures {
        var input = C.input([
            C.charge("a", amount: 1_000, state: "recovered", age: 12, recoveredAfter: 3, group: "retry_later", policy: "learned"),
            C.charge("b", amount: 3_000, state: "waiting", age: 12, group: "retry_later", policy: "holdout"),
            C.charge("c<&>", amount: 500, state: "scheduled", age: 40, group: "check_first", currency: "USD"),
        ], shadow: ShadowSums(count: 4, sum: 0.2, sumOfSquares: 0.05))
        input.byHour = [AttemptTally(key: 9, finished: 3, succeeded: 1)]
        return ReportFigures(input)
    }

    @Test func format() {
        #expect(Format.fixed(0.41234) == "0.4123")
        #expect(Format.fixed(0.41235) == "0.4124")
        #expect(Format.fixed(-0.00004) == "0.0000")
        #expect(Format.fixed(-0.05) == "-0.0500")
        #expect(Format.fixed(1) == "1.0000")
        #expect(Format.fixed(12.345, 1) == "12.3")
        #expect(Format.grouped(1_234_567) == "1 234 567")
        #expect(Format.grouped(-12) == "-12")
        #expect(Format.utc(1_800_000_000) == "2027-01-15 08:00:00 UTC")
        #expect(Format.utc(0) == "1970-01-01 00:00:00 UTC")
        #expect(Format.day(951_782_400) == "2000-02-29")
        #expect(Format.html("a<b & \"c\">") == "a&lt;b &amp; &quot;c&quot;&gt;")
    }

    @Test func htmlIsSelfContained() {
        let html = HTMLReport.render(Self.figures)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for forbidden in ["<script", "src=", "href=", "@import", "url("] {
            #expect(!html.contains(forbidden), "\(forbidden)")
        }
        #expect(!html.contains("c<&>"))
        #expect(html.contains("c&lt;&amp;&gt;"))
    }

    @Test func everyPointIsInTheDataAttributes() {
        let f = Self.figures
        let html = HTMLReport.render(f)
        for id in ["recovery-by-class", "recovery-by-segment", "recovery-by-policy", "success-by-hour", "success-by-payday"] {
            #expect(html.contains("<g class=\"chart\" id=\"\(id)\""), "\(id)")
        }
        let circles = html.components(separatedBy: "<circle data-series=").count - 1
        #expect(circles == (f.byClass + f.bySegment + f.byPolicy).reduce(0) { $0 + $1.points.count })
        #expect(html.contains("<circle data-series=\"retry_later\" data-x=\"3\" data-y=\"0.2500\" data-n=\"2\""))
        #expect(html.contains("<rect data-x=\"9\" data-y=\"0.3333\" data-n=\"3\""))
        #expect(html.contains("data-currency=\"USD\" data-band=\"31-60d\" data-amount=\"500\""))
        #expect(html.contains("data-estimate=\"lift\" data-value=\"1.0000\""))
    }

    @Test func textHasTheSameNumbers() throws {
        let text = TextReport.render(Self.figures)
        #expect(text.contains("now: 2027-01-15 08:00:00 UTC (1800000000)"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let section = try #require(lines.firstIndex { $0.hasPrefix("## recovery-by-class") })
        #expect(lines[section + 2].split(separator: " ") == ["d", "retry_later", "check_first"])
        #expect(lines[section + 6].split(separator: " ") == ["3", "0.2500", "0.0000"])
        #expect(lines[section + 3 + 20].split(separator: " ") == ["20", "-", "0.0000"])
        #expect(lines.contains { $0.split(separator: " ") == ["9", "0.3333", "3"] })
        #expect(lines.contains { $0.split(separator: " ") == ["USD", "0", "0", "500", "0"] })
        #expect(text.contains("lift: 1.0000 ["))
        #expect(lines.contains { $0.split(separator: " ") == ["b", "cus_b", "3000", "EUR", "12", "retry_later"] })
    }
}
