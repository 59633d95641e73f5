import Foundation

/// The `GET /status` document (schema: `docs/status.schema.json`); times are RFC 3339 strings.
///
/// The daemon builds and encodes it; `relancectl status` decodes it and prints `summary()`.
/// Keys are snake_case on the wire; optional fields are present as `null`.
package struct StatusDocument: Codable, Sendable, Equatable {
    package var version: String
    package var pid: Int
    package var startedAt: String
    package var uptimeSeconds: Double
    package var virtualTime: String
    package var timeScale: Int
    package var config: Config
    package var provider: Provider
    package var charges: Charges
    package var dueBacklog: Int
    package var attempts: Window
    package var recoveries: Window
    package var recoveryRateByAmount: [Band]
    package var spool: Spool
    package var lastErrors: [ErrorEntry]
    /// Held charges, longest held first (at most 20).
    package var holds: [Hold]
    /// Customers held as a whole, longest held first (at most 20); absent from an older daemon's document.
    package var heldCustomers: [CustomerHold]?
    /// Recovery by segment and currency, weighted by amount; absent from an older daemon's document.
    package var recoveryBySegment: [SegmentRecovery]?
    /// The store, this node, and the other nodes on its database; absent from an older daemon's document.
    package var store: Store?

    package init(
        version: String, pid: Int, startedAt: String, uptimeSeconds: Double, virtualTime: String, timeScale: Int,
        config: Config, provider: Provider, charges: Charges, dueBacklog: Int, attempts: Window, recoveries: Window,
        recoveryRateByAmount: [Band], spool: Spool, lastErrors: [ErrorEntry], holds: [Hold] = [], heldCustomers: [CustomerHold] = [],
        recoveryBySegment: [SegmentRecovery] = [], store: Store? = nil
    ) {
        self.recoveryBySegment = recoveryBySegment
        self.store = store
        self.version = version
        self.pid = pid
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.virtualTime = virtualTime
        self.timeScale = timeScale
        self.config = config
        self.provider = provider
        self.charges = charges
        self.dueBacklog = dueBacklog
        self.attempts = attempts
        self.recoveries = recoveries
        self.recoveryRateByAmount = recoveryRateByAmount
        self.spool = spool
        self.lastErrors = lastErrors
        self.holds = holds
        self.heldCustomers = heldCustomers
    }

    /// Where the state is: `sqlite` (this host alone) or `postgresql` (shared by the nodes listed).
    package struct Store: Codable, Sendable, Equatable {
        package var kind: String
        /// This node's `[store] node_name`; null on SQLite.
        package var node: String?
        /// The buckets of customers this node leases (of 64); empty on SQLite.
        package var leases: [Int]
        /// Every node seen on the database, this one included, the latest heartbeat first.
        package var nodes: [Node]

        package init(kind: String, node: String?, leases: [Int] = [], nodes: [Node]) {
            (self.kind, self.node, self.leases, self.nodes) = (kind, node, leases, nodes)
        }

        package struct Node: Codable, Sendable, Equatable {
            package var name: String
            package var host: String
            package var pid: Int
            /// `working`, `polling` (it also polls the provider) or `stopped`.
            package var role: String
            package var heartbeatAgeSeconds: Double
            /// Buckets it leases now.
            package var leases: Int

            package init(name: String, host: String, pid: Int, role: String, heartbeatAgeSeconds: Double, leases: Int = 0) {
                (self.name, self.host, self.pid, self.role, self.heartbeatAgeSeconds, self.leases) = (name, host, pid, role, heartbeatAgeSeconds, leases)
            }
        }
    }

    /// A customer held as a whole: their charges, and their next failures, wait.
    package struct CustomerHold: Codable, Sendable, Equatable {
        package var customer: String
        /// The admin's reason, `dispute` or `dispute_lost`.
        package var reason: String
        /// RFC 3339, like every time in the document; `until` nil: until released.
        package var since: String, until: String?

        package init(customer: String, reason: String, since: String, until: String?) {
            (self.customer, self.reason, self.since, self.until) = (customer, reason, since, until)
        }

        /// `until` is written as null when none (every key is always present).
        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            for (key, value) in [(CodingKeys.customer, customer), (.reason, reason), (.since, since)] { try c.encode(value, forKey: key) }
            try c.encode(until, forKey: .until)
        }
    }

    /// A held charge: no attempt, no notice, its span clock stopped.
    package struct Hold: Codable, Sendable, Equatable {
        package var charge: String
        package var customer: String
        package var reason: String
        package var since: String
        package var until: String?
        package var scope: String

        package init(charge: String, customer: String, reason: String, since: String, until: String?, scope: String) {
            (self.charge, self.customer, self.reason, self.since, self.until, self.scope) = (charge, customer, reason, since, until, scope)
        }

        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(charge, forKey: .charge)
            try c.encode(customer, forKey: .customer)
            try c.encode(reason, forKey: .reason)
            try c.encode(since, forKey: .since)
            try c.encode(until, forKey: .until)
            try c.encode(scope, forKey: .scope)
        }
    }

    package struct Config: Codable, Sendable, Equatable {
        package var path: String
        package var digest: String
        package var loadedAt: String
        package var lastReloadError: String?

        package init(path: String, digest: String, loadedAt: String, lastReloadError: String?) {
            self.path = path
            self.digest = digest
            self.loadedAt = loadedAt
            self.lastReloadError = lastReloadError
        }
    }

    package struct Provider: Codable, Sendable, Equatable {
        package var name: String
        /// `ok`, `backing_off`, `unauthorized` or `failing`.
        package var state: String
        package var lastError: String?
        package var lastSuccessAt: String?

        package init(name: String, state: String, lastError: String?, lastSuccessAt: String?) {
            self.name = name
            self.state = state
            self.lastError = lastError
            self.lastSuccessAt = lastSuccessAt
        }
    }

    package struct Charges: Codable, Sendable, Equatable {
        package var scheduled: Int
        package var inFlight: Int
        package var waiting: Int
        package var recovered: Int
        package var exhausted: Int
        package var closed: Int
        /// Open charges under a hold (counted in their state too).
        package var held: Int

        package init(scheduled: Int, inFlight: Int, waiting: Int, recovered: Int, exhausted: Int, closed: Int, held: Int = 0) {
            self.scheduled = scheduled
            self.inFlight = inFlight
            self.waiting = waiting
            self.recovered = recovered
            self.exhausted = exhausted
            self.closed = closed
            self.held = held
        }
    }

    /// Counts over the last hour and the last day (of virtual time).
    package struct Window: Codable, Sendable, Equatable {
        package var lastHour: Int
        package var lastDay: Int

        package init(lastHour: Int, lastDay: Int) {
            self.lastHour = lastHour
            self.lastDay = lastDay
        }
    }

    /// Recovery over one amount band: charges whose amount (minor units) is in `min...max`
    /// (`max` nil = no upper bound); `rate` = recovered / charges, 0 when there are none.
    /// One segment's failed charges in one currency: `rate` is the recovered share of the failed amount.
    package struct SegmentRecovery: Codable, Sendable, Equatable {
        package var segment: String
        package var currency: String
        package var failedAmount: Int64
        package var recoveredAmount: Int64
        package var charges: Int
        package var recovered: Int
        package var rate: Double

        package init(segment: String, currency: String, failedAmount: Int64, recoveredAmount: Int64, charges: Int, recovered: Int) {
            self.segment = segment
            self.currency = currency
            self.failedAmount = failedAmount
            self.recoveredAmount = recoveredAmount
            self.charges = charges
            self.recovered = recovered
            rate = failedAmount > 0 ? Double(recoveredAmount) / Double(failedAmount) : 0
        }
    }

    package struct Band: Codable, Sendable, Equatable {
        package var band: String
        package var minMinor: Int
        package var maxMinor: Int?
        package var charges: Int
        package var recovered: Int
        package var rate: Double

        package init(band: String, minMinor: Int, maxMinor: Int?, charges: Int, recovered: Int, rate: Double) {
            self.band = band
            self.minMinor = minMinor
            self.maxMinor = maxMinor
            self.charges = charges
            self.recovered = recovered
            self.rate = rate
        }
    }

    package struct Spool: Codable, Sendable, Equatable {
        package var pendingEvents: Int
        package var paused: Bool
        package var reason: String?

        package init(pendingEvents: Int, paused: Bool, reason: String?) {
            self.pendingEvents = pendingEvents
            self.paused = paused
            self.reason = reason
        }
    }

    package struct ErrorEntry: Codable, Sendable, Equatable {
        package var time: String
        package var message: String

        package init(time: String, message: String) {
            self.time = time
            self.message = message
        }
    }
}

