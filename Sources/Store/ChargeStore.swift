package import RetryPlanner

/// Durable state behind one protocol: charges, customers and their methods, the compliance ledger,
/// attempts, the outbox of events, and meta values (the clock anchor, the poll cursor).
///
/// Every state change and its events are written in one transaction (``write(_:)``); no other
/// module names a table. ``SQLiteChargeStore`` is the embedded implementation.
package protocol ChargeStore: Sendable {
    /// Runs `body` atomically, off the cooperative thread pool; returns once it committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T
    /// Runs `body` atomically, blocking the caller: for shutdown paths that must finish even when the
    /// task is cancelled.
    func writeNow<T>(_ body: (any ChargeTransaction) throws -> T) throws -> T
    /// Runs `body` on a consistent snapshot, off the cooperative thread pool.
    func read<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T

    // MARK: Start-up

    /// Every charge that needs waking, with its time (0: an attempt left in flight, at once).
    func dueEntries() async throws -> [(rowid: Int64, wake: Int64)]
    /// The latest time written anywhere (ledger, attempts, failures), and the persisted clock, if any.
    func clockAnchor() async throws -> (persisted: Int64?, seen: Int64)

    // MARK: The outbox (blocking calls: run them off the cooperative pool)

    /// The lowest and highest sequence numbers waiting, and the highest ever handed out.
    func outboxBounds() throws -> (first: Int64?, last: Int64?, issued: Int64?)
    /// Up to `limit` events after sequence number `after`, in order.
    func outbox(after: Int64, limit: Int) throws -> [(seq: Int64, json: String)]
    /// Removes the events through `seq` (written to the spool).
    func deleteOutbox(through seq: Int64) throws
    func outboxCount() throws -> Int

    // MARK: Figures

    /// Charges by state, attempts and recoveries in the hour and day before `now`, events waiting.
    func figures(now: Int64) async throws -> StoreFigures
    /// Charges and recovery rate by amount band (`bands`: lower bounds in minor units, ascending).
    func bandFigures(_ bands: [Int64]) async throws -> [(charges: Int, recovered: Int)]
    /// Failed and recovered amounts, and charges, by segment (its index) and currency.
    func segmentAmounts() async throws -> [SegmentAmounts]
    /// The open charges' amount by currency and age band (`ages`: each band's first day, ascending from 0).
    func openAmounts(now: Int64, ages: [Int]) async throws -> [(currency: String, band: Int, amount: Int64)]
    /// Failed and recovered amounts by currency.
    func amounts() async throws -> [(currency: String, failed: Int64, recovered: Int64, recoveredCount: Int)]

    // MARK: Outcome records (the learner, simulate, the report)

    /// Finished outcomes since `since`, counted by what the learner pools them by.
    func outcomeCounts(since: Int64) async throws -> [(observation: Observation, count: Int)]
    /// Outcome records planned in `[from, to)`, oldest first.
    func outcomeRecords(from: Int64, to: Int64) async throws -> [OutcomeRecord]
    /// Deletes at most `limit` outcome records planned before `before`; returns how many went.
    func pruneOutcomes(before: Int64, limit: Int) async throws -> Int
    /// Deletes at most `limit` attempts finished before `before` whose charge is over (recovered,
    /// exhausted, closed: it reserves no attempt number again); returns how many went.
    func pruneAttempts(before: Int64, limit: Int) async throws -> Int

    /// Makes the store's latest commits durable in its main file (a checkpoint; blocking).
    func checkpoint() throws

    /// Writes waiting for the writer or running (background work lets them go first).
    var waitingWrites: Int { get }
    /// Why the store cannot serve now (a database out of reach), or nil: `/healthz` says it.
    var problem: String? { get }
    /// Why this node may not send a provider request for a charge of bucket `lease` now, or nil: a node
    /// that can no longer show it leases the bucket (another node may have taken it over) sends nothing.
    func fenced(lease: Int) -> String?
    /// Whether this node polls the provider (on a shared database, one node does at a time).
    var polls: Bool { get }
    /// Nodes working on the store now, this one included (they share the provider's rate limit).
    var liveNodes: Int { get }
    /// Buckets this node took since the last call (at start: with its first share, already in
    /// ``dueEntries()``; later: their charges are loaded with ``dueEntries(leases:)``).
    func takeAcquired() -> [Handover]
    /// The charges of `leases` that need waking (``dueEntries()`` for some buckets only).
    func dueEntries(leases: [Int]) async throws -> [(rowid: Int64, wake: Int64)]
    /// Takes `count` slots together of the provider account's `rate` a second, shared by every node of
    /// the database, counted as sent `spread` seconds from now: 0 when taken, else the seconds to
    /// wait; nil when the store keeps no shared window (one host).
    func takeRateSlot(rate: Int, count: Int, spread: Double) async throws -> Double?
    /// Wake times other nodes gave charges of this node's buckets since the last call (taken once).
    func takeWakeups() async throws -> [(rowid: Int64, wake: Int64)]
    /// Where the state is, this node and the others on its database (`/status`).
    func placement() async throws -> StorePlacement
}

