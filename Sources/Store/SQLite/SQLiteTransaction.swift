package import GRDB
import RetryPlanner

/// A ``ChargeTransaction`` over one SQLite connection inside its transaction. Its statements live
/// beside their tables: `+Charges`, `+Methods`, `+Ledger`, `+Attempts`, and the outbox with meta.
package struct SQLiteTransaction: ChargeTransaction {
    package let db: Database

    package init(db: Database) {
        self.db = db
    }
}
