import HTTPTransport
import Testing

/// Tasks run on the transfer thread through `HTTPTransport.taskExecutor`.
@Suite struct TaskExecutorTests {
    @Test func tasksOnTheTransferThreadSendManyRequests() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let answered = try await withTaskExecutorPreference(transport.taskExecutor) {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<20 {
                    group.addTask {
                        var good = 0
                        for i in 0..<10 {
                            let request = HTTPRequest(method: "POST", url: peer.url("/echo"), body: Array("\(worker)-\(i)".utf8))
                            if try Echo(try await transport.send(request)).body == "\(worker)-\(i)" { good += 1 }
                        }
                        return good
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(answered == 200)
    }

    @Test func tasksWaitingOnTheTransferThreadOutliveShutdown() async throws {
        let peer = try await HTTPPeer.start()
        let transport = try HTTPTransport()
        let waiting = Task(executorPreference: transport.taskExecutor) { () -> HTTPError.Kind? in
            do {
                _ = try await transport.send(HTTPRequest(url: peer.url("/delay?seconds=10")))
                return nil
            } catch {
                // Still running after the thread is gone: a later await must resume too.
                try? await Task.sleep(for: .milliseconds(50))
                return (error as? HTTPError)?.kind
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        transport.shutdown()
        #expect(await waiting.value == .shutdown)
        let later = Task(executorPreference: transport.taskExecutor) { await Task.yield(); return 7 }
        #expect(await later.value == 7)
    }
}
