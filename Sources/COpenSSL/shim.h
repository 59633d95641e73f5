/* OpenSSL's one-shot HMAC (libcrypto), for webhook signatures. */
#ifndef RELANCE_COPENSSL_SHIM_H
#define RELANCE_COPENSSL_SHIM_H

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* HMAC-SHA256 of data under key into out (32 bytes); returns 1 on success. */
static inline int copenssl_hmac_sha256(const void *key, int keyLength, const unsigned char *data, size_t dataLength, unsigned char *out) {
    unsigned int length = 0;
    return HMAC(EVP_sha256(), key, keyLength, data, dataLength, out, &length) != NULL && length == 32;
}

#endif
