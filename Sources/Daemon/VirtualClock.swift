import Foundation
import Synchronization

/// The daemon's one clock: epoch seconds that run `scale` times faster than wall time.
///
/// Its anchor is kept with the state (see ``Engine``), so a restart continues virtual time instead
/// of rewinding it; planner, dispatcher, events and status all read this clock.
package final class VirtualClock: Sendable {
    struct Anchor {
        var wall: Double
        var virtual: Double
    }

    package let scale: Double
    private let anchor: Mutex<Anchor>
    /// Moves only through ``set(_:)`` (a test that compares two runs needs the same times in both).
    let stepped: Bool

    /// Starts at `virtual` (epoch seconds) now.
    package init(scale: Int, startingAt virtual: Int64) {
        self.scale = Double(max(1, scale))
        self.anchor = Mutex(Anchor(wall: Self.wallNow(), virtual: Double(virtual)))
        self.stepped = false
    }

    /// A clock that stands at `virtual` until ``set(_:)`` moves it.
    package init(steppedFrom virtual: Int64) {
        self.scale = 1
        self.anchor = Mutex(Anchor(wall: Self.wallNow(), virtual: Double(virtual)))
        self.stepped = true
    }

    static func wallNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Virtual epoch seconds now.
    package func now() -> Int64 { Int64(preciseNow()) }

    package func preciseNow() -> Double {
        let a = anchor.withLock { $0 }
        return stepped ? a.virtual : a.virtual + (Self.wallNow() - a.wall) * scale
    }

    /// Moves virtual time to `t` (tests drive time this way; the daemon never rewinds it).
    package func set(_ t: Int64) {
        anchor.withLock { $0 = Anchor(wall: Self.wallNow(), virtual: Double(t)) }
    }

    /// Wall-clock seconds until virtual time `t` (0 if past).
    package func wallSeconds(until t: Int64) -> Double {
        wallSeconds(until: Double(t))
    }

    /// Wall-clock seconds until virtual instant `t` (0 if past).
    package func wallSeconds(until t: Double) -> Double {
        max(0, (t - preciseNow()) / scale)
    }

    /// The virtual time `seconds` of wall time from now.
    package func virtual(afterWall seconds: Double) -> Int64 {
        Int64(preciseNow() + seconds * scale)
    }
}
