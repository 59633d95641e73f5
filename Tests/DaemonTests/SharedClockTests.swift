import Daemon
import Testing

/// Nodes of one database share one time-scaled clock: a node that takes over continues where the
/// clock is, not where the node before it left it.
@Suite("Shared clock")
struct SharedClockTests {
    @Test func aNodeTakingOverContinuesFromTheSharedAnchorNotFromTheStoredTime() {
        let anchor = SharedClock(wall: 1_000, virtual: 1_800_000_000, scale: 20_000)
        // Two wall seconds later, the last node's stored time says 1_800_030_000 (it died at 1.5 s).
        let (start, store) = SharedClock.start(1_800_030_000, anchor: anchor, wall: 1_002, scale: 20_000)
        #expect(start == 1_800_040_000 && store == nil)
        // Never rewound: a stored time ahead of the anchor's wins.
        #expect(SharedClock.start(1_800_050_000, anchor: anchor, wall: 1_002, scale: 20_000).start == 1_800_050_000)
    }

    @Test func theFirstNodeOrANewScaleStoresTheAnchor() {
        let (start, store) = SharedClock.start(1_800_000_000, anchor: nil, wall: 1_000, scale: 20_000)
        #expect(start == 1_800_000_000 && store == SharedClock(wall: 1_000, virtual: 1_800_000_000, scale: 20_000))
        let other = SharedClock(wall: 1_000, virtual: 1_700_000_000, scale: 3_600)
        #expect(SharedClock.start(1_800_000_000, anchor: other, wall: 1_010, scale: 20_000).store?.scale == 20_000)
        #expect(SharedClock.start(1_800_000_000, anchor: other, wall: 1_010, scale: 20_000).start == 1_800_000_000)
    }

    @Test func theAnchorReadsBackAndRefusesWhatItIsNot() {
        let a = SharedClock(wall: 1_733_300_000.25, virtual: 1_800_000_000, scale: 43_200)
        #expect(SharedClock(text: a.text) == a)
        for bad in [nil, "", "1 2", "1 2 x", "1 2 0", "1 2 3 4", "nan 2 3"] as [String?] {
            #expect(SharedClock(text: bad) == nil, "\(String(describing: bad))")
        }
    }
}
