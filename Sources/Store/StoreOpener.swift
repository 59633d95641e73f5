import Foundation
package import Logging
package import RelanceConfig
package import ServiceLifecycle

/// The store `[store]` names, opened for a daemon or a command, with the services it needs running.
package struct OpenedStore: Sendable {
    package let store: any ChargeStore
    /// Run beside the daemon's own (first in its group: they end after every service that writes).
    package let services: [any Service]
    /// What the log's "ready" line says of it.
    package let summary: String
    /// The node's guard on a shared database: its leases and connection are let go by ``close()``.
    let guardian: NodeGuard?

    /// Lets the store go when the daemon does not start after all: the node's leases are given up (the
    /// other nodes take them at once), and the connections are closed.
    package func close() async {
        await guardian?.close()
        (store as? PostgresChargeStore)?.close()
    }
}

package enum StoreOpener {
    /// SQLite in `[daemon] state_dir`, or the PostgreSQL server of `[store] url` (its schema checked
    /// against this build's, never migrated here; the node joined, with its first share of the work).
    package static func open(_ settings: Settings, logger: Logger) async throws -> OpenedStore {
        switch settings.store.kind {
        case .sqlite:
            let path = settings.daemon.stateDir + "/relance.sqlite"
            return OpenedStore(store: try SQLiteChargeStore(path: path), services: [], summary: "sqlite \(path)", guardian: nil)
        case .postgresql:
            let endpoint = try endpoint(settings.store)
            let store = try await PostgresChargeStore.open(endpoint, logger: logger)
            do {
                let guardian = try await NodeGuard.join(endpoint, node: settings.store.nodeName, lease: settings.store.leaseSeconds, logger: logger)
                store.watch = guardian
                return OpenedStore(store: store, services: [store.service, guardian], summary: "postgresql \(settings.store.url!) node \(settings.store.nodeName)",
                                   guardian: guardian)
            } catch {
                store.close()
                throw error
            }
        }
    }

    /// The PostgreSQL store for a command (`relancectl migrate`, and those that read a state): no node lock.
    package static func postgres(_ settings: StoreSettings, logger: Logger, checkSchema: Bool) async throws -> PostgresChargeStore {
        try await PostgresChargeStore.open(try endpoint(settings), logger: logger, checkSchema: checkSchema)
    }

    package static func endpoint(_ settings: StoreSettings) throws -> PostgresEndpoint {
        guard let url = settings.url else { throw PostgresStoreError("[store] kind = \"postgresql\" needs [store] url") }
        let password: String?
        do { password = try settings.readPassword() } catch { throw PostgresStoreError("\(error)") }
        return PostgresEndpoint(socketPath: url.socketPath, host: url.host ?? "localhost", port: url.port, user: url.user, password: password,
                                database: url.database, tls: url.sslMode == .require ? .require : url.sslMode == .prefer ? .prefer : .disable, applicationName: NodeGuard.poolName(settings.nodeName),
                                connectTimeout: url.connectTimeout ?? 10)
    }
}
