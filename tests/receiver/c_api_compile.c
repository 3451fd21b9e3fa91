/* Compiled as C99 with -pedantic -Werror: proves tresse/receiver.h is valid C. Called from
 * c_api_test.cpp so the C calling path is exercised too. */
#include <string.h>

#include "tresse/receiver.h"

int tresse_c_sign_and_verify(const char* secret, int64_t now) {
  const char* secrets[1];
  char signature[TRESSE_SIGNATURE_MAX];
  char message[128];
  const char body[] = "{\"hello\": \"c\"}";
  tresse_verifier* v;
  int rc;
  char timestamp[32];
  int n = 0;
  int64_t t = now;
  char digits[32];

  rc = tresse_sign(secret, "msg_c", now, body, strlen(body), signature, sizeof signature);
  if (rc != TRESSE_OK) return rc;
  do {
    digits[n++] = (char)('0' + t % 10);
    t /= 10;
  } while (t > 0 && n < 31);
  for (rc = 0; rc < n; ++rc) timestamp[rc] = digits[n - 1 - rc];
  timestamp[n] = '\0';

  secrets[0] = secret;
  v = tresse_verifier_new(secrets, 1, 0);
  if (v == NULL) return TRESSE_INVALID_SECRET;
  rc = tresse_verifier_verify(v, "msg_c", timestamp, signature, body, strlen(body), now, message,
                              sizeof message);
  tresse_verifier_free(v);
  return rc;
}
