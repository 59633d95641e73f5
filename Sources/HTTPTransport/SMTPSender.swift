import Dispatch
import Synchronization

/// Sends messages over a few SMTP connections kept open, each on its own serial queue: the blocking
/// `curl_easy_perform` never runs on the cooperative thread pool.
///
/// A caller picks a lane (`0..<lanes`); messages on one lane go one after another on one connection,
/// lanes run side by side. A connection that failed is dropped and a new one opened for the next message.
package final class SMTPSender: Sendable {
    private struct Lane: @unchecked Sendable {
        let queue: DispatchQueue
        /// Touched only on `queue`.
        let slot: Slot
    }

    private final class Slot: @unchecked Sendable {
        var connection: SMTPConnection?
    }

    private let configuration: SMTPConfiguration
    private let laneList: [Lane]

    package var lanes: Int { laneList.count }

    package init(configuration: SMTPConfiguration, lanes: Int) {
        self.configuration = configuration
        laneList = (0..<max(1, lanes)).map { i in Lane(queue: DispatchQueue(label: "relance-smtp-\(i)"), slot: Slot()) }
    }

    /// Sends the message on the given lane; returns once the server answered 250 to its `DATA`.
    package func send(_ message: SMTPMessage, lane: Int) async throws(SMTPError) {
        let lane = laneList[lane % laneList.count]
        let configuration = self.configuration
        let result: Result<Void, SMTPError> = await withCheckedContinuation { continuation in
            lane.queue.async {
                continuation.resume(returning: Self.sendOnLane(message, slot: lane.slot, configuration: configuration))
            }
        }
        try result.get()
    }

    /// On the lane's queue: opens the connection if needed and sends.
    private static func sendOnLane(_ message: SMTPMessage, slot: Slot, configuration: SMTPConfiguration) -> Result<Void, SMTPError> {
        let connection: SMTPConnection
        if let open = slot.connection {
            connection = open
        } else {
            switch Result(catching: { () throws(SMTPError) in try SMTPConnection(configuration: configuration) }) {
            case .success(let c): connection = c
            case .failure(let e): return .failure(e)
            }
            slot.connection = connection
        }
        do throws(SMTPError) {
            try connection.send(message)
            return .success(())
        } catch {
            // After a failure the session may be in any state: the next message starts afresh.
            if error.kind == .transient { slot.connection = nil }
            return .failure(error)
        }
    }
}
