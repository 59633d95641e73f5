import Foundation
package import Mustache

/// The email templates of `[email] templates_dir`: `NAME.LOCALE.txt.mustache` (plain text, first
/// line `{{% CONTENT_TYPE: TEXT}}` so nothing is HTML-escaped, then `Subject: ...`, a blank line and
/// the body) and `NAME.LOCALE.html.mustache` (HTML, escaped). Read once at start and on reload.
package struct TemplateSet: Sendable {
    package struct Pair: Sendable {
        package var text: MustacheTemplate
        package var html: MustacheTemplate?
    }

    /// By "NAME.LOCALE".
    package let pairs: [String: Pair]
    package let defaultLocale: String

    package init(directory: String, defaultLocale: String) throws(DeliverError) {
        self.defaultLocale = defaultLocale
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw DeliverError(.missingTemplate, "cannot read the templates directory \(directory)")
        }
        var texts: [String: MustacheTemplate] = [:], htmls: [String: MustacheTemplate] = [:]
        for name in names.sorted() where name.hasSuffix(".mustache") {
            let stem = String(name.dropLast(".mustache".count))
            let isText = stem.hasSuffix(".txt"), isHTML = stem.hasSuffix(".html")
            guard isText || isHTML else { continue }
            let key = String(stem.dropLast(isText ? 4 : 5))
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                throw DeliverError(.missingTemplate, "cannot read \(directory)/\(name)")
            }
            let source = String(decoding: data, as: UTF8.self)
            if isText && !source.hasPrefix("{{% CONTENT_TYPE: TEXT}}") {
                throw DeliverError(.missingTemplate, "\(name): a text template starts with {{% CONTENT_TYPE: TEXT}} (no HTML escaping)")
            }
            do {
                let template = try MustacheTemplate(string: source)
                if isText { texts[key] = template } else { htmls[key] = template }
            } catch {
                throw DeliverError(.missingTemplate, "\(name): not a valid Mustache template (\(error))")
            }
        }
        var pairs: [String: Pair] = [:]
        for (key, text) in texts { pairs[key] = Pair(text: text, html: htmls[key]) }
        self.pairs = pairs
    }

    /// The pair for a template and locale: `fr-FR`, then `fr`, then the default locale and its language.
    package func lookup(_ name: String, locale: String) -> (pair: Pair, locale: String)? {
        for candidate in Self.candidates(locale) + Self.candidates(defaultLocale) {
            if let pair = pairs["\(name).\(candidate)"] { return (pair, candidate) }
        }
        return nil
    }

    static func candidates(_ locale: String) -> [String] {
        let language = String(locale.prefix { $0 != "-" && $0 != "_" })
        return language == locale ? [locale] : [locale, language]
    }
}
