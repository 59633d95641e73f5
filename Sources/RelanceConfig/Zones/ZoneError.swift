/// An error raised while reading time-zone data. `description` says what was wrong and where.
package struct ZoneError: Error, Sendable, CustomStringConvertible {
    package let description: String
}
