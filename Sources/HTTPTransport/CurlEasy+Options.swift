import CCurl

/// Typed setters over the shim's non-variadic `curl_easy_setopt` wrappers.
///
/// The result codes are ignored: they only report options unknown to an older libcurl or out of memory,
/// and either shows up as the transfer's own error.
extension CurlEasy {
    func set(_ option: CURLoption, _ value: Int) {
        _ = ccurl_easy_setopt_long(handle, option, value)
    }

    func set(_ option: CURLoption, offset: Int64) {
        _ = ccurl_easy_setopt_off_t(handle, option, curl_off_t(offset))
    }

    /// curl copies strings it is given, except for `CURLOPT_POSTFIELDS` (not used here).
    func set(_ option: CURLoption, string: String?) {
        _ = ccurl_easy_setopt_string(handle, option, string)
    }

    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) {
        _ = ccurl_easy_setopt_pointer(handle, option, pointer)
    }

    func set(_ option: CURLoption, callback: ccurl_data_callback) {
        _ = ccurl_easy_setopt_callback(handle, option, callback)
    }
}

/// `CURLOPT_WRITEFUNCTION`: appends body bytes, or stops the transfer (returns 0) past the size limit.
func curlWriteBody(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let easy = Unmanaged<CurlEasy>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return length }
    if easy.body.count + length > easy.maxBody {
        easy.overLimit = true
        return 0
    }
    easy.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

/// `CURLOPT_HEADERFUNCTION`: keeps the header lines of the latest response; a status line starts a new one.
func curlWriteHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    let easy = Unmanaged<CurlEasy>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return length }
    let line = UnsafeRawBufferPointer(start: data, count: length)
    if line.starts(with: "HTTP/".utf8) {
        easy.headerBytes.removeAll(keepingCapacity: true)
    } else {
        easy.headerBytes.append(contentsOf: line)
    }
    return length
}

/// Splits raw header lines ("Name: value\r\n") into fields, in order; lines without a colon are skipped.
enum HeaderLines {
    static func parse(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(12)
        bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                var end = start, colon = -1
                while end < buffer.count, buffer[end] != UInt8(ascii: "\n") {
                    if colon < 0, buffer[end] == UInt8(ascii: ":") { colon = end }
                    end += 1
                }
                if colon >= 0 {
                    var from = colon + 1, to = end
                    while from < to, buffer[from] == 0x20 || buffer[from] == 0x09 { from += 1 }
                    while to > from, buffer[to - 1] == 0x20 || buffer[to - 1] == 0x09 || buffer[to - 1] == 0x0D { to -= 1 }
                    let name = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<colon]), as: UTF8.self)
                    let value = String(decoding: UnsafeBufferPointer(rebasing: buffer[from..<to]), as: UTF8.self)
                    fields.append((name, value))
                }
                start = end + 1
            }
        }
        return fields
    }
}
