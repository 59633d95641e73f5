import SystemdSupport
import Testing

/// The watchdog gate's decisions, with time passed in.
@Suite struct WatchdogGateTests {
    let start = ContinuousClock.now
    let timeout = Duration.seconds(10)

    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int64(seconds * 1_000)) }

    /// One scenario: registrations and beats (seconds after the start), then checks.
    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let register: [(String, Double)]
        let beats: [(String, Double)]
        let checkAt: Double
        let stuck: [String]
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "fresh registration is healthy", register: [("poller", 0)], beats: [], checkAt: 0, stuck: []),
        Scenario(name: "silent up to the timeout is still healthy", register: [("poller", 0)], beats: [], checkAt: 10, stuck: []),
        Scenario(name: "silent past the timeout is stuck", register: [("poller", 0)], beats: [], checkAt: 10.001, stuck: ["poller"]),
        Scenario(name: "a beat restores", register: [("poller", 0)], beats: [("poller", 15)], checkAt: 20, stuck: []),
        Scenario(name: "a late beat is too late", register: [("poller", 0)], beats: [("poller", 5)], checkAt: 16, stuck: ["poller"]),
        Scenario(
            name: "one silent component among several",
            register: [("spool", 0), ("dispatcher", 0), ("poller", 0)],
            beats: [("spool", 8), ("poller", 8)], checkAt: 12, stuck: ["dispatcher"]
        ),
        Scenario(
            name: "several stuck, sorted",
            register: [("spool", 0), ("dispatcher", 0), ("poller", 0)],
            beats: [("poller", 8)], checkAt: 12, stuck: ["dispatcher", "spool"]
        ),
        Scenario(
            name: "late registration counts from its own time",
            register: [("poller", 0), ("status", 9)], beats: [("poller", 9)], checkAt: 18, stuck: []
        ),
        Scenario(name: "a beat registers an unknown component", register: [], beats: [("poller", 0)], checkAt: 11, stuck: ["poller"]),
        Scenario(name: "nothing registered may ping", register: [], beats: [], checkAt: 100, stuck: []),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        var gate = WatchdogGate(timeout: timeout)
        for (component, time) in scenario.register { gate.register(component, at: at(time)) }
        for (component, time) in scenario.beats { gate.beat(component, at: at(time)) }
        #expect(gate.stuck(at: at(scenario.checkAt)) == scenario.stuck)
        #expect(gate.mayPing(at: at(scenario.checkAt)) == scenario.stuck.isEmpty)
    }

    @Test func anOutOfOrderBeatDoesNotMoveTimeBack() {
        var gate = WatchdogGate(timeout: timeout)
        gate.register("poller", at: at(0))
        gate.beat("poller", at: at(9))
        gate.beat("poller", at: at(2))
        #expect(gate.mayPing(at: at(15)))
        #expect(!gate.mayPing(at: at(19.5)))
    }
}
