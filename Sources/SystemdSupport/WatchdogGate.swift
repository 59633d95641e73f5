/// Decides whether the daemon may send a watchdog ping: only while every registered component
/// has shown progress recently.
///
/// A pure state machine: the caller passes the time in. Each component (poller, dispatcher,
/// spool writer, …) calls `beat` when it made progress or is idle by design (waiting for work is
/// not being stuck). A component whose last beat is more than `timeout` old is stuck, and
/// while any component is stuck the ping is withheld so systemd's watchdog restarts the daemon.
///
/// | last beat (age) | state |
/// |---|---|
/// | ≤ timeout | healthy |
/// | > timeout | stuck: no ping |
///
/// Registering counts as a beat, so a fresh component is healthy; a beat from a component never
/// registered registers it.
package struct WatchdogGate: Sendable {
    private let timeout: Duration
    private var lastBeat: [String: ContinuousClock.Instant] = [:]

    /// A gate where a component silent for longer than `timeout` is stuck.
    package init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Starts watching `component`, healthy as of `now`.
    package mutating func register(_ component: String, at now: ContinuousClock.Instant) {
        lastBeat[component] = now
    }

    /// Records that `component` made progress, or is idle by design, at `now`.
    package mutating func beat(_ component: String, at now: ContinuousClock.Instant) {
        if let previous = lastBeat[component], previous > now { return }
        lastBeat[component] = now
    }

    /// The components silent for longer than the timeout at `now`, sorted by name.
    package func stuck(at now: ContinuousClock.Instant) -> [String] {
        lastBeat.filter { _, last in last.duration(to: now) > timeout }.keys.sorted()
    }

    /// True when no component is stuck at `now`: the watchdog may be pinged.
    package func mayPing(at now: ContinuousClock.Instant) -> Bool {
        stuck(at: now).isEmpty
    }
}
