/* The plain C API Swift sees for request signing (OpenSSL's libcrypto, which libcurl already
 * loads): SHA-256 and HMAC-SHA256, as AWS Signature Version 4 uses them. */
#ifndef CDIGEST_H
#define CDIGEST_H

#include <stddef.h>
#include <stdint.h>

#define CDIGEST_SHA256_LENGTH 32

/* SHA-256 of `count` bytes into `digest` (32 bytes). 0, or -1 if libcrypto failed. */
int32_t cdigest_sha256(const uint8_t *bytes, size_t count, uint8_t *digest);

/* HMAC-SHA256 of `count` bytes under `key` into `mac` (32 bytes). 0, or -1 if libcrypto failed. */
int32_t cdigest_hmac_sha256(const uint8_t *key, size_t key_length, const uint8_t *bytes, size_t count, uint8_t *mac);

#endif
