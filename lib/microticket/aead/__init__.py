"""AEAD record protection (RFC 5116 contract): AES-128-GCM (microticket.aead.gcm), ChaCha20-Poly1305
(microticket.aead.chacha20_poly1305) and AES-CCM (microticket.aead.ccm). Each module is loaded only by a
connection that agreed a suite using it. One contract, in place on the caller's buffer:

    a = Cipher(key)                               key schedule and scratch buffers, made once per direction
    a.seal(nonce, aad, buf, off, n)               buf[off:off+n] encrypted in place, the tag written after it
    a.open(nonce, aad, buf, off, n) -> bool       n: ciphertext bytes before the tag; the tag is checked (in
                                                  constant time) before anything is decrypted

Tags are 16 bytes, an AesCcm's ``TAG`` (16 or 8, CCM_8). Arguments are positional (AesGcm names them iv and
a: names a board interns anyway). The TLS nonce and additional data (RFC 5288, RFC 7905, RFC 6655) are
built by microticket.tls.record_aead.
"""
