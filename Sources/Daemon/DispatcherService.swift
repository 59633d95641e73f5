import AsyncAlgorithms
package import Logging
import ServiceLifecycle

/// Hands due charges to a bounded pool of workers (the provider's client keeps its request rate).
package struct DispatcherService: Service {
    let runner: any ChargeRunner
    let signals: DaemonSignals
    let clock: VirtualClock
    let index: DueIndex
    let logger: Logger
    let busy = BusySet()

    package init(runner: any ChargeRunner, signals: DaemonSignals, clock: VirtualClock, index: DueIndex, logger: Logger) {
        self.runner = runner
        self.signals = signals
        self.clock = clock
        self.index = index
        self.logger = logger
    }

    /// New work waits: the spool is full or far behind, the key is refused, or the provider asked to back off.
    var holdsWork: Bool {
        signals.isPaused || runner.spoolBehind || signals.health.blocksAttempts
            || signals.health.wait > 0
    }

    package func run() async throws {
        let channel = AsyncChannel<Int64>()
        let workers = runner.settings.daemon.workers
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask { [self] in
                    for await rowid in channel {
                        if holdsWork {
                            // The hold began while this charge waited for a worker : it goes
                            // back to the index, and out once the hold ends. Only attempts already past
                            // this point when the spool filled go on, at most one a worker.
                            busy.remove(rowid)
                            index.push(rowid, atInstant: clock.preciseNow())
                            continue
                        }
                        let next = await runner.wake(rowid, dispatched: true)
                        busy.remove(rowid)
                        index.push(contentsOf: runner.takeWoken())
                        if let next {
                            // Wanted again within the second that is running (a busy credential): 50 ms
                            // from now, not at once (that would spin until it clears).
                            if next <= clock.now() {
                                index.push(rowid, atInstant: clock.preciseNow() + 0.05 * clock.scale)
                            } else {
                                index.push(rowid, at: next)
                            }
                        }
                        if !signals.storeFailing(within: .seconds(2)) { signals.beat("dispatcher") }
                    }
                }
            }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    if holdsWork {
                        // Holding by design (the reason is in /status and /healthz), not stuck: the
                        // watchdog keeps being fed, and a full spool disk does not become a restart loop.
                        // Checked again every 20 ms: what falls due meanwhile goes out soon after the
                        // hold ends, not up to a long pause later.
                        signals.beat("dispatcher")
                        if await pause(0.02) { continue } else { break }
                    }
                    let due = index.popDue(before: clock.preciseNow(), limit: 256)
                    if due.isEmpty {
                        // Idle by design, unless the store keeps failing.
                        if !signals.storeFailing(within: .seconds(2)) { signals.beat("dispatcher") }
                        let wait = index.nextInstant.map { clock.wallSeconds(until: $0) } ?? 0.05
                        if !(await pause(min(0.05, max(0.001, wait)))) { break }
                        continue
                    }
                    for (n, entry) in due.enumerated() {
                        // Paused while handing out the batch: what is left goes back to the index.
                        if holdsWork {
                            index.push(contentsOf: due[n...].map { ($0.id, $0.at) })
                            break
                        }
                        let fresh = busy.insert(entry.id)
                        if fresh { await channel.send(entry.id) }
                    }
                }
            }
            // Graceful shutdown: stop handing out work; workers finish the attempts they hold.
            channel.finish()
        }
    }
}