extension ChargeStore {
    /// A file on the host's own disk is always there.
    package var problem: String? { nil }

    package func fenced(lease: Int) -> String? { nil }

    package var polls: Bool { true }

    package var liveNodes: Int { 1 }

    package func takeAcquired() -> [Handover] { [] }

    package func dueEntries(leases: [Int]) async throws -> [(rowid: Int64, wake: Int64)] { try await dueEntries() }

    package func takeWakeups() async throws -> [(rowid: Int64, wake: Int64)] { [] }

    package func takeRateSlot(rate: Int, count: Int, spread: Double) async throws -> Double? { nil }

    /// One host, alone.
    package func placement() async throws -> StorePlacement { StorePlacement(kind: "sqlite", node: nil, leases: [], nodes: []) }
}

/// Where the state is: `sqlite` or `postgresql`, this node's name, and every node seen on the database.
package struct StorePlacement: Sendable {
    package var kind: String
    package var node: String?
    /// The buckets of customers this node leases (a shared database).
    package var leases: [Int]
    package var nodes: [ClusterNode]
}

/// One segment's charges in one currency, for the recovery rate weighted by amount.
package struct SegmentAmounts: Sendable, Hashable {
    package var segment: Int
    package var currency: String
    package var failed: Int64
    package var recovered: Int64
    package var charges: Int
    package var recoveredCharges: Int

    package init(segment: Int, currency: String, failed: Int64, recovered: Int64, charges: Int, recoveredCharges: Int) {
        self.segment = segment
        self.currency = currency
        self.failed = failed
        self.recovered = recovered
        self.charges = charges
        self.recoveredCharges = recoveredCharges
    }
}

/// What `/status` and the status line show from the store.
package struct StoreFigures: Sendable {
    package var byState: [String: Int] = [:]
    package var attemptsHour = 0
    package var attemptsDay = 0
    package var recoveriesHour = 0
    package var recoveriesDay = 0
    package var outbox = 0

    package init() {}
}

