package import Foundation

/// The repository's root, from this file's place in it.
package let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The key paths of a decoded JSON value (`config.path`, `last_errors.[].time`, ...): the first
/// element stands for each array.
package func jsonKeyPaths(_ value: Any, _ prefix: String = "") -> Set<String> {
    if let object = value as? [String: Any] {
        return object.reduce(into: Set<String>()) { acc, pair in
            acc.insert(prefix + pair.key)
            acc.formUnion(jsonKeyPaths(pair.value, prefix + pair.key + "."))
        }
    }
    if let array = value as? [Any], let first = array.first { return jsonKeyPaths(first, prefix + "[].") }
    return []
}
