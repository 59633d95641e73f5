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
}
