import Foundation
import RetryPlanner
import StatusServer
import Store

/// `GET /charges/{id}` on the status socket: a charge's state and whether it is held, nothing
/// personal (no customer, amount, contact or method). `relance-deliver` asks it before each
/// reminder, to drop the charges settled or held since the notice was written.
///
/// `{"charge": ID, "state": "scheduled" | "in_flight" | "waiting" | "recovered" | "exhausted" | "closed", "held": BOOL}`;
/// 404 for a charge the store does not know.
enum ChargeStateRoute {
    static func answer(_ encoded: String, store: any ChargeStore) async -> StatusResponse {
        let id = encoded.removingPercentEncoding ?? encoded
        guard !id.isEmpty, !id.contains("/") else { return .text("expected /charges/{id}\n", status: 404) }
        do {
            let record = try await store.read { tx -> ChargeRecord? in
                guard let rowid = try tx.rowid(ofCharge: id) else { return nil }
                return try tx.charge(rowid: rowid)
            }
            guard let record else { return .text("unknown charge\n", status: 404) }
            let body = try JSONSerialization.data(withJSONObject: ["charge": record.id, "state": record.state.rawValue, "held": record.hold != nil],
                                                  options: [.sortedKeys])
            return .json([UInt8](body))
        } catch {
            return .text("store unavailable: \(error)\n", status: 503)
        }
    }
}