extension StatusDocument {
    /// Decodes the wire form; the error names the missing or mistyped field.
    package static func decode(_ bytes: [UInt8]) throws -> StatusDocument {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(StatusDocument.self, from: Data(bytes))
    }

    /// Encodes the wire form, keys sorted; absent optionals are written as `null`.
    package func encode() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }
}

// Synthesized `Encodable` leaves out a nil optional; the schema wants every key present, with
// `null` for "none". These encoders write each key, and `Optional`'s own encoding writes `null`.
extension StatusDocument.Config {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(digest, forKey: .digest)
        try c.encode(loadedAt, forKey: .loadedAt)
        try c.encode(lastReloadError, forKey: .lastReloadError)
    }
}

extension StatusDocument.Provider {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(state, forKey: .state)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(lastSuccessAt, forKey: .lastSuccessAt)
    }
}

extension StatusDocument.Band {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(band, forKey: .band)
        try c.encode(minMinor, forKey: .minMinor)
        try c.encode(maxMinor, forKey: .maxMinor)
        try c.encode(charges, forKey: .charges)
        try c.encode(recovered, forKey: .recovered)
        try c.encode(rate, forKey: .rate)
    }
}

extension StatusDocument.Spool {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pendingEvents, forKey: .pendingEvents)
        try c.encode(paused, forKey: .paused)
        try c.encode(reason, forKey: .reason)
    }
}

extension StatusDocument.Store {
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(node, forKey: .node)
        try c.encode(leases, forKey: .leases)
        try c.encode(nodes, forKey: .nodes)
    }
}
