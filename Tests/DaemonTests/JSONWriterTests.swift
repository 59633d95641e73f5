import Foundation
import RetryPlanner
import Testing

@testable import Daemon

/// The event writer formats in place what it once built from strings: its output must not change.
@Suite("JSON writer")
struct JSONWriterTests {
    @Test("times are written as rfc3339(_:) writes them", arguments: [
        Int64(0), 59, 3_599, 86_399, 86_400, 951_782_400, 1_700_000_000, 1_798_761_599, 4_102_444_800, -1, -86_401, 253_402_300_799,
    ])
    func times(_ t: Int64) {
        var w = JSONWriter()
        w.time("t", t)
        #expect(w.finished == "{\"t\":\"\(Civil.rfc3339(t))\"}")
    }

    @Test("integers, nested objects and absent values")
    func numbers() {
        var w = JSONWriter()
        w.int("a", 0)
        w.int("b", -42)
        w.int("c", .max)
        w.int("d", .min)
        w.int("e", nil)
        w.string("f", nil)
        w.open("g")
        w.int("h", 7)
        w.close()
        var n = JSONWriter()
        n.string("i", "j")
        w.object("k", n)
        #expect(w.finish() == "{\"a\":0,\"b\":-42,\"c\":\(Int64.max),\"d\":\(Int64.min),\"g\":{\"h\":7},\"k\":{\"i\":\"j\"}}")
    }

    @Test("strings are escaped as JSONSerialization reads them back")
    func strings() throws {
        let values = ["", "plain", "quote \" and \\ backslash", "tab\tnew\nline\rreturn", "\u{01}\u{1F}\u{7F}", "é•ü 日本 🙂"]
        for value in values {
            var w = JSONWriter()
            w.string("v", value)
            let text = w.finished
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
            #expect(object["v"] == value)
        }
        var w = JSONWriter()
        w.string("v", "a\"b\\c\nd\u{01}")
        #expect(w.finished == #"{"v":"a\"b\\c\nd\u0001"}"#)
    }
}
