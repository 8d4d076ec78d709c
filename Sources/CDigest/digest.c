#include "CDigest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

int32_t cdigest_sha256(const uint8_t *bytes, size_t count, uint8_t *digest)
{
    unsigned int length = 0;

    if (EVP_Digest(bytes, count, digest, &length, EVP_sha256(), NULL) != 1 || length != CDIGEST_SHA256_LENGTH)
        return -1;
    return 0;
}

int32_t cdigest_hmac_sha256(const uint8_t *key, size_t key_length, const uint8_t *bytes, size_t count, uint8_t *mac)
{
    unsigned int length = 0;

    if (key_length > (size_t)INT32_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)key_length, bytes, count, mac, &length) || length != CDIGEST_SHA256_LENGTH)
        return -1;
    return 0;
}
