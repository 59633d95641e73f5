import Providers
import Testing

/// `[provider] requests_per_second` holds in every one-second window, not only on average: a token
/// bucket let a second's worth of tokens out as one burst after an idle second (the e2e once saw
/// 72 requests in a second for a limit of 40).
@Suite("Rate window")
struct RateWindowTests {
    /// Drives the window with requests wanted at `wanted` (seconds), each sent as soon as it may; returns when each went.
    static func sent(rate: Int, wanted: [Double]) -> [Double] {
        let window = RateWindow(rate: rate, margin: 0)
        var out: [Double] = []
        var clock = 0.0
        for w in wanted {
            clock = max(clock, w)
            while true {
                let wait = window.tryAcquire(at: clock)
                if wait == 0 { break }
                clock += wait
            }
            out.append(clock)
        }
        return out
    }

    static func busiestSecond(_ times: [Double]) -> Int {
        let sorted = times.sorted()
        var best = 0, j = 0
        for i in sorted.indices {
            while sorted[i] - sorted[j] >= 1 { j += 1 }
            best = max(best, i - j + 1)
        }
        return best
    }

    @Test("no one-second window, wherever it starts, holds more than the rate", arguments: [1, 5, 40, 100])
    func everyWindow(rate: Int) {
        // Idle, then a burst of demand, idle again, then steady demand above the rate.
        let wanted = Array(repeating: 0.0, count: rate * 3) + Array(repeating: 10.5, count: rate * 2)
            + (0..<(rate * 4)).map { 20 + Double($0) / Double(rate * 2) }
        let times = Self.sent(rate: rate, wanted: wanted)
        #expect(Self.busiestSecond(times) <= rate)
        // And it does not under-use the limit: a steady demand goes out at the rate.
        #expect(times[rate * 3 - 1] < 3)
    }

    /// Slots taken together (a read right before a POST, and the POST) go only when all of them are
    /// free, and count like as many single ones: mixed with single takes, no second holds more.
    @Test("slots taken together are free together, and no window holds more than the rate", arguments: [3, 10])
    func slotsTakenTogether(rate: Int) {
        let window = RateWindow(rate: rate, margin: 0)
        #expect(window.tryAcquire(count: 2, at: 0) == 0)
        for _ in 0..<(rate - 2) { #expect(window.tryAcquire(at: 0) == 0) }
        // Slots taken together count from the end of their spread, and times never go back: the
        // single ones taken after them count from then too.
        let spread = RateWindow.groupSpread
        #expect(window.tryAcquire(at: spread) == 1, "the window is full until a second after the spread")
        #expect(window.tryAcquire(count: 3, at: 1 + spread) == 0, "then all of it is free")
        #expect(window.tryAcquire(count: rate - 2, at: 1 + spread) > 0, "three taken: \(rate - 3) left")
        // Slots taken together go out anywhere within their spread, the last at its end.
        var sent: [Double] = []
        var clock = 3.0
        for i in 0..<(rate * 6) {
            let n = min(1 + i % 3, rate)
            while true {
                let wait = window.tryAcquire(count: n, at: clock)
                if wait == 0 { break }
                clock += wait
            }
            sent += (0..<n).map { k in n == 1 ? clock : clock + spread * Double(k) / Double(n - 1) }
        }
        #expect(Self.busiestSecond(sent) <= rate)
    }

    @Test func waitsAreShortAndExact() {
        let window = RateWindow(rate: 2, margin: 0)
        #expect(window.tryAcquire(at: 100) == 0)
        #expect(window.tryAcquire(at: 100.2) == 0)
        #expect(abs(window.tryAcquire(at: 100.5) - 0.5) < 1e-9)
        #expect(window.tryAcquire(at: 101.0) == 0)
    }

    /// A daemon's window opens full: the node (or process) before it, killed or taken over a moment
    /// ago, may have used the account's whole second (seen as 50 requests in one second when a node
    /// took over from another that had just sent 25).
    @Test func aWindowThatStartsFullLetsTheFirstRequestGoAfterASecond() {
        let window = RateWindow(rate: 25, margin: 0, startsFull: true)
        let opened = RateWindow.now()
        let wait = window.tryAcquire(at: opened)
        #expect(wait > 0.9 && wait <= 1.0 + 1e-6, "\(wait)")
        #expect(window.tryAcquire(at: opened + 1.01) == 0)
        #expect(RateWindow(rate: 25, margin: 0).tryAcquire(at: opened) == 0)
    }
}
