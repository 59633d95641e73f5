import Foundation
import RetryPlanner
import Store
import Testing

/// `charges.decline`: one encoding with the events (snake_case names), and rows of the earlier form read too.
@Suite("Stored decline text")
struct DeclineTextTests {
    @Test(arguments: [
        RawDecline(code: "card_declined", declineCode: "insufficient_funds", networkDeclineCode: "51", payment: "ch_1"),
        RawDecline(achReturnCode: "R01"),
        RawDecline(code: "weird \"quoted\" \\ code\n", sepaReasonCode: "AM04"),
        RawDecline(),
    ])
    func aDeclineReadsBackAsWritten(_ decline: RawDecline) {
        let text = SQLiteTransaction.text(decline)
        #expect(SQLiteTransaction.decline(text) == decline)
        // The same text Foundation reads, with the same names the events use.
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]
        #expect(object == Dictionary(uniqueKeysWithValues: decline.fields.compactMap { k, v in v.map { ("\(k)", $0) } }))
    }

    @Test func aRowOfTheEarlierFormIsRead() {
        let old = #"{"code":"card_declined","declineCode":"do_not_honor","networkAdviceCode":"03","payment":"ch_9"}"#
        #expect(SQLiteTransaction.decline(old) == RawDecline(code: "card_declined", declineCode: "do_not_honor", networkAdviceCode: "03", payment: "ch_9"))
        #expect(SQLiteTransaction.decline("not json") == RawDecline())
    }

    /// The fast reader of flat objects agrees with Foundation on random ones (non-ASCII text too) and
    /// on every truncation of them: the same dictionary, or nil where the text is not a whole object.
    @Test func theFlatReaderAgreesWithFoundation() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ_019 é€🙂-:,{}")
        for _ in 0..<300 {
            var object: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                func word() -> String { String((0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }) }
                object[word()] = word()
            }
            let text = "{" + object.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}"
            #expect(SQLiteTransaction.flatStrings(text) == object, "\(text)")
            let bytes = Array(text.utf8)
            for cut in 0..<bytes.count {
                let part = String(decoding: bytes[..<cut], as: UTF8.self)
                #expect(SQLiteTransaction.flatStrings(part) == nil, "\(part)")
            }
        }
        #expect(SQLiteTransaction.flatStrings(#"{"a":"b\"c"}"#) == nil, "an escape is left to Foundation")
        #expect(SQLiteTransaction.flatStrings(#"{"a":"b"}x"#) == ["a": "b"])
    }
}
