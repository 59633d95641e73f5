import CCurl

/// Runs `curl_global_init` once per process, before the first handle is made.
private let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// Owns one curl multi handle: the event loop, the connection cache and the HTTP/2 multiplexing.
///
/// Only the transfer thread calls its methods, except `wakeup()`, which libcurl allows from any thread.
final class CurlMulti: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init(maxConnectionsPerHost: Int) throws(HTTPError) {
        let global = curlGlobalInit
        guard global == CURLE_OK else { throw HTTPError(code: global, detail: "curl_global_init failed", requestBytes: 0) }
        guard let handle = curl_multi_init() else {
            throw HTTPError(kind: .transport, message: "curl_multi_init failed")
        }
        self.handle = handle
        _ = ccurl_multi_setopt_long(handle, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        _ = ccurl_multi_setopt_long(handle, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, maxConnectionsPerHost))
        // Idle connections kept for reuse: enough for every host's full set, for a few hosts.
        _ = ccurl_multi_setopt_long(handle, CURLMOPT_MAXCONNECTS, max(1, maxConnectionsPerHost) * 4)
    }

    deinit {
        curl_multi_cleanup(handle)
    }

    func add(_ easy: CurlEasy) -> CURLMcode {
        curl_multi_add_handle(handle, easy.handle)
    }

    func remove(_ easy: CurlEasy) {
        curl_multi_remove_handle(handle, easy.handle)
    }

    /// Moves every transfer as far as it can go without blocking.
    func perform() {
        var running: Int32 = 0
        _ = curl_multi_perform(handle, &running)
    }

    /// Blocks until a socket is ready, a curl timer is due, `wakeup()` is called, or `milliseconds` pass.
    func poll(milliseconds: Int32) {
        _ = curl_multi_poll(handle, nil, 0, milliseconds, nil)
    }

    /// Makes a current or the next `poll` return at once.
    func wakeup() {
        _ = curl_multi_wakeup(handle)
    }

    /// Calls `body` with each finished transfer's easy handle and result code.
    func forEachDone(_ body: (UnsafeMutableRawPointer, CURLcode) -> Void) {
        var left: Int32 = 0
        while let message = curl_multi_info_read(handle, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            body(easy, message.pointee.data.result)
        }
    }
}
