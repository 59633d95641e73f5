import Foundation

/// The clock of nodes that share a database, time-scaled (`[daemon] time_scale` above 1): its anchor
/// (the wall time and virtual time it started at, and its scale) is kept in the store's `meta`
/// (`clock.anchor`), and every node derives "now" from it. A node that takes over continues where the
/// clock is, not where the node before it left it: at 20,000x, each second of a takeover lost five
/// virtual hours, and after thirty takeovers the nodes lived days behind the provider's world (a
/// decline dated in their future). At 1x, every node reads its host's wall clock already.
package struct SharedClock: Equatable, Sendable {
    package var wall: Double
    package var virtual: Double
    package var scale: Double

    package init(wall: Double, virtual: Double, scale: Double) {
        (self.wall, self.virtual, self.scale) = (wall, virtual, scale)
    }

    /// Reads `wall virtual scale`; nil when absent or not that.
    package init?(text: String?) {
        let parts = (text ?? "").split(separator: " ").compactMap { Double($0) }
        guard parts.count == 3, parts.allSatisfy(\.isFinite), parts[2] >= 1 else { return nil }
        (wall, virtual, scale) = (parts[0], parts[1], parts[2])
    }

    package var text: String { "\(wall) \(virtual) \(scale)" }

    /// Virtual time at wall time `wall`.
    package func now(atWall wall: Double) -> Double { virtual + (wall - self.wall) * scale }

    /// Where a node starting at `wall` with `scale` begins (`start`: what it would begin at alone, from
    /// the stored times, never rewound), and the anchor to store when there is none for this scale yet.
    package static func start(_ start: Int64, anchor: SharedClock?, wall: Double, scale: Int) -> (start: Int64, store: SharedClock?) {
        if let anchor, anchor.scale == Double(scale) {
            return (max(start, Int64(anchor.now(atWall: wall))), nil)
        }
        return (start, SharedClock(wall: wall, virtual: Double(start), scale: Double(scale)))
    }
}
