import Daemon
import GRDB
import RetryPlanner
import Store

extension Engine {
    /// The SQLite database under the engine, for tests that read or change rows directly.
    var db: Store { (store as! SQLiteChargeStore).database }
}

extension SQLiteTransaction {
    /// The charge with this id.
    func charge(id: String) throws -> ChargeRecord? {
        try Int64.fetchOne(db, sql: "SELECT rowid FROM charges WHERE id = ?", arguments: [id]).flatMap { try charge(rowid: $0) }
    }
}
