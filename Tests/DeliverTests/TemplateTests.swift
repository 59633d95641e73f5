import Deliver
import Foundation
import Mustache
import Testing

@Suite("Templates and events agree")
struct TemplateTests {
    static let directory = repoRoot.appendingPathComponent("config/templates").path
    static let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".mustache") }.sorted()

    @Test func theShippedSetIsComplete() {
        for name in ["reminder", "second_reminder", "firm_reminder", "thank_you", "action_required"] {
            for locale in ["en", "fr"] {
                #expect(Self.files.contains("\(name).\(locale).txt.mustache"), "missing \(name).\(locale).txt.mustache")
                #expect(Self.files.contains("\(name).\(locale).html.mustache"), "missing \(name).\(locale).html.mustache")
            }
        }
        #expect(Self.files.contains("formal_notice.fr.txt.mustache") && Self.files.contains("formal_notice.en.txt.mustache"))
    }

    @Test(arguments: files)
    func everyVariableIsInTheEventSchema(file: String) throws {
        let source = try String(contentsOfFile: Self.directory + "/" + file, encoding: .utf8)
        let type = file.hasPrefix("action_required.") ? "relance.customer.action_required" : "relance.notice.due"
        let known = try EventSchema.dataPaths(of: type).union(TemplateContext.derivedKeys)
        #expect(known.contains("charges.first_failed_at") && known.contains("contact.name"), "the schema was not read")
        let variables = TemplateVariables(source)
        #expect(!variables.uses.isEmpty)
        let unknown = variables.unknown(in: known)
        #expect(unknown.isEmpty, "\(file) uses names the event does not have: \(unknown.map { ($0.sections + [$0.name]).joined(separator: " > ") })")
    }

    @Test func theCheckFindsAMisspelledName() throws {
        let known = try EventSchema.dataPaths(of: "relance.notice.due").union(TemplateContext.derivedKeys)
        let variables = TemplateVariables("{{#charges}}{{amount_txt}}{{/charges}} {{payment_link}} {{contact.name}}")
        #expect(variables.unknown(in: known).map(\.name) == ["amount_txt", "payment_link"])
    }

    @Test func derivedKeysAreFilledIn() {
        let context = TemplateContext.make(data: [:], charges: [["id": "in_1", "amount": 4_900, "currency": "EUR", "first_failed_at": "2026-12-01T09:00:00Z"]],
                                           locale: "en", replyTo: "billing@example.test")
        let charge = (context["charges"] as? [[String: Any]])?.first
        #expect(charge?["amount_text"] as? String == "€49.00")
        #expect(charge?["first_failed_date"] as? String == "1 December 2026")
        #expect((context["totals"] as? [[String: Any]])?.first?["amount_text"] as? String == "€49.00")
        #expect(context["several"] as? Bool == false && context["reply_to"] as? String == "billing@example.test")
    }

    @Test(arguments: files.filter { $0.hasSuffix(".txt.mustache") })
    func textTemplatesAreNotEscaped(file: String) throws {
        let source = try String(contentsOfFile: Self.directory + "/" + file, encoding: .utf8)
        #expect(source.hasPrefix("{{% CONTENT_TYPE: TEXT}}"))
        let rendered = try MustacheTemplate(string: source).render(["contact": ["name": "Ana <Martin> & Co"], "reply_to": "a&b@example.test"])
        #expect(rendered.contains("Ana <Martin> & Co"), "\(file) escaped the text")
        #expect(!rendered.contains("&amp;") && !rendered.contains("&lt;"))
    }

    @Test func htmlTemplatesEscape() throws {
        let source = try String(contentsOfFile: Self.directory + "/reminder.en.html.mustache", encoding: .utf8)
        let rendered = try MustacheTemplate(string: source).render(["contact": ["name": "<script>"]])
        #expect(rendered.contains("&lt;script&gt;") && !rendered.contains("<script>"))
    }
}
