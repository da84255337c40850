/*
 * The KMS flow through PKCS#11 and the "FerroHSM KMS" vendor interface:
 * a master key with an alias, encryption bound to a context (alice's
 * ciphertext does not open with bob's context), a data key, rotation that
 * keeps old ciphertexts readable, disable/enable, the audit check, and
 * scheduled deletion.
 *
 *   cc -Wall -I include -I /usr/include/p11-kit-1 examples/kms.c -ldl -o kms
 *   ./kms target/release/libferrohsm.so TOKEN-LABEL USER-PIN
 *
 * The token must be initialized with a user PIN (pkcs11-tool --init-token
 * and --init-pin, or the quickstart example). Exits 0 when every step
 * behaved as described.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>
#include "ferrohsm.h"

static int failures;

static void expect(const char *what, CK_RV got, CK_RV want) {
  printf("%-48s rv=0x%08lx %s\n", what, (unsigned long)got, got == want ? "ok" : "UNEXPECTED");
  if (got != want) failures++;
}

static CK_FHSM_CONTEXT_PAIR pair(const char *k, const char *v) {
  CK_FHSM_CONTEXT_PAIR p = {(CK_BYTE_PTR)k, strlen(k), (CK_BYTE_PTR)v, strlen(v)};
  return p;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODULE TOKEN-LABEL USER-PIN\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "%s\n", dlerror());
    return 2;
  }
  CK_C_GetFunctionList get_list = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
  CK_C_GetInterface get_iface = (CK_C_GetInterface)dlsym(lib, "C_GetInterface");
  CK_FUNCTION_LIST_PTR p11;
  if (!get_list || !get_iface || get_list(&p11) != CKR_OK) return 2;
  CK_INTERFACE_PTR iface;
  expect("C_GetInterface(\"FerroHSM KMS\")", get_iface((CK_UTF8CHAR_PTR)FHSM_KMS_INTERFACE_NAME, NULL, &iface, 0),
         CKR_OK);
  if (failures) return 1;
  CK_FHSM_KMS_FUNCTION_LIST_PTR kms = (CK_FHSM_KMS_FUNCTION_LIST_PTR)iface->pFunctionList;
  expect("C_Initialize", p11->C_Initialize(NULL), CKR_OK);

  /* The slot whose token carries the label. */
  CK_SLOT_ID slots[16];
  CK_ULONG nslots = 16;
  CK_SLOT_ID slot = (CK_SLOT_ID)-1;
  p11->C_GetSlotList(CK_TRUE, slots, &nslots);
  for (CK_ULONG i = 0; i < nslots; i++) {
    CK_TOKEN_INFO ti;
    char label[33];
    if (p11->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
    memcpy(label, ti.label, 32);
    label[32] = 0;
    for (int j = 31; j >= 0 && label[j] == ' '; j--) label[j] = 0;
    if (strcmp(label, argv[2]) == 0) slot = slots[i];
  }
  if (slot == (CK_SLOT_ID)-1) {
    fprintf(stderr, "no token labelled %s\n", argv[2]);
    return 2;
  }
  CK_SESSION_HANDLE s;
  expect("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s), CKR_OK);
  expect("C_Login(CKU_USER)", p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)argv[3], strlen(argv[3])), CKR_OK);

  /* A master key and an alias for it. */
  char label[] = "example master key";
  CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, label, sizeof label - 1}};
  CK_BYTE key_id[FHSM_KEY_ID_LEN];
  CK_ULONG key_id_len = sizeof key_id;
  expect("FHSM_CreateKey", kms->FHSM_CreateKey(s, tmpl, 1, key_id, &key_id_len), CKR_OK);
  printf("key id %.*s\n", (int)key_id_len, key_id);
  char alias[64];
  snprintf(alias, sizeof alias, "alias/example-%ld", (long)getpid());
  expect("FHSM_CreateAlias", kms->FHSM_CreateAlias(s, (CK_BYTE_PTR)alias, strlen(alias), key_id, key_id_len), CKR_OK);

  /* Encrypt as alice, with context {user: alice}. */
  const char *secret = "alice's medical record";
  CK_FHSM_CONTEXT_PAIR alice = pair("user", "alice"), bob = pair("user", "bob");
  CK_BYTE ct[512], pt[512];
  CK_ULONG ct_len = 0, pt_len = sizeof pt;
  expect("FHSM_Encrypt (length)", kms->FHSM_Encrypt(s, (CK_BYTE_PTR)alias, strlen(alias), &alice, 1, 0,
                                                     (CK_BYTE_PTR)secret, strlen(secret), NULL, &ct_len), CKR_OK);
  expect("FHSM_Encrypt {user: alice}", kms->FHSM_Encrypt(s, (CK_BYTE_PTR)alias, strlen(alias), &alice, 1, 0,
                                                          (CK_BYTE_PTR)secret, strlen(secret), ct, &ct_len), CKR_OK);
  expect("FHSM_Decrypt {user: bob} fails", kms->FHSM_Decrypt(s, &bob, 1, ct, ct_len, pt, &pt_len),
         CKR_ENCRYPTED_DATA_INVALID);
  pt_len = sizeof pt;
  expect("FHSM_Decrypt without context fails", kms->FHSM_Decrypt(s, NULL, 0, ct, ct_len, pt, &pt_len),
         CKR_ENCRYPTED_DATA_INVALID);
  pt_len = sizeof pt;
  expect("FHSM_Decrypt {user: alice}", kms->FHSM_Decrypt(s, &alice, 1, ct, ct_len, pt, &pt_len), CKR_OK);
  if (pt_len != strlen(secret) || memcmp(pt, secret, pt_len) != 0) failures++;
  printf("decrypted: %.*s\n", (int)pt_len, pt);

  /* A data key: plaintext for local use, the blob to store beside the data. */
  CK_FHSM_KEY_ID ids[] = {{key_id, key_id_len}};
  CK_BYTE dk[32], blob[256];
  CK_ULONG dk_len = sizeof dk, blob_len = sizeof blob;
  expect("FHSM_GenerateDataKey (32 bytes)",
         kms->FHSM_GenerateDataKey(s, ids, 1, 32, &alice, 1, 0, dk, &dk_len, blob, &blob_len), CKR_OK);
  pt_len = sizeof pt;
  expect("FHSM_Decrypt data key blob", kms->FHSM_Decrypt(s, &alice, 1, blob, blob_len, pt, &pt_len), CKR_OK);
  if (pt_len != 32 || memcmp(pt, dk, 32) != 0) failures++;

  /* One data key under two master keys: either recovers it. */
  CK_BYTE second_id[FHSM_KEY_ID_LEN];
  CK_ULONG second_len = sizeof second_id;
  expect("FHSM_CreateKey (second)", kms->FHSM_CreateKey(s, NULL, 0, second_id, &second_len), CKR_OK);
  CK_FHSM_KEY_ID both[] = {{key_id, key_id_len}, {second_id, second_len}};
  CK_BYTE blob2[512];
  CK_ULONG blob2_len = sizeof blob2;
  dk_len = sizeof dk;
  expect("FHSM_GenerateDataKey (two master keys)",
         kms->FHSM_GenerateDataKey(s, both, 2, 32, NULL, 0, 0, dk, &dk_len, blob2, &blob2_len), CKR_OK);
  expect("FHSM_DisableKey (first)", kms->FHSM_DisableKey(s, key_id, key_id_len), CKR_OK);
  pt_len = sizeof pt;
  expect("FHSM_Decrypt via the second key", kms->FHSM_Decrypt(s, NULL, 0, blob2, blob2_len, pt, &pt_len), CKR_OK);
  if (pt_len != 32 || memcmp(pt, dk, 32) != 0) failures++;
  expect("FHSM_EnableKey (first)", kms->FHSM_EnableKey(s, key_id, key_id_len), CKR_OK);

  /* ReEncrypt: to the second key and another context, inside the token. */
  CK_FHSM_CONTEXT_PAIR archive = pair("user", "archive");
  CK_BYTE moved[512];
  CK_ULONG moved_len = sizeof moved;
  expect("FHSM_ReEncrypt to the second key",
         kms->FHSM_ReEncrypt(s, ct, ct_len, &alice, 1, second_id, second_len, &archive, 1, 0, moved, &moved_len),
         CKR_OK);
  pt_len = sizeof pt;
  expect("FHSM_Decrypt {user: archive}", kms->FHSM_Decrypt(s, &archive, 1, moved, moved_len, pt, &pt_len), CKR_OK);

  /* Rotation: new version, old ciphertext still opens. */
  CK_ULONG version = 0;
  expect("FHSM_RotateKey", kms->FHSM_RotateKey(s, key_id, key_id_len, &version), CKR_OK);
  printf("now at version %lu\n", (unsigned long)version);
  pt_len = sizeof pt;
  expect("FHSM_Decrypt after rotation", kms->FHSM_Decrypt(s, &alice, 1, ct, ct_len, pt, &pt_len), CKR_OK);

  /* Disabled keys refuse every use. */
  expect("FHSM_DisableKey", kms->FHSM_DisableKey(s, key_id, key_id_len), CKR_OK);
  CK_BYTE other[128];
  CK_ULONG other_len = sizeof other;
  expect("FHSM_Encrypt on a disabled key", kms->FHSM_Encrypt(s, key_id, key_id_len, NULL, 0, 0, (CK_BYTE_PTR)"x", 1,
                                                              other, &other_len), CKR_FHSM_KEY_DISABLED);
  expect("FHSM_EnableKey", kms->FHSM_EnableKey(s, key_id, key_id_len), CKR_OK);

  char json[4096];
  CK_ULONG json_len = sizeof json - 1;
  expect("FHSM_DescribeKey", kms->FHSM_DescribeKey(s, (CK_BYTE_PTR)alias, strlen(alias), (CK_BYTE_PTR)json, &json_len),
         CKR_OK);
  json[json_len] = 0;
  printf("%s\n", json);

  CK_ULONG records = 0;
  expect("FHSM_AuditVerify", kms->FHSM_AuditVerify(s, &records), CKR_OK);
  printf("audit log intact, %lu records\n", (unsigned long)records);

  CK_ULONG when = 0;
  expect("FHSM_ScheduleKeyDeletion (7 days)", kms->FHSM_ScheduleKeyDeletion(s, key_id, key_id_len, 7, &when), CKR_OK);
  pt_len = sizeof pt;
  expect("FHSM_Decrypt while pending deletion", kms->FHSM_Decrypt(s, &alice, 1, ct, ct_len, pt, &pt_len),
         CKR_FHSM_KEY_PENDING_DELETION);

  p11->C_Logout(s);
  p11->C_CloseSession(s);
  /* KMS_EXAMPLE_EXIT_WITHOUT_FINALIZE shows that buffered audit records
   * still reach the store when a process exits without C_Finalize. */
  if (!getenv("KMS_EXAMPLE_EXIT_WITHOUT_FINALIZE")) p11->C_Finalize(NULL);
  printf("%s\n", failures ? "FAILED" : "all steps as expected");
  return failures ? 1 : 0;
}
