/// One decline class's policy, flattened: the ladder lives in ``CompiledPolicy/steps``.
struct ClassRules: Sendable {
    var ladderStart: UInt32 = 0
    var ladderCount: UInt16 = 0
    var maxAttempts: UInt16 = 0
    var rotateAfter: UInt8 = 0
    var rotate: Bool = false
    var alignToPayday: Bool = false
    /// False when the segment has no policy for the class: such declines are not retried.
    var enabled: Bool = false
}

/// One segment, flattened: no references, so the planner reads it without reference counting.
struct SegmentRules: Sendable {
    var classes: InlineArray<6, ClassRules>
    var maxAttempts: UInt16
    var maxSpan: Int64
    var calendar: CalendarRules
}

/// A ``Policy`` compiled for the planner's inner loop.
package struct CompiledPolicy: Sendable {
    var segments: ContiguousArray<SegmentRules>
    var steps: ContiguousArray<Int64>
    var rules: CompiledRules

    package init(_ policy: Policy) {
        var segments = ContiguousArray<SegmentRules>()
        var steps = ContiguousArray<Int64>()
        for segment in policy.segments {
            var classes = InlineArray<6, ClassRules>(repeating: ClassRules())
            for cls in DeclineClass.allCases {
                guard let p = segment.classes[cls], !p.ladder.isEmpty, cls != .consentRevoked else { continue }
                classes[Int(cls.rawValue)] = ClassRules(
                    ladderStart: UInt32(steps.count), ladderCount: UInt16(p.ladder.count),
                    maxAttempts: UInt16(clamping: p.maxAttempts), rotateAfter: UInt8(clamping: p.rotateAfter),
                    rotate: p.rotate, alignToPayday: p.alignToPayday, enabled: true
                )
                steps.append(contentsOf: p.ladder)
            }
            segments.append(SegmentRules(
                classes: classes, maxAttempts: UInt16(clamping: segment.maxAttempts),
                maxSpan: segment.maxSpan, calendar: segment.calendar
            ))
        }
        self.segments = segments
        self.steps = steps
        self.rules = policy.rules.compiled
    }
}
