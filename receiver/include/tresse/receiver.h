/* tresse/receiver.h: the receiver's C API, for C programs and foreign-function interfaces.
 *
 * The same checks as tresse::receiver::verifier (see tresse/receiver/verify.hpp), behind an
 * opaque handle. Every function returns 0 or a stable TRESSE_* number; tresse_error_name()
 * gives its snake_case name. No function throws, aborts or keeps a pointer it was given.
 *
 *   const char* secrets[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
 *   tresse_verifier* v = tresse_verifier_new(secrets, 1, 0);
 *   if (v == NULL) { ... invalid secret ... }
 *   char why[256];
 *   int rc = tresse_verifier_verify(v, id, timestamp, signature, body, body_len, 0,
 *                                   why, sizeof why);
 *   if (rc != TRESSE_OK) { fprintf(stderr, "%s: %s\n", tresse_error_name(rc), why); }
 *   tresse_verifier_free(v);
 *
 * A verifier may be used from many threads at once once set up (after
 * tresse_verifier_enable_replay_guard, which is not thread-safe). */
#ifndef TRESSE_RECEIVER_H
#define TRESSE_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes. 1-7 equal the values of tresse::receiver::errc. */
#define TRESSE_OK 0
#define TRESSE_MISSING_HEADER 1
#define TRESSE_INVALID_TIMESTAMP 2
#define TRESSE_TIMESTAMP_TOO_OLD 3
#define TRESSE_TIMESTAMP_TOO_NEW 4
#define TRESSE_NO_MATCHING_SIGNATURE 5
#define TRESSE_INVALID_SECRET 6
#define TRESSE_REPLAYED 7
#define TRESSE_INVALID_ARGUMENT 100 /* a null handle or pointer where one is required */
#define TRESSE_BUFFER_TOO_SMALL 101 /* the output buffer cannot hold the result */
#define TRESSE_OUT_OF_MEMORY 102

/* Room for any single signature tresse_sign() writes ("v1a," + 88 characters + NUL). */
#define TRESSE_SIGNATURE_MAX 128

typedef struct tresse_verifier tresse_verifier;

/* A verifier for `count` secrets (whsec_..., whpk_..., whsk_... or plain base64; see
 * tresse/receiver/key.hpp). tolerance_seconds is the accepted clock skew in both directions;
 * 0 selects the default of 300. Returns NULL if a secret is invalid, secrets is NULL while
 * count > 0, tolerance_seconds is negative, or memory runs out. */
tresse_verifier* tresse_verifier_new(const char* const* secrets, size_t count,
                                     int64_t tolerance_seconds);

/* Releases `v` and wipes its keys. NULL is a no-op. */
void tresse_verifier_free(tresse_verifier* v);

/* Turns on replay protection: an in-memory guard remembering up to `capacity` accepted
 * webhook-ids (0 selects 100000). Call before sharing `v` between threads. Returns TRESSE_OK,
 * TRESSE_INVALID_ARGUMENT or TRESSE_OUT_OF_MEMORY. */
int tresse_verifier_enable_replay_guard(tresse_verifier* v, size_t capacity);

/* Forgets an accepted webhook-id so that a redelivery of it is accepted again (when the
 * receiver failed to process it). No-op without a replay guard. */
void tresse_verifier_forget(tresse_verifier* v, const char* id);

/* Verifies a webhook. id, timestamp and signature are the NUL-terminated values of the
 * webhook-id, webhook-timestamp and webhook-signature headers (NULL or "" = missing); body is
 * the raw body, body_len bytes (body may be NULL when body_len is 0). now is the current unix
 * time in seconds, or 0 for the system clock. If message is not NULL, a NUL-terminated
 * human-readable cause (empty on success) is written to it, truncated to message_size.
 * Returns TRESSE_OK or, checked in this order, TRESSE_MISSING_HEADER,
 * TRESSE_INVALID_TIMESTAMP, TRESSE_TIMESTAMP_TOO_OLD, TRESSE_TIMESTAMP_TOO_NEW,
 * TRESSE_NO_MATCHING_SIGNATURE (or TRESSE_INVALID_SECRET when no key can verify),
 * TRESSE_REPLAYED; TRESSE_INVALID_ARGUMENT for a NULL v or a NULL body with body_len > 0.
 * TRESSE_REPLAYED (only with a replay guard) means authentic and already accepted: a duplicate,
 * which delivery at least once sends now and then. Answer it 2xx without processing it again;
 * a 4xx would make the sender retry it and finally dead-letter it. */
int tresse_verifier_verify(const tresse_verifier* v, const char* id, const char* timestamp,
                           const char* signature, const void* body, size_t body_len, int64_t now,
                           char* message, size_t message_size);

/* Signs `body` with `secret` (whsec_..., plain base64 or whsk_...) and writes the
 * NUL-terminated signature entry ("v1,..." or "v1a,...") to out; TRESSE_SIGNATURE_MAX bytes
 * always suffice. Returns TRESSE_OK, TRESSE_INVALID_SECRET (also for a whpk_ public key),
 * TRESSE_BUFFER_TOO_SMALL, TRESSE_INVALID_ARGUMENT or TRESSE_OUT_OF_MEMORY. */
int tresse_sign(const char* secret, const char* id, int64_t timestamp, const void* body,
                size_t body_len, char* out, size_t out_size);

/* The stable name of a result code: "ok", "missing_header", "invalid_timestamp",
 * "timestamp_too_old", "timestamp_too_new", "no_matching_signature", "invalid_secret",
 * "replayed", "invalid_argument", "buffer_too_small", "out_of_memory"; "unknown" otherwise.
 * The string is static. */
const char* tresse_error_name(int code);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TRESSE_RECEIVER_H */