/// One transaction's reads and writes: everything the runner does to a charge, by table.
package protocol ChargeTransaction {
    // MARK: Charges

    func charge(rowid: Int64) throws -> ChargeRecord?
    /// Which of `ids` are stored charges.
    func storedCharges(_ ids: [String]) throws -> Set<String>
    func customer(ofCharge id: String) throws -> String?
    /// The due index's key of a stored charge.
    func rowid(ofCharge id: String) throws -> Int64?
    /// The rowids of the customer's open charges (scheduled, in flight, waiting), oldest first.
    func openCharges(customer: String) throws -> [Int64]
    /// The rowids of held charges, longest held first.
    func heldCharges(limit: Int) throws -> [Int64]
    /// The customer's exhausted charges that still speak for their notices (a formal notice owed).
    func exhaustedLeads(customer: String) throws -> [Int64]
    /// The scheduled charges after `rowid`, in rowid order, at most `limit`, each read whole with its
    /// customer's zone name (one query for a page).
    func plannedRecords(after rowid: Int64, limit: Int) throws -> [(rowid: Int64, record: ChargeRecord, zone: String?)]
    /// Writes a new charge with its wake time; returns its rowid.
    func insert(_ charge: ChargeRecord, wake: Int64?) throws -> Int64
    func save(_ charge: ChargeRecord, wake: Int64?) throws
    /// Saves the charge and leaves its stored wake time as it is: a charge in flight changed by
    /// another transition (a hold, a notice covering it, taking over its customer's notices) wakes
    /// when its attempt's answer said (a debit still processing is read again then).
    func saveKeepingWake(_ charge: ChargeRecord) throws

    // MARK: Customers and methods

    /// The customer's time-zone name, as last stored.
    func zone(ofCustomer id: String) throws -> String?
    /// How to reach the customer, as last stored.
    func contact(customer: String) throws -> Contact?
    /// The hold on the customer as a whole (their next failures are held too); nil when none.
    func customerHold(_ customer: String) throws -> ChargeRecord.Hold?
    /// Sets or ends (nil) the hold on the customer as a whole.
    func setCustomerHold(_ customer: String, _ hold: ChargeRecord.Hold?) throws
    /// Customers held as a whole, longest held first (for `/status`: their next failures are held too,
    /// even when no charge of theirs is held now).
    func heldCustomers(limit: Int) throws -> [(customer: String, hold: ChargeRecord.Hold)]
    /// The customer's methods, in their places (a method keeps its place for good).
    func methods(customer: String) throws -> [PaymentMethod]
    /// Stores the customer and the methods the provider lists now; returns the stored list.
    func storeCustomer(_ customer: CustomerInfo, methods listed: [PaymentMethod]) throws -> [PaymentMethod]
    /// Stores the customer's methods as the provider lists them now; returns them, and whether anything changed.
    func refreshMethods(customer: String, listed: [PaymentMethod]) throws -> (methods: [PaymentMethod], changed: Bool)
    /// Writes what Relance learnt of a method (its last success, a rule that forbids it, its standing).
    func update(_ method: PaymentMethod) throws
    /// The method as stored now.
    func method(token: String) throws -> PaymentMethod?

    // MARK: The compliance ledger

    /// A credential's entries since `since`, oldest first.
    func ledger(credential: String, since: Int64) throws -> [LedgerEntry]
    /// Adds an attempt (Relance's, by `key`, or one made elsewhere, by `payment`).
    func addLedger(credential: String, time: Int64, amount: Int64, flags: LedgerEntry.Flags, decline: Decline?, key: String?, payment: String?) throws
    /// Changes the entry of Relance's attempt `key` as its answer says. An entry that holds a
    /// payment id (the attempt reached the provider) is never removed.
    func changeLedger(key: String, _ change: ChargeMachine.LedgerChange) throws
    /// Flags the credential's entries in `(after, through]` as reattempts: a decline at `after`, learnt
    /// late (a poll reaching an older failure after a newer one), makes every attempt after it within
    /// the window one, as the network counts them, whatever order they were learnt in.
    func flagReattempts(credential: String, after: Int64, through: Int64) throws
    /// Whether a payment is known already: in the ledger by its id, or possibly the charge's attempt
    /// in flight on `method` (whose answer is not recorded yet).
    func knows(payment: String, charge: String, method: String) throws -> KnownPayment

    // MARK: Attempts

    /// When a charge whose credential has an attempt reserved should look again, or nil when it is free.
    func busyUntil(credential: String, now: Int64) throws -> Int64?
    /// The highest attempt number the charge ever reserved (0: none).
    func highestAttempt(charge: String) throws -> Int
    /// Reserves an attempt: its row, with its key.
    func reserve(charge: String, _ reservation: ChargeMachine.Reservation, at time: Int64) throws
    /// The charge's latest reserved attempt.
    func reservedAttempt(charge: String) throws -> (number: Int, key: String, method: String, reservedAt: Int64)?
    /// An attempt's state (`reserved`, `succeeded`, ...), by its key.
    func attemptState(key: String) throws -> String?
    /// Ends an attempt; its outcome record takes the outcome (or goes, when no payment was made).
    func finishAttempt(key: String, state: String, outcome: String, at time: Int64) throws
    /// Writes an attempt's outcome record (with its reservation).
    func recordOutcome(_ record: OutcomeRecord) throws
    /// Keeps the decline a declined attempt brought in its outcome record (what `simulate` replays).
    func recordOutcomeDecline(key: String, _ decline: RawDecline) throws

    // MARK: Sharing the work (a shared database; one host holds every lease)

    /// Whether this node leases the charge's bucket: checked in a write transaction before anything
    /// is done to a charge, and held until it commits (the bucket is not given up meanwhile).
    func lease(charge rowid: Int64) throws -> LeaseHold
    /// Serialises this transaction with other nodes' on the credential (its network-rule counters).
    func lockCredential(_ credential: String) throws
    /// Throws unless this node still holds the poller's lock (the poll cursor moves under it only).
    func confirmPoller() throws

    // MARK: Outbox and meta

    /// Appends an event; returns its sequence number.
    func appendEvent(id: String, json: String) throws -> Int64
    func meta(_ key: String) throws -> String?
    func setMeta(_ key: String, _ value: String) throws
}

extension ChargeTransaction {
    package func lease(charge rowid: Int64) throws -> LeaseHold { .held(0) }

    package func lockCredential(_ credential: String) throws {}

    package func confirmPoller() throws {}

    /// The planner's view of the charge with `methods` and their ledgers.
    package func book(_ charge: ChargeRecord, methods: [PaymentMethod], now: Int64) throws -> ChargeBook {
        let since = charge.ledgerSince(now: now)
        return charge.book(methods: methods, ledgers: try methods.map { try ledger(credential: $0.credential, since: since) })
    }
}

/// What the store knows of a payment the provider reported (``ChargeTransaction/knows(payment:charge:method:)``).
package enum KnownPayment: Equatable, Sendable {
    case unknown
    /// In the ledger by its id.
    case recorded
    /// Not recorded, but the charge has an attempt in flight on the same method, under this key.
    case inFlight(key: String)
}

/// A bucket a node took, and how long the node that leased it before may still send a request it
/// had begun, besides the request's own timeout: the lease when it expired in that node's hands (it
/// may be alive, cut off), 0 when it was given up or was this node's own (its process before a restart).
package struct Handover: Sendable, Equatable {
    package var bucket: Int
    package var seconds: Double

    package init(bucket: Int, seconds: Double) {
        self.bucket = bucket
        self.seconds = seconds
    }
}

/// A node's lease on a charge's bucket (``ChargeTransaction/lease(charge:)``).
package enum LeaseHold: Equatable, Sendable {
    /// Leased by this node: the charge is its to work on.
    case held(Int)
    /// This node counts the bucket as its own, but the database does not confirm it now (a renewal
    /// late, the lease taken over meanwhile): the charge is looked at again shortly.
    case unconfirmed
    /// Leased by another node, or by none: this node leaves the charge alone.
    case elsewhere
}
