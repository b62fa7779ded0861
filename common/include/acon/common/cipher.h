// Symmetric primitives: AES-GCM and AES Key Wrap (RFC 3394) for JWE, AES-CFB for TPM credentials.
#pragma once

#include "acon/common/bytes.h"

namespace acon {

struct GcmSealed {
  Bytes ciphertext;
  Bytes tag;  // 16 bytes
};

// AES-GCM with a 128/192/256-bit key chosen by key.size(); iv is normally 12 bytes.
Result<GcmSealed> aes_gcm_encrypt(ByteView key, ByteView iv, ByteView aad, ByteView plaintext);
// Fails with verify_failed when the tag does not authenticate; no plaintext is released then.
Result<SecretBytes> aes_gcm_decrypt(ByteView key, ByteView iv, ByteView aad, ByteView ciphertext,
                                    ByteView tag);

// AES in CFB mode (CFB128, no padding), key 16/24/32 bytes, iv 16 bytes: the TPM's parameter
// and credential encryption (TPM 2.0 Library Part 1, "Symmetric Encryption").
Result<Bytes> aes_cfb_encrypt(ByteView key, ByteView iv, ByteView plaintext);

// AES Key Wrap with the default IV; kek is 16, 24 or 32 bytes, key a multiple of 8 (>= 16).
Result<Bytes> aes_key_wrap(ByteView kek, ByteView key);
Result<SecretBytes> aes_key_unwrap(ByteView kek, ByteView wrapped);

}  // namespace acon
