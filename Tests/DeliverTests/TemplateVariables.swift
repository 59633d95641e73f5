import Foundation

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The names a Mustache template looks up, each with the sections it sits in (outermost first).
///
/// swift-mustache renders a missing name as empty text, so the tests read the names themselves.
struct TemplateVariables {
    struct Use: Hashable { var name: String; var sections: [String] }
    var uses: [Use] = []

    init(_ source: String) {
        var stack: [String] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            rest = rest[open.upperBound...]
            let triple = rest.hasPrefix("{")
            guard let close = rest.range(of: triple ? "}}}" : "}}") else { break }
            var tag = rest[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if triple { tag = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces) }
            guard let sigil = tag.first else { continue }
            switch sigil {
            case "!", "%", ">", "=": continue
            case "#", "^":
                let name = tag.dropFirst().trimmingCharacters(in: .whitespaces)
                uses.append(Use(name: name, sections: stack))
                stack.append(name)
            case "/":
                _ = stack.popLast()
            case "&":
                uses.append(Use(name: tag.dropFirst().trimmingCharacters(in: .whitespaces), sections: stack))
            default:
                uses.append(Use(name: tag, sections: stack))
            }
        }
    }

    /// The uses no known path explains: a name resolves in its innermost section first, then outward, to the root.
    func unknown(in known: Set<String>) -> [Use] {
        uses.filter { use in
            !(0...use.sections.count).reversed().contains { depth in
                known.contains((use.sections.prefix(depth) + [use.name]).joined(separator: "."))
            }
        }
    }
}

/// The `data` paths of an event type in docs/events.schema.json: `charges.id` for each charge's id, `contact.name`, ...
enum EventSchema {
    static func dataPaths(of type: String) throws -> Set<String> {
        let url = repoRoot.appendingPathComponent("docs/events.schema.json")
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        for rule in schema["allOf"] as? [[String: Any]] ?? [] {
            let condition = ((rule["if"] as? [String: Any])?["properties"] as? [String: Any])?["type"] as? [String: Any]
            guard condition?["const"] as? String == type else { continue }
            let data = ((rule["then"] as? [String: Any])?["properties"] as? [String: Any])?["data"] as? [String: Any] ?? [:]
            var paths = Set<String>()
            collect(data, prefix: "", into: &paths)
            return paths
        }
        return []
    }

    static func collect(_ node: [String: Any], prefix: String, into paths: inout Set<String>) {
        let object = (node["items"] as? [String: Any]) ?? node
        for (key, child) in object["properties"] as? [String: Any] ?? [:] {
            let path = prefix.isEmpty ? key : prefix + "." + key
            paths.insert(path)
            if let child = child as? [String: Any] { collect(child, prefix: path, into: &paths) }
        }
    }
}
