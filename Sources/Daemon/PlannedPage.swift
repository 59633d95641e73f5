import Dispatch
import Providers
import RetryPlanner
import Store
import Synchronization

/// The Swift half of a page's ingest (planning, the explanation, the events' JSON), run on a queue of
/// its own while the writer goes on storing and reading the next charges of the page (the SQLite half).
/// The writer hands over what it read for each charge and, once the page is read, takes the results
/// back in order to write the rows and events.
final class PlannedPage: Sendable {
    /// What the writer read for one charge: enough to plan it and render its events without the store.
    struct Input: Sendable {
        var index: Int
        var record: ChargeRecord
        var book: ChargeBook
        /// The customer's methods as stored after the failure was recorded (marks included).
        var methods: [PaymentMethod]
        /// The method of the failed payment as it was before.
        var method: PaymentMethod?
        var decline: RawDecline
        var declineClass: DeclineClass
    }

    struct Output: Sendable {
        var record: ChargeRecord
        var events: [RenderedEvent]
        var wake: Int64?
    }

    static let queue = DispatchQueue(label: "relance.ingest.planning")
    let outputs: Mutex<[Output?]>
    let work: @Sendable (Input) -> Output

    init(count: Int, work: @escaping @Sendable (Input) -> Output) {
        outputs = Mutex(Array(repeating: nil, count: count))
        self.work = work
    }

    /// Plans `inputs` on the planning queue (a batch at a time: one hand-over for several charges).
    func plan(_ inputs: [Input]) {
        guard !inputs.isEmpty else { return }
        Self.queue.async {
            let made = inputs.map(self.work)
            self.outputs.withLock { outputs in
                for (input, output) in zip(inputs, made) { outputs[input.index] = output }
            }
        }
    }

    /// Waits until everything handed to `plan` is planned; the outputs in the order of their indexes.
    func finish() -> [Output] {
        Self.queue.sync {}
        return outputs.withLock { $0.compactMap { $0 } }
    }
}
